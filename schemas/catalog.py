"""The catalog contract: stores, products (with pack conversions) and per-store overrides.

Each is kept on a compacted topic keyed by its id (store_id, sku, "store_id|sku"), so every worker
and API instance rebuilds the same catalog after a restart. A tombstone is never used: products
and stores are deactivated, not deleted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.types import Money, PositiveQuantity, Quantity, Sku, StoreId

BaseUnit = Literal["piece", "kg", "g", "litre", "ml"]
# Fixed conversions between measure units; packs (carton, dozen, ...) are declared per product.
MEASURE_FACTORS: dict[tuple[str, str], Decimal] = {
    ("g", "kg"): Decimal("0.001"),
    ("kg", "g"): Decimal("1000"),
    ("ml", "litre"): Decimal("0.001"),
    ("litre", "ml"): Decimal("1000"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Store(_Model):
    store_id: StoreId
    name: str = Field(min_length=1, max_length=120)
    timezone: str = Field(default="Asia/Karachi", description="IANA zone: a store's day is its local day")
    currency: str = Field(default="PKR", pattern=r"^[A-Z]{3}$")
    locale: str = Field(default="en-PK", max_length=16)
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class Pack(_Model):
    """A named pack of the base unit: {"unit": "carton", "size": "12"} means 1 carton = 12 pieces."""

    unit: str = Field(min_length=1, max_length=24, pattern=r"^[a-z][a-z0-9_-]*$")
    size: PositiveQuantity


class Product(_Model):
    sku: Sku
    name: str = Field(min_length=1, max_length=200)
    names: dict[str, str] = Field(default_factory=dict, description="Names in other languages by code: {'ur': ..., 'hi': ...}")
    barcodes: list[str] = Field(default_factory=list, max_length=20)
    category: str | None = Field(default=None, max_length=80)
    supplier: str | None = Field(default=None, max_length=120, description="Who the shop usually orders it from")
    unit: BaseUnit = "piece"
    packs: list[Pack] = Field(default_factory=list, max_length=10)
    cost: Money | None = None
    price: Money | None = None
    active: bool = True
    reorder_point: Quantity | None = Field(default=None, description="Low-stock threshold in base units")
    reorder_min: Quantity | None = Field(default=None, description="Smallest sensible order, base units")
    reorder_max: Quantity | None = Field(default=None, description="Order up to this level, base units")
    lead_time_days: int | None = Field(default=None, ge=0, le=365)

    @model_validator(mode="after")
    def _packs_are_distinct(self) -> Product:
        names = [p.unit for p in self.packs]
        if len(set(names)) != len(names):
            raise ValueError("packs: each pack unit may appear once")
        if self.unit in names:
            raise ValueError(f"packs: {self.unit!r} is the base unit")
        return self

    def factor(self, unit: str | None) -> Decimal | None:
        """Base units in one `unit` (None when the product does not know that unit)."""
        if unit is None or unit == self.unit:
            return Decimal(1)
        for pack in self.packs:
            if pack.unit == unit:
                return pack.size
        return MEASURE_FACTORS.get((unit, self.unit))


class StoreProduct(_Model):
    """Per-store overrides of a product; None means "use the product's"."""

    store_id: StoreId
    sku: Sku
    price: Money | None = None
    reorder_point: Quantity | None = None
    active: bool | None = None
