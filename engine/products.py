"""CME futures products: what one tick is worth. Pure data.

A product's tick size and tick value are facts of the exchange's contract specs (CME
Group product pages, checked while writing this table). The fee per side is TopstepX's
commission plus exchange fees per contract per fill as its fee schedule lists them
(round trip / 2, late 2025): a default, overridable by the CONTRACT_SPECS setting,
since fees differ by broker and change.

The paper broker values a round trip with the product of its symbol; the ProjectX
adapter maps the same roots to its symbol ids (adapters/projectx/contracts.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Product:
    root: str  # TradingView root, e.g. MES
    tick_size: float  # points per tick
    tick_value: float  # USD per tick per contract
    fee_per_side: float  # USD per contract per fill (entry and exit each pay it)

    def __post_init__(self) -> None:
        if not (0 < self.tick_size < math.inf and 0 < self.tick_value < math.inf):
            raise ValueError(f"{self.root}: tick size and tick value must be positive and finite")
        if not 0 <= self.fee_per_side < math.inf:
            raise ValueError(f"{self.root}: fee per side must be >= 0 and finite")


PRODUCTS: dict[str, Product] = {
    p.root: p
    for p in (
        Product("MES", 0.25, 1.25, 0.37),  # Micro E-mini S&P 500
        Product("ES", 0.25, 12.50, 1.40),  # E-mini S&P 500
        Product("MNQ", 0.25, 0.50, 0.37),  # Micro E-mini Nasdaq-100
        Product("NQ", 0.25, 5.00, 1.40),  # E-mini Nasdaq-100
        Product("M2K", 0.10, 0.50, 0.37),  # Micro E-mini Russell 2000
        Product("RTY", 0.10, 5.00, 1.40),  # E-mini Russell 2000
        Product("MYM", 1.00, 0.50, 0.37),  # Micro E-mini Dow ($0.50)
        Product("YM", 1.00, 5.00, 1.40),  # E-mini Dow ($5)
        Product("MGC", 0.10, 1.00, 0.52),  # Micro Gold (10 troy oz)
        Product("GC", 0.10, 10.00, 1.62),  # Gold (100 troy oz)
        Product("MCL", 0.01, 1.00, 0.52),  # Micro WTI Crude Oil (100 barrels)
        Product("CL", 0.01, 10.00, 1.52),  # WTI Crude Oil (1,000 barrels)
    )
}


def product_table(overrides: dict[str, Product] | None = None) -> dict[str, Product]:
    """The built-in table with `overrides` (by root) over it."""
    return {**PRODUCTS, **(overrides or {})}
