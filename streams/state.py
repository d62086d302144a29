"""The stock table as one batch of events sees it (``BatchStates``): read once, written once per key.

Values are encoded and decoded by ``streams.codec`` (the stored layouts).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import rocksdict

from bazaar_core.kafka import faust_fence
from domain.stock import StockState
from streams.codec import KeyMoves, _stored_moves, decode, encode


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

    def __init__(self, table: Any, cache_keys: int = 0) -> None:
        self._table = table
        self.partition = 0
        self._dirty: dict[str, tuple[int, StockState]] = {}
        # Decoded states of recently written keys (least recently written first), so a busy key is
        # not read and decoded from RocksDB every batch. Only this worker writes its partitions'
        # keys, so the cache stays true while the assignment holds; ``forget`` on any rebalance.
        # An OrderedDict: evicting the oldest of a plain dict (``del d[next(iter(d))]``) scans the
        # holes earlier deletions left at its front, so each eviction cost O(evicted so far): most
        # of a worker's time once millions of keys pass through the cache.
        self._cache: OrderedDict[str, StockState] = OrderedDict()
        self._cache_keys = cache_keys

    def forget(self) -> None:
        """Drop cached states (partitions may have moved: RocksDB, recovered from the changelog, is the truth)."""
        self._cache = OrderedDict()

    def discard(self) -> None:
        """Drop the batch's unwritten changes and every cached state, as if the batch had not begun
        (a message that failed half-way may have changed states in place)."""
        self._dirty.clear()
        self._cache = OrderedDict()

    def db(self, partition: int) -> Any:
        """The RocksDB of one partition of the stock table."""
        return faust_fence.partition_db(self._table, partition)

    def read_many(self, partition: int, keys: list[bytes]) -> list[bytes | None]:
        """The stored values of ``keys`` in one partition, as they are on disk (the compiled core's reads)."""
        return self.db(partition).get(keys)

    def get(self, key: str, default: Any = None) -> Any:
        hit = self._dirty.get(key)
        if hit is not None:
            return hit[1]
        state = self._cache.get(key)
        if state is not None:
            return state
        db = faust_fence.partition_db(self._table, self.partition)
        raw_key = key.encode()
        raw = db.get(raw_key)
        if raw is None:
            return default
        return decode(raw, db, raw_key)

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

    def flush(self, send: Callable[[int, bytes, bytes | None], None]) -> int:
        """Write every key the batch touched (even unchanged ones: a replay re-publishes state that
        may not have reached the changelog) and ``send(partition, key, value)`` its changelog record:
        one value holding the whole state, so a crash between records never splits a key. A key
        stored in the earlier spilled layout is written back whole, then its movement keys are
        deleted (tombstones after the value). Returns the key count."""
        writes: dict[int, tuple[Any, Any]] = {}  # partition -> (its database, its write batch)
        sends: list[tuple[int, bytes, bytes | None]] = []
        # faust.stores.rocksdb.Store. (Not updating its ``_key_index``, a cache Faust's own reads use
        # to find a key's partition and otherwise search every partition: ours read by partition,
        # and its LRU takes a lock per key.)

        for key, (partition, state) in self._dirty.items():
            raw_key = key.encode()
            slot = writes.get(partition)
            if slot is None:
                slot = writes[partition] = (faust_fence.partition_db(self._table, partition), rocksdict.WriteBatch(raw_mode=True))
            db, batch = slot
            moves = state.moves
            if moves.__class__ is KeyMoves:  # stored by the earlier layout: its movements go back into the value
                inline = dict(moves.items())
                stale = _stored_moves(db, raw_key)
                state.moves = inline
                value = encode(state)
                batch.put(raw_key, value)
                sends.append((partition, raw_key, value))
                for move_key in stale:  # after the value that no longer needs them (see streams.codec.MOVES_PREFIX)
                    batch.delete(move_key)
                    sends.append((partition, move_key, None))
                continue
            value = encode(state)
            batch.put(raw_key, value)
            sends.append((partition, raw_key, value))
        for db, batch in writes.values():
            db.write(batch)
        for partition, raw_key, sent in sends:
            send(partition, raw_key, sent)
        n = len(self._dirty)
        if self._cache_keys:
            cache, move_to_end = self._cache, self._cache.move_to_end
            for key, (_, state) in self._dirty.items():
                cache[key] = state
                move_to_end(key)  # most recently written last
            for _ in range(len(cache) - self._cache_keys):
                cache.popitem(last=False)
        self._dirty.clear()
        return n
