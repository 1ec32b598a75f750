"""Paper trading: a deterministic in-memory broker driven by the pipeline's 1m bars.

One object plays both roles of the decision stage: `context` (ContextProvider) and
`submit` (Executor). The pipeline calls `on_minute` for
every accepted 1m bar, in stream order. There is no wall clock: the broker's time is the
end of the latest minute it was given. Same inputs, same trades, same summary.

Fill model (our choices, stated):
- A market entry decided at T fills, without slippage, at the open of the first minute
  with `open_time >= T`; it is pending until then. If that minute was given to
  `on_minute` before the decision (a bucket closed by the next bucket's first minute),
  the entry fills at its open on submit, as it would have live.
- The fill starts an OCO bracket, stop `stop_ticks` and target `target_ticks` away,
  checked against the high/low of the fill minute (everything after its open) and of
  every later minute. When one minute touches both, the stop is assumed: the order
  inside a minute is unknown, so we take the worse. Exits fill exactly at the stop or
  target price: no slippage, and a gap through a level is not modelled.
- One position per account and symbol: an entry while one is pending or open is refused
  and counted; a repeated tag (the idempotency key) is ignored and counted.
- Positions still open at the end stay open: reported by `summary`, never force-closed.
- Ticks are valued by the symbol's product (tick size, tick value, fee per side:
  engine/products.py, overridable by CONTRACT_SPECS); a symbol without one is refused.
- Every fill pays the product's fee per side per contract and feeds `engine.risk.day_metrics` for
  the trading day that starts at 17:00 `market_tz`, so the account gates (daily loss,
  profit target, loss streak) close exactly as they would live. A paper account can
  always trade. A position's exit time is the open time of the minute that touched it.

With `log_trades` (the live worker), every fill logs `paper_fill` and every exit
`paper_exit`; a replay leaves it off. With `trades_file` (a replay's --out, a live run's
OUT_DIR), each exit appends its trades.jsonl line: the file's one writer, and a report
of a running or killed run shows every trade closed so far.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters import events
from adapters.files.jsonl import jsonl_line
from adapters.paper.trades import PaperTrade, money, stats, trade_record
from engine.calendar import trading_day_start
from engine.execution import PlaceEntry
from engine.model import Bar1m, MarketState, PositionContext, Side
from engine.products import Product, product_table
from engine.risk import DayMetrics, Fill, RiskLimits, context_from, day_metrics

STOP, TARGET = "stop", "target"
_EPS = 1e-9  # points: a level is touched when the bar reaches it within this tolerance
_MINUTE = 60


@dataclass(frozen=True, slots=True)
class PaperConfig:
    stop_ticks: int = 40  # ticks from the entry price to the stop
    target_ticks: int = 80  # ticks from the entry price to the target
    # Tick size, tick value and fee per side of each symbol's product (engine/products.py)
    products: Mapping[str, Product] = field(default_factory=product_table)
    limits: RiskLimits = field(default_factory=RiskLimits)
    market_tz: str = "America/Chicago"  # where the trading day starts at 17:00

    def __post_init__(self) -> None:
        if self.stop_ticks < 1 or self.target_ticks < 1:
            raise ValueError("stop_ticks and target_ticks must be >= 1")
        ZoneInfo(self.market_tz)  # raises for an unknown zone

    def product(self, symbol: str) -> Product:
        """The product a symbol's trades are valued with; ValueError when it has none."""
        product = self.products.get(symbol.upper())
        if product is None:
            raise ValueError(f"no tick size and tick value for {symbol}")
        return product


@dataclass(frozen=True, slots=True)
class PaperPosition:
    """An open position with its bracket. Times epoch s UTC, prices in points."""

    account: str
    symbol: str
    contract: str
    side: Side  # BUY: long (bought), SELL: short (sold)
    size: int
    tag: str
    order_id: int
    entry_time: int  # open time of the fill minute
    entry_price: float
    stop: float
    target: float


