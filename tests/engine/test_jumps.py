"""The time checks that keep one bad row from moving the engine's clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.jumps import JumpGuard, row_time, too_far_ahead
from engine.model import Bar1m

J = 300.0
T0 = 1_750_082_400.0  # 2025-06-16 14:00 UTC
Y2030 = 1_893_456_030.0  # 2030-01-01T00:00:30Z


def run(times: list[float], jump_s: float = J) -> tuple[list[int], list[int]]:
    """Offer rows 0..n-1 at `times`; (admitted indices in order, rejected indices)."""
    guard: JumpGuard[int] = JumpGuard(jump_s)
    admitted: list[int] = []
    rejected: list[int] = []
    for i, at in enumerate(times):
        verdict = guard.offer(i, at)
        admitted.extend(verdict.admitted)
        if verdict.rejected is not None:
            rejected.append(verdict.rejected)
    end = guard.end()
    admitted.extend(end.admitted)
    if end.rejected is not None:
        rejected.append(end.rejected)
    return admitted, rejected


def minutes(n: int, start: float = T0) -> list[float]:
    return [start + 60.0 * i + 3.0 for i in range(n)]


def test_rows_a_minute_apart_pass_straight_through() -> None:
    guard: JumpGuard[int] = JumpGuard(J)
    first = guard.offer(0, T0)
    assert first.admitted == () and guard.holding  # the first row waits for a neighbour
    second = guard.offer(1, T0 + 60)
    assert second.admitted == (0, 1) and not guard.holding
    assert guard.offer(2, T0 + 120).admitted == (2,)  # no hold: nothing to wait for


def test_a_2030_row_is_rejected_and_the_next_row_goes_on() -> None:
    times = minutes(10)
    times.insert(5, Y2030)
    admitted, rejected = run(times)
    assert rejected == [5]
    assert admitted == [i for i in range(11) if i != 5]


def test_a_genuine_outage_rejects_nothing() -> None:
    times = minutes(10) + minutes(10, start=T0 + 10 * 86_400)  # ten days without rows
    assert run(times) == (list(range(20)), [])


def test_the_jump_limit_is_inclusive() -> None:
    assert run([T0, T0 + J, T0 + 2 * J]) == ([0, 1, 2], [])
    guard: JumpGuard[int] = JumpGuard(J)
    guard.offer(0, T0)
    guard.offer(1, T0 + 1)
    assert guard.offer(2, T0 + 1 + J + 0.5).admitted == () and guard.holding


def test_a_held_row_is_confirmed_by_a_row_at_most_the_limit_before_it() -> None:
    assert run([T0, T0 + 1, T0 + 3600, T0 + 3600 - J]) == ([0, 1, 2, 3], [])
    assert run([T0, T0 + 1, T0 + 3600, T0 + 3599 - J, T0 + 3659 - J]) == ([0, 1, 3, 4], [2])


def test_a_bad_first_row_is_rejected() -> None:
    assert run([Y2030, *minutes(3)]) == ([1, 2, 3], [0])


def test_at_the_end_a_held_row_is_rejected_unless_it_is_alone() -> None:
    assert run([*minutes(3), Y2030]) == ([0, 1, 2], [3])
    assert run([Y2030]) == ([0], [])
    assert run([]) == ([], [])


def test_two_bad_rows_in_a_row_confirm_each_other() -> None:
    # The guard stops one row, not a run of them: stated in its docstring and the README.
    assert run([*minutes(3), Y2030, Y2030 + 60, T0 + 240]) == ([0, 1, 2, 3, 4, 5], [])


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="jump_s"):
        JumpGuard(0.0)


def test_row_time_is_the_later_of_receipt_and_bar_close() -> None:
    bar = Bar1m("MES", int(T0), 1.0, 1.0, 1.0, 1.0, 1.0)
    assert row_time(bar) == T0 + 60
    assert row_time(bar._replace(received=T0 + 64.5)) == T0 + 64.5
    assert row_time(bar._replace(received=T0 + 10)) == T0 + 60  # bar_time later than ts
    assert too_far_ahead(bar._replace(received=T0 + 200), now=T0, tolerance_s=120)
    assert not too_far_ahead(bar._replace(received=T0 + 120), now=T0, tolerance_s=120)


# -- properties ----------------------------------------------------------------------------

steps = st.lists(st.floats(0.0, J), min_size=1, max_size=60)
gaps = st.lists(st.one_of(st.floats(0.0, J), st.floats(J, 30 * 86_400.0)), min_size=1, max_size=60)


def _cumulative(deltas: list[float]) -> list[float]:
    out, t = [], T0
    for d in deltas:
        t += d
        out.append(t)
    return out


@given(gaps)
def test_every_row_is_admitted_or_rejected_once_in_order(deltas: list[float]) -> None:
    admitted, rejected = run(_cumulative(deltas))
    assert admitted == sorted(admitted)
    assert sorted(admitted + rejected) == list(range(len(deltas)))


@given(gaps, st.floats(0.0, J))
def test_rows_in_time_order_lose_nothing_when_the_last_step_is_small(
    deltas: list[float], last: float
) -> None:
    times = _cumulative([*deltas, last])
    assert run(times) == (list(range(len(times))), [])


@given(steps, st.data())
def test_one_far_future_row_anywhere_costs_only_itself(
    deltas: list[float], data: st.DataObject
) -> None:
    times = _cumulative(deltas)
    where = data.draw(st.integers(0, len(times)))
    bad_at = max(times) + J + data.draw(st.floats(J + 1.0, 1e9))
    admitted, rejected = run([*times[:where], bad_at, *times[where:]])
    assert rejected == [where]
    assert admitted == [i for i in range(len(times) + 1) if i != where]
