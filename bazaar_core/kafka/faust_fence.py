"""The fence around Faust's, aiokafka's and mode's private names: every use of one is in this module.

Re-verify on every upgrade of faust-streaming, aiokafka or mode-streaming (pinned together in
pyproject.toml). ``verify()`` runs when a Faust app is built (``apply``) and fails loudly if a name
below is gone or a replaced function is no longer the code it was written against.

Replaced (patched) names, each with the upstream bug or limit it works around:
  faust.transport.consumer.Consumer._new_offset      commits past an unacked offset after a
      rebalance (the head-of-list hole check is skipped at 0 and off by one; faust-streaming #606
      is the same family: concurrency > 1 commits past unprocessed messages)
  faust.transport.consumer.Consumer.wait_first        four tasks and an asyncio.wait per message
  faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._create_worker_consumer
      fetch_max_wait_ms hard-coded to 1500 ms: stalls busy partitions behind idle ones
  aiokafka.codec / record readers: lz4_decode         cramjam's fixed cost per small batch
  faust.tables.recovery.Recovery._slurp_changelogs    one changelog event per wake-up, with a scan of
      every partition's offsets and three debug strings formatted per event (``fast_recovery``)
Private state read or written (accessors at the end of this module):
  Consumer._committed_offset, ._acked, ._acked_index  committed offsets (the one place that reads
      them: ``committed_offset``) and acking an offset read past Faust to fill a gap
  AIOKafkaConsumer._fetch_max_wait_ms, ._fetch_min_bytes
  faust.stores.rocksdb.Store._db_for_partition        one RocksDB per partition (``partition_db``)
  mode.utils.queues.ThrowableQueue._errors            a channel's pending errors (``queue_has_errors``)
  Recovery.completed                                  tables recovered at least once (``recovered_once``)

Corrections to faust-streaming's offset commits, and one fast path, applied when the stream app is built.

Faust computes the offset to commit from the list of acked offsets. Its check for a hole at the
head of that list (``_new_offset``) is skipped while the committed offset is None or 0 (``if
committed_offset:``) and is off by one otherwise (the committed offset is the *next* offset to
read, yet it allows ``min(acked) == committed + 1``). During a rebalance, messages fetched in the
old generation are skipped without being applied, so the next commit could jump past an event no
worker ever applied: our tests lost the first event of a partition that way. Here a commit never
passes an offset that was not acked, on the topics given to ``apply``: those that keep their whole
history uncompacted (the events and ledger topics: retention.ms=-1), whose offsets start at 0 and
have no holes, so for a group that has committed nothing yet the floor is 0. A compacted topic's
offsets do have holes, which Faust's own rule (kept for them) steps over.

The fetch wait (``limit_fetch_wait``): Faust creates its aiokafka consumer with a hard-coded
``fetch_max_wait_ms=1500``. aiokafka sends one fetch at a time to a broker, leaving out partitions
whose fetched records are not consumed yet; when only idle partitions are left in it (Faust's
``__leader`` topic, a quiet catalog topic), the broker holds it for the whole wait and the busy
partitions are not fetched until it returns: on one broker, a stall of up to 1.5 s, over and over,
under a steady load.

The fast path (``_deliver``): Faust's fetcher hands every message to the topic's channels with
``await self.wait_first(callback(message), self.suspend_flow.wait())``, which makes four tasks and
an ``asyncio.wait`` per message. Nearly always the
callback finishes without suspending (its queue has room), so it is stepped once here, inline; the
original path takes over, with the coroutine where it stopped, only if it does suspend.

The lz4 codec (``fast_lz4``): aiokafka decompresses each lz4 record batch with cramjam, whose call
has a larger fixed overhead per batch than python-lz4's ``lz4.frame.decompress``. The API's
producer sends small batches at a steady load (a POST's few events per partition), so that
overhead is paid nearly once per event.
Both read the standard LZ4 frame format Kafka uses (KIP-57).

Seeding a new group's offsets (``seed_committed_offsets``) reads them with a consumer of the group,
not with the admin client's ListConsumerGroupOffsets, which makes librdkafka crash on a starting
broker (see its docstring and docs/librdkafka-segfault.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Set as AbstractSet
from typing import Any

from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP
from faust.utils.functional import consecutive_numbers
from faust.utils.tracing import finish_span
from mode.services import WaitResults

from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.kafka.faust_fence")
_MEMBERS_ACTIVE = {
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.REBALANCE_IN_PROGRESS,
    getattr(KafkaError, "NON_EMPTY_GROUP", -999),
}


def _new_offset(self: Consumer, tp: TP) -> int | None:
    if tp.topic not in _FULL_HISTORY:
        return _faust_new_offset(self, tp)  # a compacted topic: holes are normal there
    acked = self._acked[tp]
    if not acked:
        return None
    max_offset = max(acked)
    gap_for_tp = self._gap[tp]
    if gap_for_tp:  # offsets the fetcher knows are absent (compaction, control records): count as acked
        candidates = sorted(gap_for_tp.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            stuff_to_add = [o for entry in candidates for o in range(entry.begin, entry.end)]
            acked.extend(stuff_to_add)
            gap_for_tp.chop(0, max(stuff_to_add[-1], max_offset + 1))
    acked.sort()
    committed = self._committed_offset[tp]  # the next offset to read
    if committed is None:
        committed = 0  # nothing committed yet, and the topic keeps everything: offset 0 comes first
    if acked[0] > committed:
        return None  # the offset ``committed`` was never acked: wait for it (it is re-fetched after a seek)
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return batch[-1] + 1


_FULL_HISTORY: set[str] = set()  # topics that keep everything, uncompacted: no holes, and a group with no commit starts at 0
_faust_new_offset = Consumer._new_offset  # (taken before ``apply`` replaces it)


_wait_first = Consumer.wait_first


async def _deliver(self: Consumer, *coros: Any, timeout: Any = None) -> WaitResults:
    """``Consumer.wait_first`` for the fetcher's per-message call ``(callback(message),
    suspend_flow.wait())``: step the callback inline; if it finishes, that is the answer the
    original would give (its task runs first and finishes in its first step, and the flow is not
    suspended). If it suspends (a full queue), hand it, as it stands, to the original."""
    if (
        timeout is not None
        or len(coros) != 2
        or not asyncio.iscoroutine(coros[0])
        or self.suspend_flow.is_set()
        or self._stopped.is_set()
        or self._crashed.is_set()
    ):
        return await _wait_first(self, *coros, timeout=timeout)
    deliver, flow = coros
    try:
        yielded = deliver.send(None)
    except StopIteration as done:
        if asyncio.iscoroutine(flow):
            flow.close()  # never started: nothing to wait for
        return WaitResults([deliver], [done.value], False)
    return await _wait_first(self, _Resumed(deliver, yielded), flow)


class _Resumed:
    """An awaitable that carries on a coroutine already stepped once (it yielded ``first``)."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro, first) -> None:
        self._coro, self._first = coro, first

    def __await__(self):
        coro, yielded = self._coro, self._first
        while True:
            try:
                sent = yield yielded  # to the task running us, as the coroutine itself would
            except BaseException as exc:  # cancelled (the flow was suspended) or thrown in
                try:
                    yielded = coro.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as done:
                return done.value


