"""Time checks on rows before they reach the engine's clock: one bad row costs only itself.

A row's time is the later of its receipt (`ts`) and its bar's close. Moving an engine's
clock is not reversible: once a row dated 2030 is applied, every honest row after it is
late. Two rules keep such a row out, one per kind of clock:

- live (a wall clock exists): `too_far_ahead` — a row more than a tolerance ahead of the
  wall clock is rejected (`future_timestamp`);
- replay and the sample feed (time is simulated, there is no wall clock): `JumpGuard` —
  a row more than `jump_s` ahead of the newest admitted row is held until the next row
  of the stream says whether it was a genuine gap (an outage, a weekend: the next row
  is no more than `jump_s` before it) or a bad row (rejected, `time_jump`).
"""

from __future__ import annotations

from typing import Generic, NamedTuple, TypeVar

from engine.model import Bar1m

T = TypeVar("T")
_NEVER = float("-inf")


def row_time(bar: Bar1m) -> float:
    """The instant (epoch s) a row claims: the later of its receipt and its bar's close."""
    close = bar.open_time + 60.0
    received = bar.received
    return close if received is None or received < close else received


def too_far_ahead(bar: Bar1m, now: float, tolerance_s: float) -> bool:
    """Live: does the row claim an instant more than `tolerance_s` after `now` (epoch s)?"""
    return row_time(bar) > now + tolerance_s


class Verdict(NamedTuple, Generic[T]):
    """What one `JumpGuard.offer` decided: rows to apply now, in order, and the held row
    it rejected (if any)."""

    admitted: tuple[T, ...] = ()
    rejected: T | None = None


class JumpGuard(Generic[T]):
    """Holds a row that jumps more than `jump_s` ahead until the next row confirms it.

    The rule, row by row (times in epoch s, newest = the newest admitted row's time):
    - nothing held: a row more than `jump_s` after the newest is held (the very first
      row too: there is no newest yet); any other row is admitted;
    - a row held at h: the next row confirms it when it is no more than `jump_s` before
      h — both are admitted, in order, exactly as if nothing had been held — otherwise
      the held row is rejected and the next row is judged afresh;
    - end of input (`end`): a held row is rejected when rows were admitted before it (they
      contradict it and nothing confirms it); alone, nothing contradicts it: admitted.
    Two bad rows in a row confirm each other: the guard stops one bad row, not a run.
    """

    def __init__(self, jump_s: float) -> None:
        if not jump_s > 0:
            raise ValueError("jump_s must be > 0")
        self._jump_s = jump_s
        self._newest = _NEVER
        self._held: T | None = None
        self._held_at = _NEVER

    @property
    def holding(self) -> bool:
        return self._held is not None

    def offer(self, item: T, at: float) -> Verdict[T]:
        """Judge the next row, `item`, whose time is `at` (epoch s)."""
        held, rejected = self._held, None
        admitted: tuple[T, ...] = ()
        if held is not None:
            self._held = None
            if at >= self._held_at - self._jump_s:  # confirmed: a genuine gap
                admitted = (held,)
                self._newest = max(self._newest, self._held_at)
            else:
                rejected = held
        if at > self._newest + self._jump_s:
            self._held, self._held_at = item, at
            return Verdict(admitted, rejected)
        self._newest = max(self._newest, at)
        return Verdict((*admitted, item), rejected)

    def end(self) -> Verdict[T]:
        """End of input: the verdict on a row still held."""
        held, self._held = self._held, None
        if held is None:
            return Verdict()
        if self._newest == _NEVER:
            self._newest = self._held_at
            return Verdict((held,))
        return Verdict((), held)
