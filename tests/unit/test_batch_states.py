"""BatchStates: the stock table as one batch sees it (read once, written once per key, right partition)."""

from datetime import timedelta

import orjson
import pytest
import rocksdict
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import apply_event
from domain.stock import StockState
from schemas.events import EventAdapter
from streams.codec import MOVES_PREFIX, KeyMoves, decode, encode, encode_header
from streams.state import BatchStates
from tests.unit.eventgen import T0, events, unique_ids
from tests.unit.test_stock_properties import deliveries

pytestmark = pytest.mark.unit


def _event(kind: str, store: str, lines: list[tuple[str, str]], minute: int):
    import uuid
    from datetime import timedelta

    return EventAdapter.validate_python(
        {
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "store_id": store,
            "terminal_id": "t1",
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "lines": [{"sku": sku, "quantity": q, **({"unit_price": "10"} if kind == "sale" else {})} for sku, q in lines],
        }
    )


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
    assert table.data._key_index == {}  # Faust's cache of which partition a key is in: ours read by partition
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


def test_the_cache_keeps_the_most_recently_written_keys(tmp_path):
    table = FakeTable(tmp_path)
    states = BatchStates(table, cache_keys=3)
    for minute, skus in enumerate([["rice", "dal"], ["oil"], ["rice"], ["salt", "tea", "sugar", "atta"], ["tea"]]):
        apply_event(states, sale("s1", [(sku, "1") for sku in skus], minute=minute))
        states.flush(lambda *a: None)
        assert len(states._cache) <= 3
    # written last: atta (batch 4), then tea (batch 5, again); sugar is the third most recent
    assert list(states._cache) == ["s1|sugar", "s1|atta", "s1|tea"]
    apply_event(states, sale("s1", [("sugar", "1")], minute=9))  # a cached state is updated in place
    states.flush(lambda *a: None)
    assert list(states._cache) == ["s1|atta", "s1|tea", "s1|sugar"] and states.get("s1|sugar").on_hand == -2_000


def test_movements_appended_to_a_stored_state_round_trip_without_parsing(tmp_path):
    from streams.codec import LazyMoves

    state = decode(encode(StockState(moves={"a": [1, -1000, "d1", 0]}, moved=-1000, oldest=1)))
    assert isinstance(state.moves, LazyMoves)
    assert state.moves.get("b") is None and state.moves._dict is None  # answered from the stored text
    state.moves["b"] = [2, -500, "d2", -1000]
    assert state.moves._dict is None
    again = decode(encode(state))
    assert dict(again.moves) == {"a": [1, -1000, "d1", 0], "b": [2, -500, "d2", -1000]}
    assert again.moves.get("a") == [1, -1000, "d1", 0]  # a known id parses, and is found


def _flush(states) -> list[tuple[int, bytes, bytes | None]]:
    sent: list[tuple[int, bytes, bytes | None]] = []
    states.flush(lambda partition, key, value: sent.append((partition, key, value)))
    return sent


def _moves_in(db, key: bytes) -> dict[bytes, bytes]:
    return {k: v for k, v in db.items() if k.startswith(MOVES_PREFIX + key + b"|")}


def test_a_busy_key_is_one_record_per_batch_so_a_crash_never_splits_it(tmp_path):
    # Spilled movements (one record each, then the state) let a batch cut short by a crash leave a
    # key's new movements without the state that counts them; a replayed event found there was
    # taken for a duplicate and lost. However busy, a key is one record now.
    table = FakeTable(tmp_path)
    states = BatchStates(table, cache_keys=10)
    for minute in range(200):
        apply_event(states, sale("s1", [("milk", "1")], minute=minute))
        sent = _flush(states)
        assert [k for _, k, _ in sent] == [b"s1|milk"]
    db = table.data._db_for_partition(0)
    assert _moves_in(db, b"s1|milk") == {}
    fresh = BatchStates(table)
    assert fresh.get("s1|milk").on_hand == -200_000 and len(fresh.get("s1|milk").moves) == 200


def _store_spilled(table, store: str, sku: str, minutes) -> StockState:
    """A key as the earlier layout stored a busy one: the header, each movement under its own key."""
    plain: dict = {}
    for minute in minutes:
        apply_event(plain, sale(store, [(sku, "1")], minute=minute))
    state = plain[f"{store}|{sku}"]
    db = table.data._db_for_partition(0)
    key = f"{store}|{sku}".encode()
    for event_id, move in state.moves.items():
        db[MOVES_PREFIX + key + b"|" + event_id.encode()] = orjson.dumps(move)
    db[key] = encode_header(state)
    return state


