"""The alerts contract: what the stream says about a (store, sku) when a threshold is crossed."""
from __future__ import annotations

from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.types import Sku, StoreId, Timestamp

AlertKind = Literal["low_stock", "out_of_stock", "negative_stock", "running_out"]


class Alert(BaseModel):
    """One crossing of a threshold. ``alert_id`` is derived from (store, sku, kind, triggering event
    id, leg), so a replay of the same event produces the same alert, and consumers dedupe on it."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    alert_id: UUID
    kind: AlertKind
    store_id: StoreId
    sku: Sku
    on_hand: Decimal
    threshold: Decimal  # the level crossed (reorder point, 0, or lead time in days for running_out)
    velocity: Decimal | None  # average daily sales over the velocity window, base units/day
    days_of_cover: Decimal | None  # on_hand / velocity
    suggested_reorder: Decimal | None  # up to reorder_max, rounded up to whole packs
    reorder_unit: str | None = None  # the pack the suggestion is rounded to
    event_id: UUID  # the event that crossed the threshold
    occurred_at: Timestamp  # when that event happened
    raised_at: Timestamp  # when the stream raised it (the event's received_at)
