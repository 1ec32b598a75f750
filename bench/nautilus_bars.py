"""NautilusTrader reference: 5/15/30m bars built from 1m bars, EMA21 on each.

Runs in its own virtualenv (`.venv-bench`, `pip install nautilus_trader`), not the
project's: `replay_throughput.py` starts it as a subprocess and reads the one JSON line
it prints. Input: the bench's `tv_datafeed` CSV. Only `BacktestEngine.run()` is timed:
building Nautilus `Bar` objects from the CSV is left out, in Nautilus's favour.

    .venv-bench/bin/python bench/nautilus_bars.py PATH.csv
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

INSTRUMENT = "MES.XCME"
MINUTE = f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL"
TIMEFRAMES = (5, 15, 30)


class EmaBarsConfig(StrategyConfig, frozen=True):
    bar_types: tuple[str, ...]
    period: int = 21


class EmaBars(Strategy):
    """Subscribes to internally aggregated bars and keeps an EMA per bar type."""

    def __init__(self, config: EmaBarsConfig) -> None:
        super().__init__(config)
        self.bar_types = [BarType.from_str(text) for text in config.bar_types]
        # Emitted bars carry the standard bar type (without "@1-MINUTE-EXTERNAL").
        self.emas = {
            bar_type.standard(): ExponentialMovingAverage(config.period)
            for bar_type in self.bar_types
        }
        self.closed = 0

    def on_start(self) -> None:
        for bar_type in self.bar_types:
            self.register_indicator_for_bars(bar_type, self.emas[bar_type.standard()])
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        self.closed += 1
        self.emas[bar.bar_type].value  # noqa: B018 -- read it, as a strategy would


def load_minutes(path: Path) -> pd.DataFrame:
    """The CSV's rows as a frame indexed by bar close (= ts - 2 s, Nautilus's ts_event)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    index = pd.to_datetime([row["ts"] for row in rows], utc=True) - pd.Timedelta(seconds=2)
    frame = pd.DataFrame(
        {name: [float(row[key]) for row in rows] for name, key in
         (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("volume", "v"))},
        index=index,
    )  # fmt: skip
    frame.index.name = "timestamp"
    return frame


def main(path: Path) -> None:
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BENCH-001"),
            logging=LoggingConfig(log_level="ERROR", bypass_logging=True),
        )
    )
    venue = Venue("XCME")
    engine.add_venue(
        venue=venue, oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
        base_currency=USD, starting_balances=[Money(1_000_000, USD)],
        bar_execution=False,  # no orders here: spare the simulated exchange the bars
    )  # fmt: skip
    instrument = TestInstrumentProvider.equity("MES", "XCME")
    engine.add_instrument(instrument)
    minutes = BarDataWrangler(BarType.from_str(MINUTE), instrument).process(load_minutes(path))
    engine.add_data(minutes)
    bar_types = tuple(
        f"{INSTRUMENT}-{tf}-MINUTE-LAST-INTERNAL@1-MINUTE-EXTERNAL" for tf in TIMEFRAMES
    )
    strategy = EmaBars(EmaBarsConfig(bar_types=bar_types))
    engine.add_strategy(strategy)
    started = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "minutes": len(minutes), "closed": strategy.closed, "seconds": elapsed,
        "bars_per_s": len(minutes) / elapsed,
        "ema_updates": sum(ema.count for ema in strategy.emas.values()),
    }))  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
