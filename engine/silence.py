"""Which configured symbols have gone quiet while the others still send (live).

A symbol whose alert stopped (a deleted TradingView alert, a renamed ticker) looks, from
the feed, just like a quiet market; another symbol that still sends tells the two apart.
Pure: the caller says when rows arrive and whether the market is in session.
"""

from __future__ import annotations

from dataclasses import dataclass

_NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class SilenceChange:
    """A symbol went silent (`silent` True) or sent a row again (False), after
    `silent_s` seconds without a row (counted from when watching began, or the session
    opened, if later)."""

    symbol: str
    silent: bool
    silent_s: float


class SymbolSilence:
    """Silence of each symbol: `after_s` seconds without a row, inside the session, while
    another symbol had a row within the last `after_s`. Reported once per silence; the
    symbol's next row reports its recovery. Times are epoch seconds."""

    __slots__ = ("_after_s", "_last", "_silent", "_since")

    def __init__(self, symbols: tuple[str, ...], after_s: float = 600.0) -> None:
        self._after_s = after_s
        self._last = dict.fromkeys(symbols, _NEVER)  # newest row per symbol
        self._silent: set[str] = set()
        self._since: float | None = None  # watching in session since; None: out of session

    def row(self, symbol: str, now: float) -> SilenceChange | None:
        """A row of `symbol` arrived at `now`; its recovery, if it was silent."""
        last = self._last.get(symbol)
        if last is None:
            return None
        self._last[symbol] = max(last, now)
        if symbol not in self._silent:
            return None
        self._silent.discard(symbol)
        return SilenceChange(symbol, False, now - max(last, self._since or _NEVER))

    def check(self, now: float, in_session: bool) -> list[SilenceChange]:
        """The symbols that went silent by `now`. Out of session silence is normal, and
        the count restarts when the session opens again."""
        if not in_session:
            self._since = None
            return []
        if self._since is None:
            self._since = now
        changes = []
        for symbol, last in self._last.items():
            quiet = now - max(last, self._since)
            if symbol in self._silent or quiet < self._after_s:
                continue
            if any(now - t < self._after_s for s, t in self._last.items() if s != symbol):
                self._silent.add(symbol)
                changes.append(SilenceChange(symbol, True, quiet))
        return changes