def test_a_spilled_key_is_read_then_written_back_as_one_value(tmp_path):
    table = FakeTable(tmp_path)
    want = _store_spilled(table, "s1", "rice", range(40))
    states = BatchStates(table)
    got = states.get("s1|rice")
    assert isinstance(got.moves, KeyMoves) and got.on_hand == want.on_hand and dict(got.moves) == dict(want.moves)
    ev = sale("s1", [("rice", "1")], minute=500)
    apply_event(states, ev)
    sent = _flush(states)
    assert sent[0][1] == b"s1|rice" and sent[0][2] is not None  # the whole state first ...
    assert all(v is None and k.startswith(MOVES_PREFIX) for _, k, v in sent[1:]) and len(sent) == 41  # ... then the tombstones
    db = table.data._db_for_partition(0)
    assert _moves_in(db, b"s1|rice") == {}
    again = BatchStates(table).get("s1|rice")
    assert again.on_hand == want.on_hand - 1000 and len(again.moves) == 41
    [applied] = apply_event(BatchStates(table), ev)  # a replay after that counts once
    assert applied.result.outcome.value == "duplicate"


def test_a_spilled_key_cut_short_by_a_crash_is_whole_either_way(tmp_path):
    # the changelog has the rewritten value and only some of the tombstones: leftover movement keys
    # are ignored, since the value holds the movements
    table = FakeTable(tmp_path)
    _store_spilled(table, "s1", "rice", range(40))
    states = BatchStates(table)
    apply_event(states, sale("s1", [("rice", "1")], minute=500))
    sent = _flush(states)
    rebuilt = FakeTable(tmp_path / "rebuilt")
    db = rebuilt.data._db_for_partition(0)
    for _, key, value in sent[:5]:  # the value and four tombstones reached the broker
        if value is None:
            db.delete(key)
        else:
            db[key] = value
    for k, v in _moves_in(table.data._db_for_partition(0), b"s1|rice").items():
        db[k] = v
    state = BatchStates(rebuilt).get("s1|rice")
    assert state.on_hand == -41_000 and len(state.moves) == 41


def test_a_count_drops_the_movements_it_covers(tmp_path):
    table = FakeTable(tmp_path)
    states = BatchStates(table)
    for minute in range(1, 41):
        apply_event(states, sale("s1", [("rice", "1")], minute=minute))
        _flush(states)
    apply_event(states, count("s1", [("rice", "10")], minute=30))
    _flush(states)
    state = BatchStates(table).get("s1|rice")
    assert state.on_hand == 10_000 - 10_000 and len(state.moves) == 10  # the sales at minutes 1 to 30 are inside the count


def test_a_dead_movement_left_by_a_lost_tombstone_is_skipped_and_deleted_again(tmp_path):
    # the worker's RocksDB ran ahead of the changelog (a crash) and the tombstone of a folded
    # movement never reached it: a worker recovering from the changelog finds the key again
    table = FakeTable(tmp_path)
    db = table.data._db_for_partition(0)
    state = StockState(base=-5_000, folded_until=1_000)  # the movement at 900 is folded into base
    db[b"s1|rice"] = b"x"  # (the stock key exists; its value is not read here)
    db[MOVES_PREFIX + b"s1|rice|old"] = b'[900,-5000,"d",0]'
    moves = KeyMoves(db, b"s1|rice", state)
    assert moves.get("old") is None and len(moves) == 0 and dict(moves) == {}  # not counted twice
    assert moves.drain() == [(MOVES_PREFIX + b"s1|rice|old", None)]  # deleted again


def test_a_movement_is_dead_by_its_receive_time_and_a_late_one_stays_live(tmp_path):
    # receive times: a movement received before the fold horizon was folded (its key is dead); one
    # that occurred long ago but was received after the horizon is live, however old its sale
    table = FakeTable(tmp_path)
    db = table.data._db_for_partition(0)
    state = StockState(base=-5_000, folded_until=5_000, horizon=10_000, moved=-300, oldest=10_500)
    db[MOVES_PREFIX + b"s1|rice|folded"] = b'[9000,-5000,"d",0,9500]'  # received before the horizon
    db[MOVES_PREFIX + b"s1|rice|late"] = b'[100,-300,"d",-5000,10500]'  # sold long ago, synced late
    moves = KeyMoves(db, b"s1|rice", state, count=1)
    assert moves.get("folded") is None and moves.get("late") == [100, -300, "d", -5000, 10500]
    assert dict(moves) == {"late": [100, -300, "d", -5000, 10500]}
    assert (MOVES_PREFIX + b"s1|rice|folded", None) in moves.drain()  # deleted again
    # a state from before receive times (no horizon): a four-item movement at or before folded_until is dead
    old = StockState(base=-5_000, folded_until=1_000)
    db[MOVES_PREFIX + b"s2|rice|old"] = b'[1000,-5000,"d",0]'
    db[MOVES_PREFIX + b"s2|rice|kept"] = b'[1001,-1,"d",-5000]'
    assert dict(KeyMoves(db, b"s2|rice", old)) == {"kept": [1001, -1, "d", -5000]}


