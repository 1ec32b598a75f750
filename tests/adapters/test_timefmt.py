"""ISO rendering of engine instants: the cached minute path gives `iso`'s exact text."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.files.timefmt import iso, iso_minute, parse_iso

# From before 1970 to 2200, whole minutes mostly (bar and decision instants), any second too.
INSTANTS = st.one_of(
    st.integers(-100_000_000, 7_000_000_000).map(lambda t: t - t % 60),
    st.integers(-100_000_000, 7_000_000_000),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(INSTANTS, min_size=1, max_size=50))
def test_iso_minute_is_iso_whatever_the_cache_holds(instants: list[int]) -> None:
    for t in instants + instants[::-1]:  # a second time: from the cache
        assert iso_minute(t) == iso(t)


def test_slots_shared_by_minutes_1024_apart_never_mix() -> None:
    base = 1_750_000_020 - 1_750_000_020 % 60
    for t in (base, base + 1024 * 60, base, base - 1024 * 60, base):
        assert (
            iso_minute(t) == iso(t) == datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        assert parse_iso(iso_minute(t)) == t


def test_the_minute_before_the_epoch_is_not_an_empty_slot() -> None:
    assert iso_minute(-60) == "1969-12-31T23:59:00Z"
    assert iso_minute(0) == "1970-01-01T00:00:00Z"
