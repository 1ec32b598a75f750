"""Paper trading: simulated fills and account gates, chosen by the composition root."""

from adapters.paper.broker import PaperBroker, PaperConfig, PaperPosition
from adapters.paper.trades import PaperTrade

__all__ = ["PaperBroker", "PaperConfig", "PaperPosition", "PaperTrade"]
