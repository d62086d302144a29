"""A commit never passes an offset that was not acked (committed = the next offset to read)."""

import asyncio
from collections import defaultdict, namedtuple
from types import SimpleNamespace

import pytest
from intervaltree import IntervalTree

from bazaar_core.kafka import faust_fence
from bazaar_core.kafka.faust_fence import _new_offset

pytestmark = pytest.mark.unit


TP = namedtuple("TP", "topic partition")("events", 0)


def consumer(acked, committed):
    return SimpleNamespace(
        _acked=defaultdict(list, {TP: list(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}),
        _acked_index=defaultdict(set, {TP: set(acked)}),
    )


@pytest.fixture(autouse=True)
def full_history(monkeypatch):
    monkeypatch.setattr(faust_fence, "_FULL_HISTORY", {"events"})


@pytest.mark.parametrize("committed", [0, 5])
def test_a_hole_at_the_head_blocks_the_commit(committed):
    # Faust's own check lets these through: it skips committed == 0 and allows one missing offset
    assert _new_offset(consumer([committed + 1, committed + 2], committed), TP) is None


def test_consecutive_acks_commit_up_to_the_first_hole():
    c = consumer([0, 1, 2, 4], 0)
    assert _new_offset(c, TP) == 3
    assert c._acked[TP] == [4]


def test_known_gaps_count_as_acked():
    c = consumer([0, 3], 0)
    c._gap[TP].addi(1, 3)
    assert _new_offset(c, TP) == 4


def test_a_group_with_no_commit_starts_at_zero_on_a_full_history_topic():
    assert _new_offset(consumer([1, 2], None), TP) is None
    assert _new_offset(consumer([0, 1], None), TP) == 2


def compacted_at_resume():
    """Resumed at committed offset 5 of a compacted topic whose offsets 5..9 are gone: Faust's fetcher
    records the hole from the offset after the one it counts as read (6..9), not from 5."""
    c = consumer([10, 11], 5)
    c._gap[TP].addi(6, 10)
    return c


def test_a_compacted_topic_keeps_fausts_own_rule(monkeypatch):
    monkeypatch.setattr(faust_fence, "_FULL_HISTORY", set())
    assert _new_offset(compacted_at_resume(), TP) == 12
    # the strict rule would wait for offset 5 for ever: it is only for topics without holes
    monkeypatch.setattr(faust_fence, "_FULL_HISTORY", {"events"})
    assert _new_offset(compacted_at_resume(), TP) is None


# ---- the fetcher's per-message delivery (faust_fence._deliver) ------------------------------------


class _Fetching:
    """What ``_deliver`` uses of a Faust consumer: a mode Service with a ``suspend_flow`` event."""

    def __new__(cls):
        from mode import Service
        from mode.utils.locks import Event

        svc = Service()
        svc.suspend_flow = Event()
        return svc


def test_a_callback_that_does_not_suspend_runs_inline_without_tasks():
    import asyncio

    async def go():
        consumer, delivered = _Fetching(), []

        async def callback(message):
            delivered.append(message)
            return "put"

        tasks_before = len(asyncio.all_tasks())
        result = await faust_fence._deliver(consumer, callback("m1"), consumer.suspend_flow.wait())
        assert len(asyncio.all_tasks()) == tasks_before  # nothing was scheduled for it
        return result, delivered

    result, delivered = asyncio.run(go())
    assert delivered == ["m1"] and result.results == ["put"] and not result.stopped


def test_a_callback_that_suspends_is_carried_on_where_it_stopped():
    import asyncio

    async def go():
        consumer, room, steps = _Fetching(), asyncio.Event(), []

        async def callback(message):
            steps.append("first")
            await room.wait()  # a full queue
            steps.append("put")
            return message

        loop = asyncio.get_running_loop()
        loop.call_later(0.05, room.set)
        result = await faust_fence._deliver(consumer, callback("m2"), consumer.suspend_flow.wait())
        return result, steps

    result, steps = asyncio.run(go())
    assert steps == ["first", "put"] and "m2" in result.results and not result.stopped


def test_a_suspended_callback_is_abandoned_when_the_flow_is_suspended_as_faust_does():
    import asyncio

    async def go():
        consumer, never, steps = _Fetching(), asyncio.Event(), []

        async def callback(message):
            steps.append("first")
            try:
                await never.wait()
            except asyncio.CancelledError:
                steps.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.05, consumer.suspend_flow.set)  # a rebalance begins
        result = await asyncio.wait_for(faust_fence._deliver(consumer, callback("m3"), consumer.suspend_flow.wait()), 5)
        await asyncio.sleep(0.01)  # the abandoned delivery's cancellation runs
        return result, steps

    result, steps = asyncio.run(go())
    assert steps == ["first", "cancelled"] and "m3" not in result.results


