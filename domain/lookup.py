"""What a stock lookup shows for one (store, sku)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.quantities import milli_str
from domain.stock import StockState


def iso_us(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000).isoformat()


def stock_item(store_id: str, sku: str, state: StockState) -> dict[str, Any]:
    on_hand = state.on_hand
    return {
        "store_id": store_id,
        "sku": sku,
        "on_hand": milli_str(on_hand),
        "negative": on_hand < 0,
        "last_count_at": iso_us(state.count_at),
        "last_count_quantity": milli_str(state.count_qty) if state.count_at is not None else None,
        "updated_at": iso_us(state.updated_at),
        "movements_since_count": len(state.moves),
    }
