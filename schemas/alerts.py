"""The alerts contract: what the stream says about a (store, sku) when a threshold is crossed."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.types import Sku, StoreId, Timestamp

AlertKind = Literal["low_stock", "out_of_stock", "negative_stock", "running_out", "void_unmatched"]


class Alert(BaseModel):
    """One crossing of a threshold. ``alert_id`` is derived from (store, sku, kind, triggering event
    id, leg), so a replay of the same event produces the same alert, and consumers dedupe on it."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    type: Literal["alert"] = "alert"
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
    # void_unmatched (a void that undid nothing: domain/voids.py): the sale it named, why (unknown_sale,
    # not_a_sale, too_old) and in words; sku is the void's first line's, and it is never cleared
    original_event_id: UUID | None = None
    reason: str | None = None
    detail: str | None = None


class AlertCleared(BaseModel):
    """Stock rose back past a threshold: the alert ``cleared_alert_id`` is re-armed (and no longer
    active). Written by the stream on the alerts topic like an Alert, with its own derived id."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    type: Literal["cleared"] = "cleared"
    alert_id: UUID  # id of this message
    cleared_alert_id: UUID | None  # the alert it ends (None if that alert predates this worker's state)
    kind: AlertKind
    store_id: StoreId
    sku: Sku
    on_hand: Decimal
    threshold: Decimal
    event_id: UUID
    occurred_at: Timestamp
    raised_at: Timestamp  # the event's received_at


AlertMessage = Annotated[Alert | AlertCleared, Field(discriminator="type")]
AlertMessageAdapter: TypeAdapter[Alert | AlertCleared] = TypeAdapter(AlertMessage)


class AlertAck(BaseModel):
    """A manager acknowledged an alert: on the compacted acks topic, keyed by alert_id. Written by
    the API (``POST /v1/stores/{store_id}/alerts/{alert_id}/ack``); the first ack stands."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    alert_id: UUID
    store_id: StoreId
    by: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=500)
    acked_at: Timestamp