_faust_slurp = Recovery._slurp_changelogs.fun  # the ServiceTask's function (a task the service starts)
SLURP_MAX = 8192  # most changelog events taken from the queue in one go (the loop yields between takes)


async def _slurp_changelogs(self: Recovery) -> None:
    """Faust's ``Recovery._slurp_changelogs``, taking every changelog event already queued (up to
    ``SLURP_MAX``) per wake-up instead of one: per event it does the same bookkeeping (offsets seen,
    the table's buffer, flushed at its ``recovery_buffer_size``), but the end-of-recovery and standby
    checks, which scan every partition, run once per take, and no debug line is formatted per event
    (Faust's formats three, logged or not). An event of a partition neither active nor standby is
    dropped with a warning (Faust's falls through into the previous event's table)."""
    changelog_queue = self.tables.changelog_queue
    get_nowait = changelog_queue.get_nowait
    tp_to_table = self.tp_to_table
    active_tps = self.active_tps
    standby_tps = self.standby_tps
    active_offsets = self.active_offsets
    standby_offsets = self.standby_offsets
    active_events_received_at = self._active_events_received_at
    standby_events_received_at = self._standby_events_received_at
    buffers = self.buffers
    buffer_sizes = self.buffer_sizes
    processing_times = self._processing_times
    max_samples = self.num_samples_required_for_estimate

    async def maybe_signal_recovery_end(timeout: bool = False, timeout_count: int = 0) -> None:
        if timeout and self.app.in_transaction and timeout_count > 1:
            await detect_aborted_tx()
        if self.in_recovery and not self.need_recovery():
            self.flush_buffers()  # apply anything stuck in the buffers
            self._set_recovery_ended()
            if self._actives_span is not None:
                self._actives_span.set_tag("Actives-Ready", True)
            self.signal_recovery_end.set()

    async def detect_aborted_tx() -> None:
        offsets = self.active_offsets
        for tp, highwater in self.active_highwaters.items():
            if highwater is not None and offsets[tp] is not None and offsets[tp] < highwater:
                position = await self.app.consumer.position(tp)
                if position is not None and position >= highwater:
                    log.info("aborted transactions until the high watermark", extra={"tp": str(tp)})
                    offsets[tp] = highwater

    timeout_count = 0
    while not self.should_stop:
        try:
            self.signal_recovery_end.clear()
            try:
                first = await asyncio.wait_for(changelog_queue.get(), timeout=5.0)
            except TimeoutError:
                timeout_count += 1
                if self.should_stop:
                    return
                await maybe_signal_recovery_end(timeout=True, timeout_count=timeout_count)
                continue
            timeout_count = 0
            events = [first]
            try:
                while len(events) < SLURP_MAX:
                    events.append(get_nowait())
            except asyncio.QueueEmpty:
                pass
            now = time.monotonic()
            actives = 0
            for event in events:
                message = event.message
                tp = message.tp
                offset = message.offset
                if tp in active_tps:
                    offsets = active_offsets
                    table = tp_to_table[tp]
                    bufsize = buffer_sizes.get(tp)
                    if bufsize is None:
                        bufsize = buffer_sizes[tp] = table.recovery_buffer_size
                    active_events_received_at[tp] = now
                elif tp in standby_tps:
                    offsets = standby_offsets
                    table = tp_to_table[tp]
                    bufsize = buffer_sizes.get(tp)
                    if bufsize is None:
                        bufsize = buffer_sizes[tp] = table.standby_buffer_size
                        standby_events_received_at[tp] = now
                else:
                    log.warning("changelog event of a partition not recovering, dropped", extra={"tp": str(tp), "offset": offset})
                    continue
                seen = offsets.get(tp)
                if seen is None or offset > seen:
                    offsets[tp] = offset
                    buf = buffers[table]
                    buf.append(event)
                    await table.on_changelog_event(event)
                    if len(buf) >= bufsize:
                        table.apply_changelog_batch(buf)
                        buf.clear()
                        self._last_flush_at = now
                    if offsets is active_offsets:
                        actives += 1
            if actives:  # the per-event time of the take, as Faust's remaining-time estimate samples it
                now_after = time.monotonic()
                last = self._last_active_event_processed_at
                if last is not None:
                    per_event = (now_after - last) / actives
                    processing_times.extend([per_event] * min(actives, max_samples))
                    while len(processing_times) > max_samples:
                        processing_times.popleft()
                self._last_active_event_processed_at = now_after
            await maybe_signal_recovery_end()
            standby_ready = self._standbys_span is None and self.tables.standbys_ready
            if not standby_ready and not self.standby_remaining_total():
                if self._standbys_span:
                    finish_span(self._standbys_span)
                    self._standbys_span = None
                self.tables.on_standbys_ready()
        except Exception as exc:  # as Faust's: a failed take is logged, recovery goes on
            log.warning("error in recovery", extra={"error": repr(exc)})