def test_faust_consumers_wait_for_data_only_as_long_as_the_setting_says(monkeypatch, tmp_path):
    # Faust hard-codes 1,500 ms: a fetch of idle partitions held that long kept the busy ones waiting
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    from bazaar_core.settings import Settings
    from streams.app import make_app

    monkeypatch.setattr(AIOKafkaConsumerThread, "_create_worker_consumer", faust_fence._faust_worker_consumer)  # unpatched
    for name in ("ms", "min_bytes"):
        monkeypatch.setitem(faust_fence._FETCH_LIMITS, name, faust_fence._FETCH_LIMITS[name])
    settings = Settings(data_dir=tmp_path, stream_fetch_wait_ms=40)
    assert settings.stream_fetch_min_bytes == 65_536

    async def fetch_waits() -> list[tuple[int, int]]:  # aiokafka makes its consumers on a running loop
        app = make_app(settings)
        thread = app.consumer._thread

        def made() -> tuple[int, int]:
            consumer = thread._create_worker_consumer(app.transport)
            return consumer._fetch_max_wait_ms, consumer._fetch_min_bytes

        waits = [made()]  # Faust's own
        faust_fence.limit_fetch_wait(settings.stream_fetch_wait_ms, settings.stream_fetch_min_bytes)
        waits.append(made())
        faust_fence.limit_fetch_wait(25)  # the analytics process: answered as soon as there is data
        return [*waits, made()]

    assert asyncio.run(fetch_waits()) == [(1500, 1), (40, 65_536), (25, 1)]


def test_fast_lz4_reads_the_batches_aiokafka_reads(monkeypatch):
    """After ``fast_lz4`` aiokafka's record readers (the C extension's and the Python ones) decompress
    lz4 with python-lz4, and read the same records from a batch as before."""
    import aiokafka.codec
    import aiokafka.record.default_records as py_default
    import aiokafka.record.legacy_records as py_legacy
    from aiokafka.record._crecords import default_records as c_default
    from aiokafka.record._crecords import legacy_records as c_legacy
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    modules = (aiokafka.codec, py_default, py_legacy, c_default, c_legacy)
    for module in modules:  # restored after the test
        monkeypatch.setattr(module, "lz4_decode", module.lz4_decode)
    builder = DefaultRecordBatchBuilder(
        2,
        3,
        False,  # magic 2, lz4, not transactional
        -1,
        -1,
        -1,
        1 << 20,
    )  # producer id, epoch, base sequence, batch size
    values = [b'{"event_id":"%d","lines":[{"sku":"atta-5kg","quantity":"0.125"}]}' % i for i in range(50)]
    for i, value in enumerate(values):
        builder.append(i, timestamp=None, key=b"s-1", value=value, headers=[("bazaar-leg", b"in")])
    raw = bytes(builder.build())
    before = [(r.key, r.value, r.headers) for r in c_default.DefaultRecordBatch(raw)]

    assert faust_fence.fast_lz4() is True
    assert all(module.lz4_decode is faust_fence._lz4_frame_decode for module in modules)
    after_c = [(r.key, r.value, r.headers) for r in c_default.DefaultRecordBatch(raw)]
    after_py = [(r.key, r.value, r.headers) for r in py_default._DefaultRecordBatchPy(raw)]
    assert [v for _, v, _ in before] == values
    assert after_c == before and after_py == before


def test_the_analytics_process_commits_ledger_offsets_as_the_workers_commit_events(monkeypatch, tmp_path):
    # it ran on Faust's own rule, which can commit past a ledger message the sink never inserted
    from faust.transport.consumer import Consumer

    from bazaar_core.settings import Settings
    from clickhouse.app import build

    monkeypatch.setattr(faust_fence, "_FULL_HISTORY", set())
    monkeypatch.setattr(Consumer, "_new_offset", faust_fence._faust_new_offset)
    monkeypatch.setattr(Consumer, "wait_first", faust_fence._wait_first)
    settings = Settings(data_dir=tmp_path)
    pipeline = build(settings, None, None)
    assert Consumer._new_offset is faust_fence._new_offset and Consumer.wait_first is faust_fence._deliver
    assert faust_fence._FULL_HISTORY == {settings.ledger_topic}  # the catalog topics are compacted: Faust's rule
    # only the ledger's offsets have no holes, so only its sink reads skipped offsets from the broker
    assert {f.sink.table: f.contiguous for f in pipeline.feeds} == {
        "ledger": True,
        "stores": False,
        "products": False,
        "store_products": False,
    }


def test_the_fence_holds_on_the_pinned_versions():
    assert faust_fence.problems() == []


def test_the_fence_fires_on_a_renamed_or_changed_name(monkeypatch):
    import mode.utils.queues

    # a patched method rewritten upstream: its source no longer has the digest it was written against
    monkeypatch.setitem(faust_fence.REPLACED, "faust.transport.consumer.Consumer._new_offset", "0" * 16)
    # a private attribute renamed upstream
    monkeypatch.setitem(faust_fence.ATTRIBUTES, "mode.utils.queues.ThrowableQueue", ("_errors_renamed",))
    # a replaced name gone
    monkeypatch.setitem(faust_fence.REPLACED, "faust.transport.consumer.Consumer.wait_first_renamed", "0" * 16)
    found = faust_fence.problems()
    assert any("Consumer._new_offset changed upstream" in p for p in found)
    assert any("ThrowableQueue no longer has '_errors_renamed'" in p for p in found)
    assert any("Consumer.wait_first_renamed is gone" in p for p in found)
    with pytest.raises(faust_fence.FenceError, match="re-verify"):
        faust_fence.verify()
    assert mode.utils.queues.ThrowableQueue  # (still importable: only our expectations changed)


