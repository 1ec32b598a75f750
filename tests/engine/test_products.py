"""The CME product table: one row per root the worker knows (the paper broker values
ticks with it; the ProjectX adapter maps the same roots to its symbol ids)."""

from __future__ import annotations

import pytest

from engine.products import PRODUCTS, Product, product_table


def test_the_common_cme_roots_with_their_tick_size_and_value() -> None:
    ticks = {root: (p.tick_size, p.tick_value) for root, p in PRODUCTS.items()}
    assert ticks == {
        "MES": (0.25, 1.25),
        "ES": (0.25, 12.5),
        "MNQ": (0.25, 0.5),
        "NQ": (0.25, 5.0),
        "M2K": (0.1, 0.5),
        "RTY": (0.1, 5.0),
        "MYM": (1.0, 0.5),
        "YM": (1.0, 5.0),
        "MGC": (0.1, 1.0),
        "GC": (0.1, 10.0),
        "MCL": (0.01, 1.0),
        "CL": (0.01, 10.0),
    }
    assert all(root == p.root and p.fee_per_side > 0 for root, p in PRODUCTS.items())


def test_overrides_replace_or_extend_the_table() -> None:
    table = product_table(
        {"ES": Product("ES", 0.25, 12.5, 2.0), "ZN": Product("ZN", 1 / 64, 15.625, 1.0)}
    )
    assert table["ES"].fee_per_side == 2.0 and table["ZN"].tick_value == 15.625
    assert table["MES"] == PRODUCTS["MES"]
    assert PRODUCTS["ES"].fee_per_side == 1.40  # the built-in table is not changed


@pytest.mark.parametrize(
    ("tick_size", "tick_value", "fee"),
    [(0.0, 1.0, 0.0), (0.25, float("inf"), 0.0), (0.25, 1.25, -0.01), (float("nan"), 1.0, 0.0)],
)
def test_a_product_refuses_bad_numbers(tick_size: float, tick_value: float, fee: float) -> None:
    with pytest.raises(ValueError, match="XX"):
        Product("XX", tick_size, tick_value, fee)