def fast_recovery() -> None:
    """Changelog events are taken from the recovery queue in bulk from now on (``_slurp_changelogs``)."""
    Recovery._slurp_changelogs.fun = _slurp_changelogs  # the fence's patch (read when the service starts its tasks)


_faust_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer
_FETCH_LIMITS = {"ms": 1500, "min_bytes": 1}  # longest fetch wait, least data to answer with: Faust's and aiokafka's until limit_fetch_wait


def _create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> Any:
    consumer = _faust_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = _FETCH_LIMITS["ms"]  # read by its Fetcher, made when it starts
    consumer._fetch_min_bytes = _FETCH_LIMITS["min_bytes"]
    return consumer


def limit_fetch_wait(ms: int, min_bytes: int = 1) -> None:
    """Every Faust consumer made from now on asks the broker to wait at most ``ms`` for data, and
    to answer before that once it has ``min_bytes``."""
    _FETCH_LIMITS["ms"] = ms
    _FETCH_LIMITS["min_bytes"] = min_bytes
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]  # the fence's patch


_lz4_frame: Any = None  # python-lz4's lz4.frame, once fast_lz4 has loaded it


def _lz4_frame_decode(payload) -> bytes:
    return _lz4_frame.decompress(payload)


def fast_lz4() -> bool:
    """aiokafka's record batches (C and Python readers) decompress lz4 with python-lz4 from now on;
    False (nothing changed) when python-lz4 is not installed."""
    global _lz4_frame
    try:
        import lz4.frame as _lz4_frame
    except ImportError:
        return False
    import aiokafka.codec
    import aiokafka.record.default_records
    import aiokafka.record.legacy_records

    modules = [aiokafka.codec, aiokafka.record.default_records, aiokafka.record.legacy_records]
    try:
        from aiokafka.record._crecords import default_records as c_default
        from aiokafka.record._crecords import legacy_records as c_legacy

        modules += [c_default, c_legacy]
    except ImportError:  # aiokafka without its C extension: the Python readers
        pass
    for module in modules:
        if hasattr(module, "lz4_decode"):
            module.lz4_decode = _lz4_frame_decode
    return True


