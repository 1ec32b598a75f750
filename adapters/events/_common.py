"""What every area of the events package shares: how an optional field is left out."""

from __future__ import annotations


def known(**fields: object) -> dict[str, object]:
    """The optional fields that apply: one given as None is left out of the line (a
    field that is always there, even when null, is passed as a plain keyword)."""
    return {name: value for name, value in fields.items() if value is not None}
