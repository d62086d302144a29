"""BatchStates: the stock table as one batch sees it (read once, written once per key, right partition)."""
import pytest
import rocksdict

from domain.events import apply_event
from domain.stock import StockState
from schemas.events import EventAdapter
from streams.state import BatchStates, decode, encode
from tests.unit.eventgen import T0

pytestmark = pytest.mark.unit


def _event(kind: str, store: str, lines: list[tuple[str, str]], minute: int):
    import uuid
    from datetime import timedelta

    return EventAdapter.validate_python({
        "event_id": str(uuid.uuid4()), "type": kind, "store_id": store, "terminal_id": "t1",
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "lines": [{"sku": sku, "quantity": q, **({"unit_price": "10"} if kind == "sale" else {})} for sku, q in lines],
    })


def sale(store, lines, minute):
    return _event("sale", store, lines, minute)


def count(store, lines, minute):
    return _event("count", store, lines, minute)


class FakeStore:
    """The two things BatchStates uses of faust.stores.rocksdb.Store: per-partition DBs and the key index."""

    def __init__(self, root):
        self.root = root
        self._dbs: dict[int, rocksdict.Rdict] = {}
        self._key_index: dict[bytes, int] = {}

    def _db_for_partition(self, partition: int) -> rocksdict.Rdict:
        if partition not in self._dbs:
            self._dbs[partition] = rocksdict.Rdict(str(self.root / f"p{partition}"), options=rocksdict.Options(raw_mode=True))
        return self._dbs[partition]


class FakeTable:
    def __init__(self, root):
        self.data = FakeStore(root)


def test_a_key_touched_by_many_events_is_written_once_to_its_partition(tmp_path):
    table = FakeTable(tmp_path)
    table.data._db_for_partition(1)[b"s1|rice"] = encode(StockState(count_at=1, count_id="c0", count_qty=10_000))
    states = BatchStates(table)
    sent: list[tuple[int, bytes, bytes]] = []

    states.partition = 1
    apply_event(states, sale("s1", [("rice", "1.250")], minute=5))
    apply_event(states, sale("s1", [("rice", "0.125"), ("dal", "2")], minute=6))
    states.partition = 2
    apply_event(states, count("s2", [("rice", "7")], minute=7))
    assert sorted(states) == ["s1|dal", "s1|rice", "s2|rice"]

    assert states.flush(lambda partition, key, value: sent.append((partition, key, value))) == 3
    assert sorted((p, k) for p, k, _ in sent) == [(1, b"s1|dal"), (1, b"s1|rice"), (2, b"s2|rice")]
    db1, db2 = table.data._db_for_partition(1), table.data._db_for_partition(2)
    assert decode(db1[b"s1|rice"]).on_hand == 10_000 - 1_250 - 125  # exact milli-units, read from RocksDB
    assert decode(db1[b"s1|dal"]).on_hand == -2_000  # a sale that happened happened
    assert decode(db2[b"s2|rice"]).on_hand == 7_000 and db2.get(b"s1|rice") is None
    assert {k: v for p, k, v in sent} == {b"s1|rice": db1[b"s1|rice"], b"s1|dal": db1[b"s1|dal"], b"s2|rice": db2[b"s2|rice"]}
    assert table.data._key_index == {b"s1|rice": 1, b"s1|dal": 1, b"s2|rice": 2}
    assert len(states) == 0 and states.flush(lambda *a: sent.append(a)) == 0


def test_a_replayed_event_reads_the_written_state_and_counts_once(tmp_path):
    table = FakeTable(tmp_path)
    ev = sale("s1", [("rice", "1")], minute=5)
    for _ in range(2):  # the same event in two batches (a crash replay)
        states = BatchStates(table)
        states.partition = 0
        [applied] = apply_event(states, ev)
        states.flush(lambda *a: None)
    assert applied.result.outcome.value == "duplicate" and (applied.result.before, applied.result.after) == (0, -1_000)
    assert decode(table.data._db_for_partition(0)[b"s1|rice"]).on_hand == -1_000


def test_cached_states_skip_rocksdb_until_a_rebalance_forgets_them(tmp_path):
    table = FakeTable(tmp_path)
    states = BatchStates(table, cache_keys=2)
    for minute, sku in enumerate(["rice", "dal", "oil"]):
        apply_event(states, sale("s1", [(sku, "1")], minute=minute))
        states.flush(lambda *a: None)
    db = table.data._db_for_partition(0)
    db[b"s1|oil"] = encode(StockState(count_at=1, count_id="c", count_qty=42_000))  # what a recovery might write
    assert states.get("s1|oil").on_hand == -1_000  # cached (one of the two most recently written)
    assert states.get("s1|rice").on_hand == -1_000  # evicted: read back from RocksDB
    states.forget()
    assert states.get("s1|oil").on_hand == 42_000


def test_movements_appended_to_a_stored_state_round_trip_without_parsing(tmp_path):
    from streams.state import LazyMoves

    state = decode(encode(StockState(moves={"a": [1, -1000, "d1", 0]}, moved=-1000, oldest=1)))
    assert isinstance(state.moves, LazyMoves)
    assert state.moves.get("b") is None and state.moves._dict is None  # answered from the stored text
    state.moves["b"] = [2, -500, "d2", -1000]
    assert state.moves._dict is None
    again = decode(encode(state))
    assert dict(again.moves) == {"a": [1, -1000, "d1", 0], "b": [2, -500, "d2", -1000]}
    assert again.moves.get("a") == [1, -1000, "d1", 0]  # a known id parses, and is found