class PaperBroker:
    """Simulated execution and account context; see the module docstring for the model."""

    def __init__(
        self,
        config: PaperConfig | None = None,
        log_trades: bool = False,
        trades_file: Path | None = None,
    ) -> None:
        self.config = config or PaperConfig()
        self.log_trades = log_trades  # paper_fill / paper_exit lines (live); a replay has files
        # trades.jsonl, a line appended at each exit (emptied here)
        self.trades_file = trades_file
        if trades_file is not None:
            trades_file.parent.mkdir(parents=True, exist_ok=True)
            trades_file.write_bytes(b"")
        self.counts: Counter[str] = Counter()  # submitted, filled, duplicate, refused_busy
        self._tz = ZoneInfo(self.config.market_tz)
        self._pending: dict[str, dict[str, tuple[PlaceEntry, int]]] = {}  # symbol, account
        self._open: dict[str, dict[str, PaperPosition]] = {}  # symbol -> account -> position
        self._last_bar: dict[str, Bar1m] = {}  # symbol -> latest minute given
        self._fills: dict[tuple[str, float], list[Fill]] = {}  # (account, day start) -> fills
        self._trades: list[PaperTrade] = []
        self._tags: set[tuple[str, str]] = set()
        self._clock: float | None = None  # end of the latest minute given, epoch s UTC
        self._orders = 0
        self._fill_ids = 0

    # -- ports -------------------------------------------------------------------------

    async def context(self, account: str, symbol: str) -> PositionContext:
        """Position and gate of `account` now (the end of the latest minute given)."""
        busy = self._busy(account, symbol)
        return context_from(account, busy, self.metrics(account), self.config.limits, True)

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        self.place(entry)

    def place(self, entry: PlaceEntry) -> None:
        """Accept a market entry (the synchronous body of `submit`)."""
        if entry.side not in (Side.BUY, Side.SELL) or entry.size < 1:
            raise ValueError(f"invalid entry: side {entry.side}, size {entry.size}")
        self.config.product(entry.symbol)  # a symbol without a product is refused here
        key = (entry.account, entry.tag)
        if key in self._tags:
            self.counts["duplicate"] += 1
            return
        if self._busy(entry.account, entry.symbol):
            self.counts["refused_busy"] += 1
            return
        self._tags.add(key)
        self.counts["submitted"] += 1
        self._orders += 1
        last = self._last_bar.get(entry.symbol)
        if last is not None and last.open_time >= entry.at:
            self._check_exit(self._fill(entry, self._orders, last), last)
        else:
            self._pending.setdefault(entry.symbol, {})[entry.account] = (entry, self._orders)

    def on_minute(self, bar: Bar1m) -> None:
        """One accepted 1m bar: fill pending entries, then check every bracket on it."""
        end = bar.open_time + _MINUTE
        if self._clock is None or end > self._clock:
            self._clock = end
        last = self._last_bar.get(bar.symbol)
        if last is None or bar.open_time > last.open_time:
            self._last_bar[bar.symbol] = bar
        pending = self._pending.get(bar.symbol)
        if pending:
            for account, (entry, order_id) in list(pending.items()):
                if entry.at <= bar.open_time:
                    del pending[account]
                    self._fill(entry, order_id, bar)
        book = self._open.get(bar.symbol)
        if book:
            for position in list(book.values()):
                self._check_exit(position, bar)

    # -- results -----------------------------------------------------------------------

    @property
    def trades(self) -> tuple[PaperTrade, ...]:
        """Closed round trips, in the order they closed."""
        return tuple(self._trades)

    def positions(self) -> tuple[PaperPosition, ...]:
        return tuple(p for book in self._open.values() for p in book.values())

    def pending(self) -> tuple[PlaceEntry, ...]:
        return tuple(e for book in self._pending.values() for e, _ in book.values())

    def fills(self, account: str) -> tuple[Fill, ...]:
        """Every fill of `account`, all days, in the order they happened."""
        days = [f for (acct, _), fs in self._fills.items() if acct == account for f in fs]
        return tuple(sorted(days, key=lambda f: f.id))

    def metrics(self, account: str) -> DayMetrics:
        """`account`'s current trading day (none before the first minute)."""
        if self._clock is None:
            return DayMetrics()
        start = self._day_start(self._clock)
        return day_metrics(self._fills.get((account, start), ()), start)

    def summary(self) -> dict[str, object]:
        """Totals (USD), counts, max drawdown of the closed trades; open and pending left.

        `max_drawdown` is the largest fall of cumulative net P&L from its running peak
        (starting at 0), over trades in closing order, as a positive USD amount. Fees of
        entries still open are not in the totals (they are in `metrics`)."""
        accounts = sorted({t.account for t in self._trades})
        return {
            **stats(self._trades),
            "entries": self.counts["submitted"],
            "duplicates": self.counts["duplicate"],
            "refused_busy": self.counts["refused_busy"],
            "open_positions": [asdict(p) for p in self.positions()],
            "pending_entries": [e.fields() for e in self.pending()],
            "accounts": {a: stats([t for t in self._trades if t.account == a]) for a in accounts},
        }

    def totals(self) -> dict[str, object]:
        """The P&L summary on one log line (`worker_stopped`): closed trades' totals and
        how many positions and entries are still open or pending."""
        return {
            **stats(self._trades),
            "open_positions": len(self.positions()),
            "pending_entries": len(self.pending()),
        }

    # -- internals ---------------------------------------------------------------------

    def _busy(self, account: str, symbol: str) -> bool:
        return account in self._pending.get(symbol, {}) or account in self._open.get(symbol, {})

    def _day_start(self, t: float) -> float:
        return trading_day_start(t, self._tz)

    def _fill(self, entry: PlaceEntry, order_id: int, bar: Bar1m) -> PaperPosition:
        cfg = self.config
        tick = cfg.product(entry.symbol).tick_size
        away = 1 if entry.side == Side.BUY else -1
        price = bar.open
        position = PaperPosition(
            entry.account,
            entry.symbol,
            entry.contract,
            entry.side,
            entry.size,
            entry.tag,
            order_id,
            bar.open_time,
            price,
            stop=price - away * cfg.stop_ticks * tick,
            target=price + away * cfg.target_ticks * tick,
        )
        self._open.setdefault(entry.symbol, {})[entry.account] = position
        self._record(position, bar.open_time, price, None, entry.side)
        self.counts["filled"] += 1
        if self.log_trades:
            events.paper_fill(
                entry, price=price, at=bar.open_time, stop=position.stop, target=position.target
            )
        return position

    def _check_exit(self, position: PaperPosition, bar: Bar1m) -> None:
        if bar.open_time < position.entry_time:  # a minute from before the fill
            return
        exit_ = _touched(position, bar)
        if exit_ is None:
            return
        reason, price = exit_
        cfg = self.config
        del self._open[position.symbol][position.account]
        product = cfg.product(position.symbol)
        ticks = -cfg.stop_ticks if reason == STOP else cfg.target_ticks
        gross = money(ticks * product.tick_value * position.size)
        fees = money(2 * product.fee_per_side * position.size)
        self._record(position, bar.open_time, price, gross, _other(position.side))
        trade = PaperTrade(
            position.account,
            position.symbol,
            position.side,
            position.size,
            position.entry_time,
            position.entry_price,
            bar.open_time,
            price,
            reason,
            ticks,
            gross,
            fees,
            money(gross - fees),
            position.tag,
        )
        self._trades.append(trade)
        if self.trades_file is not None:
            with self.trades_file.open("ab") as handle:
                handle.write(jsonl_line(trade_record(trade)))
        if self.log_trades:
            day_net = self.metrics(position.account).net_pnl
            events.paper_exit(trade_record(trade), day_net=money(day_net))

    def _record(
        self, position: PaperPosition, at: int, price: float, pnl: float | None, side: Side
    ) -> None:
        self._fill_ids += 1
        fees = money(self.config.product(position.symbol).fee_per_side * position.size)
        fill = Fill(
            self._fill_ids,
            position.account,
            position.contract,
            float(at),
            price,
            pnl,
            fees,
            side,
            position.size,
            False,
            position.order_id,
        )
        key = (position.account, self._day_start(float(at)))
        self._fills.setdefault(key, []).append(fill)


def _touched(position: PaperPosition, bar: Bar1m) -> tuple[str, float] | None:
    """The level `bar` reached, the stop first when it reached both (conservative)."""
    if position.side == Side.BUY:
        stop_hit = bar.low <= position.stop + _EPS
        target_hit = bar.high >= position.target - _EPS
    else:
        stop_hit = bar.high >= position.stop - _EPS
        target_hit = bar.low <= position.target + _EPS
    if stop_hit:
        return STOP, position.stop
    if target_hit:
        return TARGET, position.target
    return None


def _other(side: Side) -> Side:
    """The side of the fill that closes a position opened on `side`."""
    return Side.SELL if side == Side.BUY else Side.BUY
