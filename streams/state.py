"""StockState <-> bytes for the RocksDB table, and a mapping view of the Faust table.

The encoding is a compact JSON array of integers and strings (no floats):
[count_at, count_id, count_qty, count_digest, count_before, count_after, base, folded_until,
 updated_at, {id: [at, delta, digest, before]}, [fired, {day: sold}, first_day, recent], moved, oldest]
"""
from __future__ import annotations

from typing import Any, Iterator, MutableMapping

import orjson

from domain.alerts import AlertState
from domain.stock import StockState


def encode(state: StockState) -> bytes:
    return orjson.dumps(
        [
            state.count_at,
            state.count_id,
            state.count_qty,
            state.count_digest,
            state.count_before,
            state.count_after,
            state.base,
            state.folded_until,
            state.updated_at,
            state.moves,
            _encode_alerts(state.alerts),
            state.moved,
            state.oldest,
        ]
    )


def decode(data: bytes) -> StockState:
    c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, moves, alerts, moved, oldest = orjson.loads(data)
    return StockState(
        count_at=c_at,
        count_id=c_id,
        count_qty=c_qty,
        count_digest=c_dig,
        count_before=c_before,
        count_after=c_after,
        base=base,
        folded_until=folded,
        updated_at=updated,
        moves=moves,
        alerts=_decode_alerts(alerts),
        moved=moved,
        oldest=oldest,
    )


def _encode_alerts(a: AlertState) -> list:
    return [a.fired, {str(day): sold for day, sold in a.sales.items()}, a.first_day, a.recent]


def _decode_alerts(v: list) -> AlertState:
    fired, sales, first_day, recent = v
    return AlertState(fired=fired, sales={int(day): sold for day, sold in sales.items()}, first_day=first_day, recent=recent)


class TableStates(MutableMapping[str, StockState]):
    """Presents a Faust table of raw bytes as a mapping of key -> StockState."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> StockState:
        raw = self._table[key]
        if raw is None:
            raise KeyError(key)
        return decode(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._table.get(key)
        return default if raw is None else decode(raw)

    def __setitem__(self, key: str, state: StockState) -> None:
        self._table[key] = encode(state)

    def __delitem__(self, key: str) -> None:
        del self._table[key]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() if isinstance(k, bytes) else k for k in self._table.keys())

    def __len__(self) -> int:
        return len(self._table)
