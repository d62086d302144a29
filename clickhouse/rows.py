"""Messages of the ledger and catalog topics -> rows of the ClickHouse tables (pure, no I/O).

Each converter takes the raw value and where it was read (partition, offset) and returns the rows
for its table, or raises ``ValueError`` for a message that breaks its contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from schemas.catalog import Product, Store, StoreProduct
from schemas.ledger import LedgerEntry

Row = tuple[Any, ...]
Converter = Callable[[bytes, int, int], list[Row]]

LEDGER_COLUMNS = (
    "event_id",
    "type",
    "leg",
    "store_id",
    "other_store_id",
    "sku",
    "quantity",
    "amount",
    "reason",
    "actor",
    "terminal_id",
    "supplier",
    "occurred_at",
    "received_at",
    "on_hand_before",
    "on_hand_after",
    "changed",
    "outcome",
    "flags",
    "original_event_id",
    "void_verdict",
    "void_occurred_at",
    "entry_version",
    "src_partition",
    "src_offset",
    "batch_token",
)
STORE_COLUMNS = ("store_id", "name", "timezone", "currency", "locale", "active", "src_offset")
PRODUCT_COLUMNS = (
    "sku",
    "name",
    "names",
    "category",
    "unit",
    "cost",
    "price",
    "active",
    "reorder_point",
    "lead_time_days",
    "src_offset",
)
STORE_PRODUCT_COLUMNS = ("store_id", "sku", "price", "reorder_point", "active", "src_offset")

BATCH_TOKEN = "batch_token"  # filled in by the sink when the batch is cut


def _parse(model, raw: bytes):
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


def ledger_rows(raw: bytes, partition: int, offset: int) -> list[Row]:
    """One row per sku of a LedgerEntry; ``batch_token`` is left None for the sink to fill."""
    e: LedgerEntry = _parse(LedgerEntry, raw)
    return [
        (
            str(e.event_id),
            e.type,
            e.leg,
            e.store_id,
            e.other_store_id,
            r.sku,
            r.quantity,
            r.amount,
            r.reason,
            e.actor,
            e.terminal_id,
            e.supplier,
            e.occurred_at,
            e.received_at,
            r.on_hand_before,
            r.on_hand_after,
            r.changed,
            r.outcome,
            list(r.flags),
            None if e.original_event_id is None else str(e.original_event_id),
            e.void,
            e.void_occurred_at,
            e.v,
            partition,
            offset,
            None,
        )
        for r in e.rows
    ]


def store_rows(raw: bytes, partition: int, offset: int) -> list[Row]:
    s: Store = _parse(Store, raw)
    return [(s.store_id, s.name, s.timezone, s.currency, s.locale, s.active, offset)]


def product_rows(raw: bytes, partition: int, offset: int) -> list[Row]:
    p: Product = _parse(Product, raw)
    return [(p.sku, p.name, dict(p.names), p.category, p.unit, p.cost, p.price, p.active, p.reorder_point, p.lead_time_days, offset)]


def store_product_rows(raw: bytes, partition: int, offset: int) -> list[Row]:
    o: StoreProduct = _parse(StoreProduct, raw)
    return [(o.store_id, o.sku, o.price, o.reorder_point, o.active, offset)]