def apply(full_history_topics: AbstractSet[str] = frozenset()) -> None:
    verify()
    _FULL_HISTORY.update(full_history_topics)
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]  # the fence's patches
    Consumer.wait_first = _deliver  # type: ignore[method-assign,assignment]


def worker(app: Any, loglevel: str) -> Any:
    """The Faust worker of ``bazaar worker`` and ``bazaar analytics``: it logs only through this
    process's logging (``bazaar_core.logs``). Faust's start-up spinner is off: it writes terminal
    escapes and backspaces to stdout even when stdout is a log file. From the moment the worker
    begins to stop, ``bazaar_core.logs.stopping()`` drops the Kafka clients' connection lines."""
    import faust

    from bazaar_core import logs

    class Worker(faust.Worker):
        async def on_stop(self) -> None:
            logs.stopping()
            await super().on_stop()

    made = Worker(app, loglevel=loglevel, redirect_stdouts=False, override_logging=False)
    made.spinner = None  # read before each use; None is Faust's own "no spinner" (then it logs "Ready")
    return made


def seed_committed_offsets(
    settings: Settings, group_id: str, topic: str, partitions: int, timeout_s: float = 40.0, retry_s: float = 0.5
) -> bool:
    """Commit each partition's low watermark for a group that has no commit there yet, so the
    group starts from a known floor (``_new_offset`` assumes 0 without one, which only holds while
    nothing was deleted from the topic's head). A group with live members refuses the change
    (another worker did it already); a broker still starting (no leader, no offsets topic) is
    retried. True once every partition has a committed offset or was refused for live members.

    The group's offsets are read by a consumer of the group (``Consumer.committed``), never with
    ``AdminClient.list_consumer_group_offsets``: librdkafka crashes (SIGSEGV) when the OffsetFetch
    that call sends is answered NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE, as a broker still
    loading its offsets topic answers; it asks the admin client's consumer group, which an admin
    client does not have, to look for the coordinator again (docs/librdkafka-segfault.md)."""
    from bazaar_core.kafka.config import admin_config, consumer_config

    reader = KafkaConsumer(consumer_config(settings, group_id))
    admin = AdminClient(admin_config(settings, polled=True))  # (polled below: its log lines)
    deadline = time.monotonic() + timeout_s
    attempt = 0
    try:
        while True:
            attempt += 1
            wait_s = max(1.0, min(10.0, deadline - time.monotonic()))
            try:
                seeded = _seed(reader, admin, group_id, topic, partitions, wait_s)
            except (KafkaException, TimeoutError) as exc:  # TimeoutError: an admin future not answered in time
                if time.monotonic() + retry_s >= deadline:
                    log.warning(
                        "group offsets not seeded", extra={"group": group_id, "topic": topic, "error": str(exc), "attempts": attempt}
                    )
                    return False
                log.info("group offsets not seeded yet", extra={"group": group_id, "error": str(exc), "attempt": attempt})
                admin.poll(0)  # serves the admin client's log lines
                time.sleep(retry_s)
                continue
            if seeded:
                log.info("group offsets seeded at the low watermark", extra={"group": group_id, "topic": topic, "offsets": seeded})
            return True
    finally:
        reader.close()
        admin.poll(0)