class _Recovering:
    """The parts of Faust's ``Recovery`` its changelog loop uses, with Faust's own methods for the
    remaining-offset checks and the buffer flush; it stops once the queue has been emptied."""

    from faust.tables.recovery import Recovery as _R

    need_recovery = _R.need_recovery
    active_remaining = _R.active_remaining
    standby_remaining = _R.standby_remaining
    standby_remaining_total = _R.standby_remaining_total
    flush_buffers = _R.flush_buffers
    num_samples_required_for_estimate = 1000

    def __init__(self, queue, table, active, highwaters):
        from collections import Counter, deque

        self.tables = SimpleNamespace(changelog_queue=queue, standbys_ready=False)
        self.tables.on_standbys_ready = lambda: setattr(self.tables, "standbys_ready", True)
        self.tp_to_table = dict.fromkeys(active, table)
        self.active_tps, self.standby_tps = set(active), set()
        self.active_offsets, self.standby_offsets = Counter(dict.fromkeys(active, -1)), Counter()
        self.active_highwaters, self.standby_highwaters = Counter(highwaters), Counter()
        self._active_events_received_at, self._standby_events_received_at = {}, {}
        self.buffers, self.buffer_sizes = defaultdict(list), {}
        self._processing_times, self._last_active_event_processed_at = deque(), None
        self._last_flush_at = None
        self._actives_span = self._standbys_span = None
        self.in_recovery = True
        self.signal_recovery_end = asyncio.Event()
        self.app = SimpleNamespace(in_transaction=False)
        self._queue = queue

    @property
    def should_stop(self):
        return self._queue.empty()

    def _set_recovery_ended(self):
        self.in_recovery = False


class _Table:
    recovery_buffer_size = standby_buffer_size = 3

    def __init__(self):
        self.applied = []  # each batch written, as (partition, offset, key, value) tuples

    async def on_changelog_event(self, event):
        pass

    def apply_changelog_batch(self, batch):
        self.applied.append([(e.message.tp.partition, e.message.offset, e.message.key, e.message.value) for e in batch])


def _changelog_event(tp, offset, key, value):
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, key=key, value=value))


def _recover(slurp, records, extra=()):
    from faust.types import TP as FaustTP
    from mode.utils.queues import FlowControlEvent, ThrowableQueue

    tps = [FaustTP("stock-changelog", 0), FaustTP("stock-changelog", 1)]

    async def go():
        queue = ThrowableQueue(maxsize=1000, flow_control=FlowControlEvent())
        for partition, offset, key, value in records:
            queue.put_nowait(_changelog_event(tps[partition], offset, key, value))
        for event in extra:
            queue.put_nowait(event)
        table = _Table()
        recovering = _Recovering(queue, table, tps, {tps[0]: 6, tps[1]: 3})
        await slurp(recovering)
        return table.applied, recovering

    return asyncio.run(go())


RECORDS = [  # (partition, offset, key, value); a value None deletes the key
    (0, 0, b"s1|a", b"1"),
    (1, 0, b"s2|a", b"5"),
    (0, 1, b"s1|b", b"2"),
    (0, 2, b"s1|a", None),
    (1, 1, b"s2|b", b"6"),
    (0, 1, b"s1|b", b"stale"),  # re-delivered below the offset already seen: skipped
    (0, 3, b"s1|a", b"3"),
    (1, 2, b"s2|a", None),
    (0, 4, b"s1|c", b"4"),
    (0, 5, b"s1|b", b"7"),
    (1, 3, b"s2|c", b"8"),
    (0, 6, b"s1|c", None),
]


def test_the_bulk_changelog_loop_writes_what_fausts_loop_writes_and_ends_recovery():
    ours, ours_state = _recover(faust_fence._slurp_changelogs, RECORDS)
    theirs, theirs_state = _recover(faust_fence._faust_slurp, RECORDS)
    assert ours == theirs  # the same batches, in the same order, deletes included
    written = [r for batch in ours for r in batch]
    assert (0, 1, b"s1|b", b"stale") not in written and len(written) == len(RECORDS) - 1
    assert all(len(batch) <= _Table.recovery_buffer_size for batch in ours)
    for state in (ours_state, theirs_state):
        assert dict(state.active_offsets) == dict(state.active_highwaters)
        assert not state.in_recovery and state.signal_recovery_end.is_set() and state.tables.standbys_ready
        assert not any(state.buffers.values())  # the tail was flushed when recovery ended


def test_a_changelog_event_of_a_partition_not_recovering_is_dropped():
    from faust.types import TP as FaustTP

    stray = _changelog_event(FaustTP("stock-changelog", 7), 0, b"s9|a", b"9")
    applied, state = _recover(faust_fence._slurp_changelogs, RECORDS, extra=[stray])
    assert [r for batch in applied for r in batch if r[0] == 7] == []
    assert not state.in_recovery
