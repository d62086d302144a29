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

Outcome = Literal["applied", "before_count", "stale_count", "beyond_window", "not_applied"]
# What a void did (domain/voids.py): applied, or why it was recorded and flagged without moving stock
VoidVerdict = Literal["applied", "already_voided", "too_old", "not_a_sale", "unknown_sale"]


class LedgerRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: Sku
    quantity: Decimal  # signed change the event asks for (count: the counted quantity)
    amount: Decimal | None = None  # exact Σ quantity × unit_price (sale, return) or × unit_cost (purchase)
    reason: str | None = None  # adjustment reason; a return's: customer_return or void
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
    occurred_at: Timestamp  # an applied void's: its sale's, where the stream applied it (void_occurred_at: its own)
    received_at: Timestamp | None = None
    rows: list[LedgerRow]
    original_event_id: UUID | None = None  # a return's: the sale it returns or voids
    void: VoidVerdict | None = None  # a void's verdict; a flagged void's rows move nothing (quantity 0, not_applied)
    void_occurred_at: Timestamp | None = None  # a void's own occurred_at