def test_values_of_the_first_layout_are_read_and_rewritten(tmp_path):
    table = FakeTable(tmp_path)
    db = table.data._db_for_partition(0)
    at = int(T0.timestamp()) * 1_000_000  # inside the late window of the sale below
    db[b"s1|dal"] = orjson.dumps(
        [None, "", 0, "", 0, 0, 0, None, None, {"b": [at, -500, "d2", 0]}, [{}, [], None, []], -500, at]
    )  # one array, the movements inside
    states = BatchStates(table)
    assert states.get("s1|dal").on_hand == -500 and dict(states.get("s1|dal").moves) == {"b": [at, -500, "d2", 0]}
    ev = sale("s1", [("dal", "1")], minute=5)
    apply_event(states, ev)
    _flush(states)
    header, moves = db[b"s1|dal"].split(b"\n")
    assert len(orjson.loads(header)) == 13 and set(orjson.loads(moves)) == {"b", str(ev.event_id)}
    fresh = BatchStates(table)
    assert fresh.get("s1|dal").on_hand == -1_500 and fresh.get("s1|dal").moves.get("b") == [at, -500, "d2", 0]


@settings(max_examples=150, deadline=None)
@given(st.lists(events(), min_size=1, max_size=20).map(unique_ids), st.data())
def test_batches_restarts_and_a_rebuilt_changelog_agree_with_the_plain_rules(tmp_path_factory, evs, data):
    """Any arrival (with re-sends), applied through BatchStates in batches of any size, with restarts
    (nothing cached) and late receipts (movements folded, counts deleting movements), gives what the
    plain rules give over a dict; so does a table rebuilt from the changelog records alone."""
    legs = deliveries(evs)
    arrival = data.draw(st.permutations(legs + data.draw(st.lists(st.sampled_from(legs), max_size=8))))
    received = data.draw(st.lists(st.integers(0, 3), min_size=len(arrival), max_size=len(arrival)))  # days after T0
    cuts = data.draw(st.lists(st.booleans(), min_size=len(arrival), max_size=len(arrival)))
    restarts = data.draw(st.lists(st.booleans(), min_size=len(arrival), max_size=len(arrival)))
    table, rebuilt = FakeTable(tmp_path_factory.mktemp("t")), FakeTable(tmp_path_factory.mktemp("r"))
    plain: dict = {}
    states = BatchStates(table, cache_keys=data.draw(st.sampled_from([0, 2, 100])))
    changelog: list = []
    _apply_in_batches(arrival, received, cuts, restarts, plain, states, table, changelog)
    for partition, key, value in changelog:  # what a worker recovering from the changelog writes
        db = rebuilt.data._db_for_partition(partition)
        if value is None:
            db.delete(key)
        else:
            db[key] = value
    for source in (BatchStates(table), BatchStates(rebuilt)):
        for key, want in plain.items():
            got = source.get(key)
            assert (got.on_hand, got.base, got.folded_until, got.count_at, got.horizon) == (
                want.on_hand,
                want.base,
                want.folded_until,
                want.count_at,
                want.horizon,
            )
            assert len(got.moves) == len(want.moves) and dict(got.moves) == dict(want.moves)  # (the count is kept, not scanned)


def _apply_in_batches(arrival, received, cuts, restarts, plain, states, table, changelog) -> None:
    for (event, leg), days, cut, restart in zip(arrival, received, cuts, restarts):
        at = int((T0 + timedelta(days=days)).timestamp()) * 1_000_000
        for target in (plain, states):
            apply_event(target, event, leg=leg, window_days=1, received_at_us=at)
        if cut:
            changelog += _flush(states)
            if restart:
                states = BatchStates(table)
    changelog += _flush(states)


def test_a_spilled_state_is_freed_without_the_cycle_collector(tmp_path):
    # a worker drops tens of thousands of decoded states a minute; a state <-> movements cycle
    # would leave each for a full collection (which the worker spaces out) to free
    import gc
    import weakref

    table = FakeTable(tmp_path)
    _store_spilled(table, "s1", "milk", range(40))
    gc.disable()
    try:
        state = BatchStates(table).get("s1|milk")
        assert isinstance(state.moves, KeyMoves) and len(state.moves) == 40
        gone = weakref.ref(state)
        del state
        assert gone() is None
    finally:
        gc.enable()


def test_a_stored_state_from_before_receive_times_keeps_its_horizon_when_a_late_message_raises_folded_until(tmp_path):
    # a pre-receive-time state (folded up to 1,000, no horizon) whose movements have keys of their
    # own; a message received before its horizon folds at once and raises folded_until to its own
    # time: the movements still kept must stay counted, not be taken for folded ones and dropped
    from domain.stock import Outcome, apply_movement

    db = FakeTable(tmp_path).data._db_for_partition(0)
    state = StockState(base=-5_000, folded_until=1_000, moved=-2_000, oldest=1_500)
    db[MOVES_PREFIX + b"s1|rice|a"] = b'[1500,-1000,"d",-5000]'
    db[MOVES_PREFIX + b"s1|rice|b"] = b'[3000,-1000,"d",-6000]'
    state.moves = KeyMoves(db, b"s1|rice", state, count=2)
    result = apply_movement(state, "late", 2_000, -500, "d", received_at=900, window=10)
    assert result.outcome is Outcome.BEYOND_WINDOW and (result.before, result.after) == (-7_000, -7_500)
    assert state.on_hand == -7_500 and set(state.moves) == {"a", "b"} and state.horizon == 1_001
