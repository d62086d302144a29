"""StockState <-> bytes for the RocksDB table, and a mapping view of the Faust table.

The encoding is a compact JSON array of integers and strings (no floats):
[count_at, count_id, count_qty, count_digest, count_before, count_after, base, folded_until,
 updated_at, {id: [at, delta, digest, before]}, [fired, {day: sold}, first_day, recent], moved, oldest]
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, MutableMapping

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


class BatchStates(MutableMapping[str, StockState]):
    """The stock table as one batch of events sees it: each key is read (and decoded) at most once per
    batch, updated in memory, and written back once by ``flush`` -- one RocksDB write batch per
    partition and one changelog record per key, however many events of the batch touched the key.

    Faust's own ``Table.__setitem__`` picks the partition from the *current* event, which is wrong
    for a batch spanning partitions, so this writes the partition's database itself, the way
    ``faust.stores.rocksdb.Store._set`` does, and hands each changelog record to ``send``.
    Set ``partition`` to the source partition of the event being applied: a key lives in the
    partition of its store's events (the stock table is co-partitioned with the events topic).
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self.partition = 0
        self._dirty: dict[str, tuple[int, StockState]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        hit = self._dirty.get(key)
        if hit is not None:
            return hit[1]
        raw = self._table.data._db_for_partition(self.partition).get(key.encode())
        return default if raw is None else decode(raw)

    def __getitem__(self, key: str) -> StockState:
        state = self.get(key)
        if state is None:
            raise KeyError(key)
        return state

    def __setitem__(self, key: str, state: StockState) -> None:
        self._dirty[key] = (self.partition, state)

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("stock keys are never deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._dirty)

    def __len__(self) -> int:
        return len(self._dirty)

    def flush(self, send: Callable[[int, bytes, bytes], None]) -> int:
        """Write every key the batch touched (even unchanged ones: a replay re-publishes state that
        may not have reached the changelog) and ``send(partition, key, value)`` its changelog record.
        Returns the key count."""
        import rocksdict

        writes: dict[int, Any] = {}
        sends: list[tuple[int, bytes, bytes]] = []
        store = self._table.data  # faust.stores.rocksdb.Store
        key_index = store._key_index
        for key, (partition, state) in self._dirty.items():
            raw_key, value = key.encode(), encode(state)
            batch = writes.get(partition)
            if batch is None:
                batch = writes[partition] = rocksdict.WriteBatch(raw_mode=True)
            batch.put(raw_key, value)
            key_index[raw_key] = partition
            sends.append((partition, raw_key, value))
        for partition, batch in writes.items():
            store._db_for_partition(partition).write(batch)
        for partition, raw_key, value in sends:
            send(partition, raw_key, value)
        n = len(self._dirty)
        self._dirty.clear()
        return n
