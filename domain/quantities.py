"""Exact quantities and money as integers: milli-units (0.125 kg = 125) and paisa (1.50 = 150)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

MILLI = 1000
CENTS = 100


@lru_cache(maxsize=65_536)  # line quantities repeat (1, 2, 0.5 kg); equal decimals (1.5, 1.50) are one key
def to_milli(quantity: Decimal) -> int:
    scaled = quantity * MILLI
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{quantity} has more than 3 decimal places")
    return int(scaled)


def to_cents(money: Decimal) -> int:
    scaled = money * CENTS
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{money} has more than 2 decimal places")
    return int(scaled)


def _plain(value: int, scale: int) -> str:
    d = (Decimal(value) / scale).normalize()
    return format(d, "f") if value else "0"


def milli_str(value: int) -> str:
    """Milli-units back to a plain decimal string: 125 -> "0.125", 5000 -> "5", -2500 -> "-2.5"."""
    return _plain(value, MILLI)


def cents_str(value: int) -> str:
    """Paisa to a money string with two places: 150 -> "1.50"."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), CENTS)
    return f"{sign}{whole}.{frac:02d}"
