"""Paper trading: simulated fills and account gates, chosen by the composition root."""

from adapters.paper.broker import PaperBroker, PaperConfig, PaperPosition, PaperTrade

__all__ = ["PaperBroker", "PaperConfig", "PaperPosition", "PaperTrade"]
