"""The sale book (``domain.voids``) in the stock table: the stores' recent sales and voids, kept in
the same RocksDB databases and changelog as their stock, so recovery restores both together.

A bucket (``\\x01<store>|<day>`` -> {event id: record}) lives in the partition of its store's events,
as the store's stock keys do; its value is the bucket's JSON object. Reads go to RocksDB (or to
what this batch changed); ``flush`` writes every bucket the batch touched once, deletes the dropped
ones, and hands each changelog record (a tombstone for a dropped bucket) to ``send``.
Appending a sale to a stored bucket does not parse it (``streams.codec.LazyMoves``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import rocksdict

from bazaar_core.kafka import faust_fence
from domain.voids import Bucket, book_key
from streams.codec import LazyMoves


class BatchSales:
    """The sale book as one batch of events sees it; ``partition`` follows the stock states'
    (``BatchStates.partition``: the source partition of the event being applied)."""

    def __init__(self, table: Any, partition_of: Callable[[], int]) -> None:
        self._table = table
        self._partition_of = partition_of
        self._dirty: dict[str, tuple[int, Bucket | None]] = {}  # key -> (partition, bucket or None: dropped)

    def _db(self, partition: int) -> Any:
        return faust_fence.partition_db(self._table, partition)

    def get(self, key: str) -> Bucket | None:
        hit = self._dirty.get(key)
        if hit is not None:
            return hit[1]
        raw = self._db(self._partition_of()).get(key.encode())
        return None if raw is None else LazyMoves(raw)

    def __setitem__(self, key: str, bucket: Bucket) -> None:
        self._dirty[key] = (self._partition_of(), bucket)

    def days(self, store_id: str) -> list[int]:
        prefix = book_key(store_id, 0)[:-6]
        raw_prefix, n = prefix.encode(), len(prefix)
        found: set[int] = set()
        it = self._db(self._partition_of()).iter()
        it.seek(raw_prefix)
        while it.valid() and it.key().startswith(raw_prefix):
            found.add(int(it.key()[n:]))
            it.next()
        for key, (_, bucket) in self._dirty.items():
            if key.startswith(prefix):
                if bucket is None:
                    found.discard(int(key[n:]))
                else:
                    found.add(int(key[n:]))
        return sorted(found)

    def stored_days(self, partition: int, prefix: bytes) -> list[int]:
        """The days of a store's book on disk (``prefix``: its ``book_key`` without the day), without
        this batch's changes (the compiled core keeps its own)."""
        n, found = len(prefix), []
        it = self._db(partition).iter()
        it.seek(prefix)
        while it.valid() and it.key().startswith(prefix):
            found.append(int(it.key()[n:]))
            it.next()
        return found

    def drop(self, store_id: str, day: int) -> None:
        self._dirty[book_key(store_id, day)] = (self._partition_of(), None)

    def discard(self) -> None:
        """Forget the batch's unwritten changes (the batch is applied again from RocksDB)."""
        self._dirty.clear()

    def flush(self, send: Callable[[int, bytes, bytes | None], None]) -> int:
        """Write what the batch changed (one write batch per partition) and send its changelog
        records; the buckets written."""
        writes: dict[int, tuple[Any, Any]] = {}
        sends: list[tuple[int, bytes, bytes | None]] = []
        for key, (partition, bucket) in self._dirty.items():
            slot = writes.get(partition)
            if slot is None:
                slot = writes[partition] = (self._db(partition), rocksdict.WriteBatch(raw_mode=True))
            raw_key = key.encode()
            if bucket is None:
                slot[1].delete(raw_key)
                sends.append((partition, raw_key, None))
                continue
            value = bucket.to_json() if isinstance(bucket, LazyMoves) else orjson.dumps(dict(bucket))
            slot[1].put(raw_key, value)
            sends.append((partition, raw_key, value))
        for db, batch in writes.values():
            db.write(batch)
        for partition, raw_key, sent in sends:
            send(partition, raw_key, sent)
        n = len(self._dirty)
        self._dirty.clear()
        return n