def _seed(reader: KafkaConsumer, admin: AdminClient, group_id: str, topic: str, partitions: int, wait_s: float) -> dict[int, int]:
    """One try; the offsets committed now (partition -> offset), empty when there was nothing to do."""
    current = reader.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=wait_s)
    failed = [tp for tp in current if tp.error is not None]
    if failed:
        raise KafkaException(failed[0].error)
    missing = [tp.partition for tp in current if tp.offset < 0]
    if not missing:
        return {}
    earliest = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.earliest() for p in missing}, request_timeout=wait_s)
    lows = {tp.partition: future.result(timeout=wait_s + 1).offset for tp, future in earliest.items()}
    seeds = ConsumerGroupTopicPartitions(group_id, [TopicPartition(topic, p, lows[p]) for p in missing])
    try:
        done = admin.alter_consumer_group_offsets([seeds], request_timeout=wait_s)[group_id].result(timeout=wait_s + 1)
    except KafkaException as exc:
        if exc.args[0].code() in _MEMBERS_ACTIVE:
            return {}
        raise
    refused = [tp.error for tp in done.topic_partitions if tp.error is not None]
    if refused and refused[0].code() not in _MEMBERS_ACTIVE:
        raise KafkaException(refused[0])
    return {tp.partition: tp.offset for tp in done.topic_partitions if tp.error is None}


# ---- the fence's checks ------------------------------------------------------------------------------


class FenceError(RuntimeError):
    """A private name this module relies on is gone or changed: re-verify before running."""


# sha256 (first 16 hex digits) of the source each patch replaces, as written against the pinned versions
REPLACED = {
    "faust.transport.consumer.Consumer._new_offset": "1d2c7ea89a7ad4f1",
    "faust.transport.consumer.Consumer.wait_first": "feade6a31f8a6789",
    "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._create_worker_consumer": "c2701bfc3e6f6cad",
    "faust.tables.recovery.Recovery._slurp_changelogs.fun": "7825c7e50f766d5a",
}
# private attributes: (where they must be set up, the text that sets them up)
ATTRIBUTES = {
    "faust.transport.consumer.Consumer.__init__": ("_committed_offset", "_acked", "_acked_index"),
    "aiokafka.AIOKafkaConsumer.__init__": ("_fetch_max_wait_ms", "_fetch_min_bytes"),
    "mode.utils.queues.ThrowableQueue": ("_errors",),
    "faust.tables.recovery.Recovery.__init__": ("self.completed",),
    "faust.stores.rocksdb.Store": ("def _db_for_partition", "def set_persisted_offset"),
}
_ORIGINALS = {
    "faust.transport.consumer.Consumer._new_offset": lambda: _faust_new_offset,
    "faust.transport.consumer.Consumer.wait_first": lambda: _wait_first,
    "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._create_worker_consumer": lambda: _faust_worker_consumer,
    "faust.tables.recovery.Recovery._slurp_changelogs.fun": lambda: _faust_slurp,
}


def _resolve(dotted: str) -> Any:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def _digest(fn: Any) -> str:
    import hashlib
    import inspect

    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]


def problems() -> list[str]:
    """What no longer matches (empty: the fence holds)."""
    import inspect

    out = []
    for name, want in REPLACED.items():
        try:
            current = _resolve(name)
        except (ImportError, AttributeError):
            out.append(f"{name} is gone")
            continue
        original = _ORIGINALS[name]()
        if current is not original and getattr(current, "__module__", "") != __name__:
            out.append(f"{name} is not the function this module took (replaced by someone else?)")
        elif _digest(original) != want:
            out.append(f"{name} changed upstream (source digest {_digest(original)}, written against {want})")
    for where, names in ATTRIBUTES.items():
        try:
            source = inspect.getsource(_resolve(where))
        except (ImportError, AttributeError, TypeError, OSError):
            out.append(f"{where} is gone")
            continue
        out += [f"{where} no longer has {n!r}" for n in names if n not in source]
    return out


def verify() -> None:
    found = problems()
    if found:
        raise FenceError("Faust/aiokafka/mode internals changed; re-verify bazaar_core/kafka/faust_fence.py:\n  " + "\n  ".join(found))


# ---- accessors: the only reads of private state outside the patches ------------------------------


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The group's committed offset of ``tp`` as Faust's consumer knows it (the next to read)."""
    return consumer._committed_offset.get(tp)


def ack_unfetched(consumer: Any, tp: Any, offset: int) -> None:
    """Ack an offset Faust never delivered (read past it to fill a gap), as ``Consumer.ack`` does."""
    committed = consumer._committed_offset[tp]
    if committed is None or offset >= committed:
        index = consumer._acked_index[tp]
        if offset not in index:
            index.add(offset)
            consumer._acked[tp].append(offset)


def partition_db(table: Any, partition: int) -> Any:
    """The RocksDB of one partition of a Faust table (opened on first use)."""
    return table.data._db_for_partition(partition)


def queue_has_errors(queue: Any) -> bool:
    return bool(queue._errors)


def recovered_once(app: Any) -> bool:
    """Has the app recovered its tables after an assignment at least once?"""
    return app.tables.recovery.completed.is_set()
