"""The ledger topic's contract: what each applied event did to each (store, sku).

The stock agent writes one LedgerEntry per delivery of an event leg (keyed by the leg's store).
A replay after a crash writes the same entry again with the same figures, so the first entry for
(event_id, store_id, sku) is authoritative and later ones are copies; consumers (the ClickHouse
sink) deduplicate on that key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.types import Sku, StoreId, Timestamp

Outcome = Literal["applied", "before_count", "stale_count", "beyond_window"]


class LedgerRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: Sku
    quantity: Decimal  # signed change the event asks for (count: the counted quantity)
    amount: Decimal | None = None  # exact Σ quantity × unit_price (sale, return) or × unit_cost (purchase)
    reason: str | None = None  # adjustment reason
    on_hand_before: Decimal
    on_hand_after: Decimal
    changed: bool  # did it change on-hand
    outcome: Outcome
    flags: list[str] = []  # e.g. "inactive_product": a sale of a product the catalog marks inactive


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    event_id: UUID
    type: Literal["sale", "purchase", "return", "adjustment", "count", "transfer"]
    leg: Literal["out", "in"]
    store_id: StoreId  # the store this leg applies to
    other_store_id: StoreId | None = None  # a transfer's other store
    terminal_id: str
    actor: str | None = None
    supplier: str | None = None
    occurred_at: Timestamp
    received_at: Timestamp | None = None
    rows: list[LedgerRow]
