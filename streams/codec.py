"""StockState <-> bytes: the stock table's stored layouts, a compatibility promise.

Every value a worker ever wrote to RocksDB or to the changelog must stay readable by the next
release: a worker restarted on old data, or recovering from an old changelog, decodes it with
``decode``, and ``BatchStates.flush`` writes it back in the current layout (LAYOUT_CURRENT). Each
layout has a test (tests/unit/test_state_codec.py); a new one gets a name here and a test there.

A state is JSON of integers and strings (no floats); its movements since the count
({event id: [at, delta, digest, before, received]}) are the dedupe set.

* LAYOUT_1_ONE_ARRAY: one array, the movements inside (13 items; field 9 is the movements dict).
* LAYOUT_2_TWO_LINES: the header, a newline, the movements object; header of 12 fields (written
  before ``horizon`` was kept; movements of 4 items, before ``received`` was kept, are read too).
* LAYOUT_3_TWO_LINES_HORIZON: the same with the 13-field header
  [count_at, count_id, count_qty, count_digest, count_before, count_after, base, folded_until,
  updated_at, [fired, [day, sold, ...], first_day, recent], moved, oldest, horizon]. Current.
* LAYOUT_4_SPILLED: the header alone plus the count of its movements (13 or 14 fields), each
  movement under a key of its own, ``\x00<store>|<sku>|<event id>`` (``KeyMoves``). Read only: a
  crash could split such a key between its records, so it is written back as LAYOUT_3.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from domain.alerts import AlertState
from domain.stock import AT, StockState, fold_key, horizon_of

LAYOUT_1_ONE_ARRAY = 1
LAYOUT_2_TWO_LINES = 2
LAYOUT_3_TWO_LINES_HORIZON = 3
LAYOUT_4_SPILLED = 4
LAYOUT_CURRENT = LAYOUT_3_TWO_LINES_HORIZON


def encode_header(state: StockState) -> bytes:
    """The value of a key whose movements are stored under their own keys (``KeyMoves``): the
    header and how many movements it keeps (so a lookup need not count them)."""
    return orjson.dumps([*_header(state), len(state.moves)])


def encode(state: StockState) -> bytes:
    """The whole state in one value: the header, a newline, the movements (a dict or ``LazyMoves``)."""
    moves = state.moves
    # one copy of the movements (a busy key's are most of its bytes), where ``+`` would make two
    return b"\n".join((orjson.dumps(_header(state)), moves.to_json() if isinstance(moves, LazyMoves) else orjson.dumps(moves)))


def _header(state: StockState) -> list:
    return [
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
        state.horizon,
    ]


def decode(data: bytes, db: Any = None, key: bytes = b"") -> StockState:
    """The state a value holds. ``db``, ``key``: the database and key it was read from; when its
    movements are kept under their own keys, they are read from there (``KeyMoves``); without a
    database they read as none."""
    cut = data.find(b"\n")
    kept: Any = None
    count = 0
    horizon = None
    if cut >= 0:  # movements on a second line
        fields = orjson.loads(data[:cut])
        if len(fields) == 13:
            c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, alerts, moved, oldest, horizon = fields
        else:  # written before the horizon was kept
            c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, alerts, moved, oldest = fields
        kept = LazyMoves(data[cut + 1 :])
    else:
        fields = orjson.loads(data)
        if isinstance(fields[9], dict):  # the first layout: one array with the movements inside
            c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, kept, alerts, moved, oldest = fields
        elif len(fields) == 14:  # movements under their own keys
            c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, alerts, moved, oldest, horizon, count = fields
        else:  # the same, written before the horizon was kept
            c_at, c_id, c_qty, c_dig, c_before, c_after, base, folded, updated, alerts, moved, oldest, count = fields
    state = StockState(
        count_at=c_at,
        count_id=c_id,
        count_qty=c_qty,
        count_digest=c_dig,
        count_before=c_before,
        count_after=c_after,
        base=base,
        folded_until=folded,
        updated_at=updated,
        moves={} if kept is None else kept,
        alerts=_decode_alerts(alerts),
        moved=moved,
        oldest=oldest,
        horizon=horizon,
    )
    if kept is None and db is not None:
        state.moves = KeyMoves(db, key, state, count=count)
    return state


_MISSING = object()


class _Moves(MutableMapping[str, list]):
    """A key's movements, where ``get`` does the work (``[]`` follows from it)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> list:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value


