"""ISO rendering of engine instants, and its inverse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.timefmt import iso, parse_iso

# From 1970 to 2200: whole minutes mostly (bar and decision instants), any second too.
INSTANTS = st.one_of(
    st.integers(0, 7_000_000_000).map(lambda t: t - t % 60),
    st.integers(0, 7_000_000_000),
)


@given(INSTANTS)
def test_whole_seconds_render_without_a_fraction_and_parse_back(t: int) -> None:
    assert iso(t) == datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_iso(iso(t)) == t


def test_fractions_render_as_milliseconds() -> None:
    assert iso(1_750_084_262.123456) == "2025-06-16T14:31:02.123Z"
    assert iso(0) == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize("text", ["2025-06-16T14:31:02", "not a time", ""])
def test_parse_iso_refuses_naive_or_bad_text(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- any ValueError: naive or unparsable
        parse_iso(text)
