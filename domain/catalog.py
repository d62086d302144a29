"""What a product means at a store: pack and measure conversion to base units, per-store overrides.

Pure functions over the catalog contract (schemas/catalog.py); no Kafka, no FastAPI.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from schemas.catalog import Product, StoreProduct

QUANTUM = Decimal("0.001")  # quantities are exact to 3 decimal places
MAX_BASE = Decimal(10) ** 12  # 15 digits, 3 of them decimals
OVERRIDABLE = ("price", "reorder_point", "active")


class ConversionError(ValueError):
    """A quantity cannot be expressed in the product's base unit: ``field`` is "unit" or "quantity"."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def known_units(product: Product) -> list[str]:
    """Every unit a line of this product may name: base, packs, and the measures that convert."""
    measures = {"kg": ["g"], "g": ["kg"], "litre": ["ml"], "ml": ["litre"]}.get(product.unit, [])
    return [product.unit, *(p.unit for p in product.packs), *measures]


def normalize_unit(unit: str) -> str:
    """Terminals write "Carton", "KG ", "liter": compare units in one spelling."""
    u = unit.strip().lower()
    return {
        "l": "litre",
        "liter": "litre",
        "liters": "litre",
        "litres": "litre",
        "pcs": "piece",
        "pc": "piece",
        "pieces": "piece",
        "grams": "g",
        "gram": "g",
        "kgs": "kg",
    }.get(u, u)


def to_base(product: Product, quantity: Decimal, unit: str) -> Decimal:
    """``quantity`` of ``unit`` in the product's base unit, exact; ConversionError when impossible."""
    factor = product.factor(normalize_unit(unit))
    if factor is None:
        raise ConversionError("unit", f"unknown unit {unit!r} for sku {product.sku!r}: one of {', '.join(known_units(product))}")
    base = quantity * factor
    if base != base.quantize(QUANTUM):
        raise ConversionError(
            "quantity", f"{_plain(quantity)} {unit} is {_plain(base)} {product.unit}: more than 3 decimal places of {product.unit}"
        )
    if abs(base) >= MAX_BASE:
        raise ConversionError("quantity", f"{_plain(quantity)} {unit} is too large in {product.unit}")
    return base.quantize(QUANTUM).normalize()


def effective(product: Product, override: StoreProduct | None, store_id: str) -> dict[str, Any]:
    """The product as the store sees it (JSON-ready): overrides replace price, reorder point, active.
    ``overridden`` names the fields that came from the store."""
    out = product.model_dump(mode="json")
    overridden = []
    if override is not None:
        for name in OVERRIDABLE:
            value = getattr(override, name)
            if value is not None:
                out[name] = override.model_dump(mode="json")[name]
                overridden.append(name)
    out["store_id"] = store_id
    out["overridden"] = overridden
    return out


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
