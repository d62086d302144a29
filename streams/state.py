"""StockState <-> bytes for the RocksDB table, and the stock table as one batch of events sees it.

The encoding is two JSON texts of integers and strings (no floats), on two lines:
[count_at, count_id, count_qty, count_digest, count_before, count_after, base, folded_until,
 updated_at, [fired, [day, sold, day, sold, ...], first_day, recent], moved, oldest]
{id: [at, delta, digest, before], ...}   (the movements since the count, parsed only when needed)
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, MutableMapping

import orjson
import rocksdict

from domain.alerts import AlertState
from domain.stock import StockState


def encode(state: StockState) -> bytes:
    header = orjson.dumps(
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
            _encode_alerts(state.alerts),
            state.moved,
            state.oldest,
        ]
    )
    moves = state.moves
    # one copy of the movements (a busy key's are most of its bytes), where ``+`` would make two
    return b"\n".join((header, moves.to_json() if isinstance(moves, LazyMoves) else orjson.dumps(moves)))


def decode(data: bytes) -> StockState:
    cut = data.find(b"\n")
    if cut < 0:  # written before movements were kept apart (one array with the movements inside)
        c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, moves, alerts, moved, oldest = orjson.loads(data)
    else:
        c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, alerts, moved, oldest = orjson.loads(data[:cut])
        moves = LazyMoves(data[cut + 1:])
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


_MISSING = object()


class LazyMoves(MutableMapping[str, list]):
    """A key's movements (event id -> [at, delta, digest, before]) as stored, parsed only when needed.

    A hot (store, sku) keeps every movement since its last count (up to the late window), and parsing
    them all for each new sale would make a key's cost grow with its traffic. The common case --
    a new event id -- needs only "is this id there?" (a substring search of the stored JSON for the
    quoted id) and an append, which ``to_json`` splices onto the stored text. Anything else (a
    re-sent id, a count, folding, iteration) parses the whole mapping once.
    """

    __slots__ = ("_raw", "_new", "_dict")

    def __init__(self, raw: bytes) -> None:
        self._raw: bytes | None = raw  # a JSON object, as stored
        self._new: dict[str, list] | None = {}  # appended since, not in _raw
        self._dict: dict[str, list] | None = None  # everything, once parsed

    def _all(self) -> dict[str, list]:
        if self._dict is None:
            merged = orjson.loads(self._raw)
            merged.update(self._new)
            self._dict, self._raw, self._new = merged, None, None
        return self._dict

    def get(self, key: str, default: Any = None) -> Any:
        if self._dict is None:
            hit = self._new.get(key)
            if hit is not None:
                return hit
            if b'"' + key.encode() + b'"' not in self._raw:  # ids are quoted object keys; nothing else is quoted like them
                return default
        return self._all().get(key, default)

    def __getitem__(self, key: str) -> list:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: list) -> None:
        if self._dict is None and self.get(key, _MISSING) is _MISSING:
            self._new[key] = value
        else:
            self._all()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"LazyMoves({self._all()!r})"

    def to_json(self) -> bytes:
        if self._dict is not None:
            return orjson.dumps(self._dict)
        if not self._new:
            return self._raw
        added = orjson.dumps(self._new)
        self._raw = added if self._raw == b"{}" else self._raw[:-1] + b"," + added[1:]
        self._new = {}  # spliced in: a cached state does not re-serialise them next time
        return self._raw


def _encode_alerts(a: AlertState) -> list:
    return [a.fired, [n for pair in a.sales.items() for n in pair], a.first_day, a.recent]  # sales flat: [day, sold, ...]


def _decode_alerts(v: list) -> AlertState:
    fired, sales, first_day, recent = v
    if isinstance(sales, dict):  # written by an earlier version: {"day": sold}
        by_day = {int(day): sold for day, sold in sales.items()}
    else:
        by_day = dict(zip(sales[::2], sales[1::2]))
    return AlertState(fired=fired, sales=by_day, first_day=first_day, recent=recent)


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
        self._cache: dict[str, StockState] = {}
        self._cache_keys = cache_keys

    def forget(self) -> None:
        """Drop cached states (partitions may have moved: RocksDB, recovered from the changelog, is the truth)."""
        self._cache = {}

    def get(self, key: str, default: Any = None) -> Any:
        hit = self._dirty.get(key)
        if hit is not None:
            return hit[1]
        state = self._cache.get(key)
        if state is not None:
            return state
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
        if self._cache_keys:
            cache = self._cache
            for key, (_, state) in self._dirty.items():
                cache.pop(key, None)  # re-inserted last: most recently written
                cache[key] = state
            for _ in range(len(cache) - self._cache_keys):
                del cache[next(iter(cache))]
        self._dirty.clear()
        return n