class LazyMoves(_Moves):
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


# A key's movements are no longer spilled under keys of their own, however busy it is: a batch cut
# short by a crash could leave the changelog (and, after recovery, RocksDB) with a spilled key's new
# movements but not the value that counts them, and a replayed event whose movement was found
# there was taken for a duplicate and lost (tests/integration/test_pipeline.py's kill tests, 4-6 in
# 10 once the worker was really running when killed). One value per key is written atomically.
# Keys stored spilled are read as before and written back as one value (``flush``).
MOVES_PREFIX = b"\x00"  # movement keys sort before every stock key (store ids start with a letter or digit)


def _stored_moves(db: Any, key: bytes) -> list[bytes]:
    """Every movement key stored under ``key`` (live or dead)."""
    prefix, out = moves_prefix(key), []
    it = db.iter()
    it.seek(prefix)
    while it.valid() and it.key().startswith(prefix):
        out.append(it.key())
        it.next()
    return out


def moves_prefix(key: bytes) -> bytes:
    """Where the movements of stock key ``store|sku`` are kept: ``\x00store|sku|<event id>`` (store
    ids and skus never contain ``|``, so no other key's movements share the prefix)."""
    return MOVES_PREFIX + key + b"|"


class KeyMoves(_Moves):
    """A key's movements (event id -> [at, delta, digest, before]), each under its own RocksDB key:
    how LAYOUT_4_SPILLED stored a busy key. Read only now: ``BatchStates.flush`` writes such a key
    back as one value and deletes its movement keys (see the comment at ``MOVES_PREFIX``).

    A stored movement that occurred at or before the state's count, or that folds before its fold
    horizon (``domain.stock.horizon_of``), is dead: the count or a fold already covers it. Its key is deleted and a
    tombstone sent, but readers never count on that: a tombstone lost in a crash (the worker's
    RocksDB ahead of the changelog, then replayed) leaves a dead key that is skipped, then
    deleted again. What changed since the last ``drain`` is returned by it, for the batch's write
    and changelog records: new and deleted ids, and ids found in RocksDB (a re-delivered event:
    its movement may never have reached the changelog, so it is sent again). Between batches a
    cached state's movements hold nothing but where they are (a worker caches tens of thousands).
    """

    __slots__ = ("db", "_state", "_prefix", "_new", "_gone", "_read", "_dict", "_count", "_missed")

    def __init__(self, db: Any, key: bytes, state: StockState, loaded: dict[str, list] | None = None, count: int = 0) -> None:
        self.db = db
        self._state = weakref.ref(state)  # (a strong one would make a cycle per key: freed only by full collections)
        self._prefix = moves_prefix(key)
        self._new: dict[str, list] | None = None  # set since the last drain
        self._gone: set[str] | None = None  # deleted since the last drain
        self._read: dict[str, list] | None = None  # found in RocksDB since the last drain
        self._dict = loaded  # every live movement, once scanned (until the next drain)
        self._count = count if loaded is None else len(loaded)  # live movements (kept in the value)
        self._missed: str | None = None  # the last id ``get`` did not find (then set, as a new movement)

    def _limits(self) -> tuple[int | None, int | None]:
        """(count_at, fold horizon) of the state: what makes a stored movement dead (``_dead``)."""
        s = self._state()
        if s is None:  # (the state is gone: nothing reads its movements any more)
            return None, None
        return s.count_at, horizon_of(s)

    @staticmethod
    def _dead(move: list, count_at: int | None, horizon: int | None) -> bool:
        return (count_at is not None and move[AT] <= count_at) or (horizon is not None and fold_key(move) < horizon)

    def _forget(self, key: str) -> None:
        if self._gone is None:
            self._gone = set()
        self._gone.add(key)

    def get(self, key: str, default: Any = None) -> Any:
        if self._dict is not None:
            return self._dict.get(key, default)
        for mine in (self._new, self._read):
            if mine is not None:
                hit = mine.get(key)
                if hit is not None:
                    return hit
        if self._gone is not None and key in self._gone:
            return default
        raw = self.db.get(self._prefix + key.encode())
        if raw is None:
            self._missed = key
            return default
        move = orjson.loads(raw)
        if self._dead(move, *self._limits()):  # (see the class)
            self._forget(key)
            self._missed = key
            return default
        if self._read is None:
            self._read = {}
        self._read[key] = move
        return move

    def __setitem__(self, key: str, value: list) -> None:
        if key != self._missed and self.get(key, _MISSING) is not _MISSING:
            self._count -= 1  # replaced, not added
        self._missed = None
        self._count += 1
        if self._dict is not None:
            self._dict[key] = value
        if self._new is None:
            self._new = {}
        self._new[key] = value
        if self._gone is not None:
            self._gone.discard(key)

    def __delitem__(self, key: str) -> None:
        if self.get(key, _MISSING) is _MISSING:
            raise KeyError(key)
        self._count -= 1
        if self._dict is not None:
            del self._dict[key]
        for mine in (self._new, self._read):
            if mine is not None:
                mine.pop(key, None)
        self._forget(key)

    def _all(self) -> dict[str, list]:
        if self._dict is None:
            found: dict[str, list] = {}
            prefix, n, gone = self._prefix, len(self._prefix), self._gone or ()
            count_at, horizon = self._limits()
            dead = self._dead
            it = self.db.iter()
            it.seek(prefix)
            while it.valid():
                raw_key = it.key()
                if not raw_key.startswith(prefix):
                    break
                event_id = raw_key[n:].decode()
                if event_id not in gone:
                    move = orjson.loads(it.value())
                    if dead(move, count_at, horizon):
                        self._forget(event_id)  # dead: delete it (again)
                    else:
                        found[event_id] = move
                it.next()
            if self._new:
                found.update(self._new)
            self._dict = found
            self._count = len(found)
        return self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._all()))

    def __len__(self) -> int:
        return self._count  # (kept exact: no scan)

    def __repr__(self) -> str:
        return f"KeyMoves({self._all()!r})"

    def drain(self) -> list[tuple[bytes, bytes | None]]:
        """(movement key, value or None to delete) for what changed or was read since the last drain;
        from then on the caller has written them to RocksDB, and they are read from there."""
        prefix, out = self._prefix, []
        if self._read:
            out += [(prefix + k.encode(), orjson.dumps(v)) for k, v in self._read.items()]
        if self._new:
            out += [(prefix + k.encode(), orjson.dumps(v)) for k, v in self._new.items()]
        if self._gone:
            out += [(prefix + k.encode(), None) for k in self._gone]
        self._new = self._gone = self._read = self._dict = self._missed = None
        return out


def _encode_alerts(a: AlertState) -> list:
    return [a.fired, [n for pair in a.sales.items() for n in pair], a.first_day, a.recent]  # sales flat: [day, sold, ...]


def _decode_alerts(v: list) -> AlertState:
    fired, sales, first_day, recent = v
    if isinstance(sales, dict):  # written by an earlier version: {"day": sold}
        by_day = {int(day): sold for day, sold in sales.items()}
    else:
        by_day = dict(zip(sales[::2], sales[1::2]))
    return AlertState(fired=fired, sales=by_day, first_day=first_day, recent=recent)
