"""Moving a deployment to more partitions: a new generation of topics (a new topic prefix, more
partitions) and its state copied from the old one (docs/deploy.md, "Growing past the partition
count"; ``bazaar repartition``).

What is copied, and where each record goes (``copies``):

* every single-partition compacted topic (the catalog, webhooks and deliveries, acks, credentials,
  dead letters, ...): record for record, keys, headers, timestamps and tombstones kept;
* the stock changelog (stock, a busy key's movements and the sale book share it): each record to
  ``domain.partitioning.changelog_partition(key, new count)``, its store's partition;
* the alerts topic (key: the store), each record to its store's partition: the API's list of open
  alerts and their history are read from it, and the notifier's deliveries (copied) say which
  of them were delivered already.

The events and ledger topics are not copied: the old events topic stays the record of what was
sent before the switch, and analytics keeps the rows it stored. A key's records all sit in one
partition of the old topic and all go to one partition of the new one, in the order read, so each
key's order is kept.

A pass reads each source partition from where the last pass stopped up to its end when the pass
began, and records that offset in the progress topic (``<new prefix>.repartition.v1``, compacted,
one record per source topic) once the broker has acked every record copied. The ``first`` pass
runs while the old generation serves; the ``final`` one once ingest has stopped and the old
workers have committed every event (it waits for that), then seals the progress: no pass runs
after it, since the new workers may be writing to the new changelog by then.

A pass that fails (a broker lost, an unacknowledged record) records nothing for the topic it was
copying: run it again. It copies that topic again from the last recorded offsets, so some records
are written twice, each time in the same order; a key's last record, the one recovery and the
readers keep, is the same, and alert and delivery ids are deduplicated by their readers.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.config import admin_config, consumer_config, producer_config
from bazaar_core.kafka.groups import repartition_reader_group
from bazaar_core.kafka.topics import leader_topics, stock_changelog, topic_configs, topic_specs
from bazaar_core.settings import Settings
from domain.partitioning import NotAStoreKey, store_of, store_partition

PASSES = ("first", "final")
FINAL_KEY = "@final"  # the progress record that seals the copy
# The producer of the copy: records are queued by the hundred thousand, sent in large batches.
COPY_PRODUCER = {"linger.ms": 50, "batch.size": 1_000_000, "queue.buffering.max.messages": 500_000, "delivery.report.only.error": True}
READ_BATCH = 10_000

Route = Callable[["bytes | None", int], int]


class RepartitionError(RuntimeError):
    """The copy cannot run (or go on) as asked; the message says why and what to do."""


def _single(key: bytes | None, partitions: int) -> int:
    return 0


class _ByStore:
    """Each record to its store's partition (``domain.partitioning``), the store read from its key
    by ``store``; the hash is computed once per store, not once per record."""

    def __init__(self, store: Callable[[bytes], bytes], what: str) -> None:
        self.store, self.what = store, what
        self.placed: dict[tuple[bytes, int], int] = {}

    def __call__(self, key: bytes | None, partitions: int) -> int:
        if not key:
            raise RepartitionError(f"{self.what} without a key: it names no store")
        store = self.store(key)
        placed = self.placed.get((store, partitions))
        if placed is None:
            placed = self.placed[store, partitions] = store_partition(store.decode(), partitions)
        return placed


@dataclass(frozen=True)
class Copy:
    """One source topic of the old generation, its topic in the new one, and how a record's new
    partition is chosen from its key."""

    source: str
    target: str
    route: Route
    how: str  # what the report says of the routing

    @property
    def partitioned(self) -> bool:
        return self.route is not _single


def generation(settings: Settings, prefix: str, partitions: int | None = None) -> Settings:
    """The same deployment's settings under another topic prefix (and partition count)."""
    update: dict = {"topic_prefix": prefix}
    if partitions is not None:
        update["partitions"] = partitions
    return settings.model_copy(update=update)


def copies(old: Settings, new: Settings) -> list[Copy]:
    """Every topic the copy moves, single-partition compacted topics first, the stock changelog last."""
    old_specs, old_configs, new_specs = topic_specs(old), topic_configs(old), list(topic_specs(new))
    leaders = set(leader_topics(old))  # Faust's assignor topics: nothing in them to keep
    out = [
        Copy(name, target, _single, "record for record")
        for name, target in zip(old_specs, new_specs, strict=True)
        if old_specs[name] == 1 and name not in leaders and old_configs[name].get("cleanup.policy") == "compact"
    ]
    out.append(Copy(old.alerts_topic, new.alerts_topic, _ByStore(bytes, "an alert"), "each to its store's partition"))
    changelog = _ByStore(store_of, "a changelog record")  # = changelog_partition(key, n)
    out.append(Copy(stock_changelog(old), stock_changelog(new), changelog, "each to changelog_partition(key)"))
    return out


def progress_topic(new: Settings) -> str:
    return f"{new.topic_prefix}.repartition.v1"


# ---- what stops a pass ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A target topic as it is before a pass: its partitions and whether it holds any record."""

    partitions: int
    records: bool


def problems(
    old: Settings, new: Settings, pass_: str, old_partitions: int | None, targets: dict[str, Found], progress: dict[str, dict]
) -> list[str]:
    """Why this pass must not run (empty when it may): the reasons are read before anything is
    created or copied. ``old_partitions``: the old events topic's (None: it does not exist);
    ``targets``: the new generation's topics that exist; ``progress``: the progress records."""
    out = []
    if pass_ not in PASSES:
        out.append(f"unknown pass {pass_!r}: first or final")
    if old.topic_prefix == new.topic_prefix:
        out.append(f"the new generation needs a topic prefix of its own (both are {old.topic_prefix!r})")
    if old_partitions is None:
        out.append(f"no events topic {old.events_topic}: nothing to move from prefix {old.topic_prefix!r}")
    elif new.partitions < old_partitions:
        out.append(
            f"{new.partitions} partitions is fewer than the old generation's {old_partitions}: a deployment only grows "
            "(each new partition must hold whole stores)"
        )
    if FINAL_KEY in progress:
        out.append(
            f"the copy to {new.topic_prefix!r} was sealed by a final pass at {progress[FINAL_KEY].get('at')}: the new "
            "generation may be serving, and another pass would write old stock over its changes"
        )
    for c in copies(old, new):
        found = targets.get(c.target)
        want = new.partitions if c.partitioned else 1
        if found is not None and found.partitions != want:
            out.append(f"{c.target} exists with {found.partitions} partitions, expected {want}: delete it or choose another prefix")
        if found is not None and found.records and c.source not in progress:
            out.append(
                f"{c.target} already holds records but no pass of this copy wrote them (no progress record in "
                f"{progress_topic(new)}): delete it or choose another prefix"
            )
        if pass_ == "final" and c.source not in progress:
            out.append(f"{c.source} has not been copied by a first pass yet (run --pass first, then the final one)")
    return out


# ---- the copy ----------------------------------------------------------------------------------------


@dataclass
class Copied:
    """What one pass copied from one source topic."""

    source: str
    target: str
    how: str
    records: int = 0
    tombstones: int = 0
    seconds: float = 0.0
    start: dict[int, int] = field(default_factory=dict)  # source partition -> first offset read
    end: dict[int, int] = field(default_factory=dict)  # source partition -> offset reached (the next to read)
    per_target: dict[int, int] = field(default_factory=dict)  # target partition -> records written


@dataclass
class Pass:
    """One pass of the copy: what it found, what it copied, how long it took."""

    pass_: str
    old_prefix: str
    new_prefix: str
    old_partitions: int
    new_partitions: int
    topics: list[Copied] = field(default_factory=list)
    waited_s: float = 0.0  # (final pass) until the old workers had committed every event
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(t.records for t in self.topics)


class Repartition:
    """``run()`` one pass of the copy from ``old`` to ``new`` (see the module's docstring)."""

    def __init__(self, old: Settings, new: Settings, pass_: str = "first", *, lag_wait_s: float = 120.0, say=print) -> None:
        self.old, self.new, self.pass_, self.lag_wait_s, self.say = old, new, pass_, lag_wait_s, say
        self.admin = AdminClient(admin_config(old))
        self._failures: list[str] = []  # the producer's failed deliveries and fatal errors

    def run(self) -> Pass:
        started = time.monotonic()
        old, new = self.old, self.new
        topics = self.admin.list_topics(timeout=30).topics
        old_partitions = len(topics[old.events_topic].partitions) if old.events_topic in topics else None
        progress = read_progress(new) if progress_topic(new) in topics else {}
        targets = {c.target: self._found(c.target, topics) for c in copies(old, new) if c.target in topics}
        refused = problems(old, new, self.pass_, old_partitions, targets, progress)
        if refused:
            raise RepartitionError("; ".join(refused))
        assert old_partitions is not None
        report = Pass(self.pass_, old.topic_prefix, new.topic_prefix, old_partitions, new.partitions)
        if self.pass_ == "final":
            report.waited_s = self._wait_committed()
        ensure_topics(new, topic_specs(new), topic_configs(new))
        ensure_topics(new, {progress_topic(new): 1}, {progress_topic(new): {"cleanup.policy": "compact"}})
        producer = Producer(producer_config(new, {**COPY_PRODUCER, "error_cb": self._error, "on_delivery": self._delivered}))
        for c in copies(old, new):
            if c.source in topics:
                copied = self._copy(c, producer, progress.get(c.source, {}).get("next", {}))
            else:  # never created in the old generation: recorded as copied, with nothing in it
                copied = Copied(c.source, c.target, c.how)
            self._record(producer, c.source, copied)
            report.topics.append(copied)
            self.say(
                f"{c.source} -> {c.target} ({c.how}): {copied.records:,} records ({copied.tombstones:,} tombstones) "
                f"in {copied.seconds:.1f} s"
            )
        if self.pass_ == "final":
            self._write(producer, FINAL_KEY, {"at": _now(), "partitions": new.partitions, "from": old.topic_prefix})
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def _found(self, name: str, topics: dict) -> Found:
        parts = topics[name].partitions
        ends = _watermarks(self.new, name, list(parts))
        return Found(len(parts), any(high > low for low, high in ends.values()))

    def _wait_committed(self) -> float:
        """Until the old workers' group has committed every event on the old events topic: only
        then does the old changelog hold every event's effect."""
        started = time.monotonic()
        old = self.old
        consumer = Consumer(consumer_config(old, old.group_id, polled=False))
        try:
            parts = list(self.admin.list_topics(old.events_topic, timeout=30).topics[old.events_topic].partitions)
            while True:
                ends = {p: high for p, (_, high) in _watermarks(old, old.events_topic, parts).items()}
                committed = consumer.committed([TopicPartition(old.events_topic, p) for p in parts], timeout=30)
                done = {tp.partition: max(tp.offset, 0) for tp in committed}  # no commit yet: -1001
                behind = {p: ends[p] - done[p] for p in parts if ends[p] > done[p]}
                if not behind:
                    return round(time.monotonic() - started, 3)
                if time.monotonic() - started > self.lag_wait_s:
                    raise RepartitionError(
                        f"the old workers (group {old.group_id}) have not committed {sum(behind.values()):,} events of "
                        f"{old.events_topic} (by partition: {behind}) after {self.lag_wait_s:.0f} s: stop ingest and keep "
                        "the old workers running until they have, then run the final pass again"
                    )
                time.sleep(0.5)
        finally:
            consumer.close()

    def _copy(self, c: Copy, producer: Producer, after: dict[str, int]) -> Copied:
        started = time.monotonic()
        parts = list(self.admin.list_topics(c.source, timeout=30).topics[c.source].partitions)
        marks = _watermarks(self.old, c.source, parts)
        start = {p: int(after.get(str(p), marks[p][0])) for p in parts}
        end = {p: marks[p][1] for p in parts}
        copied = Copied(c.source, c.target, c.how, start=start, end=end)
        todo = {p for p in parts if start[p] < end[p]}
        if todo:
            self._read(c, producer, copied, todo)
        copied.seconds = round(time.monotonic() - started, 3)
        return copied

    def _read(self, c: Copy, producer: Producer, copied: Copied, todo: set[int]) -> None:
        group = f"{repartition_reader_group(self.old)}{uuid.uuid4().hex[:8]}"  # never commits
        consumer = Consumer(
            consumer_config(self.old, group, {"enable.partition.eof": True, "fetch.max.bytes": 64 << 20, "fetch.wait.max.ms": 50})
        )
        target, route, n = c.target, c.route, self.new.partitions
        per_target = copied.per_target
        start, end = copied.start, copied.end
        try:
            consumer.assign([TopicPartition(c.source, p, start[p] if start[p] > 0 else OFFSET_BEGINNING) for p in todo])
            idle_since = time.monotonic()
            while todo:
                batch = consumer.consume(READ_BATCH, 0.1)  # as many as are there: a small topic waits for no more
                if not batch:
                    if time.monotonic() - idle_since > 60:
                        raise RepartitionError(f"{c.source}: nothing read for 60 s from partitions {sorted(todo)}")
                    continue
                idle_since = time.monotonic()
                for msg in batch:
                    p = msg.partition()
                    if msg.error():
                        if msg.error().code() == KafkaError._PARTITION_EOF:
                            todo.discard(p)
                            continue
                        raise RepartitionError(f"{c.source}[{p}]: {msg.error()}")
                    offset = msg.offset()
                    if p not in todo or offset >= end[p]:
                        todo.discard(p)  # written after this pass began: the next pass copies it
                        continue
                    key, value = msg.key(), msg.value()
                    try:
                        to = route(key, n)
                    except NotAStoreKey as exc:
                        raise RepartitionError(f"{c.source}[{p}] at offset {offset}: {exc}") from None
                    kind, ts = msg.timestamp()
                    self._produce(producer, target, to, key, value, msg.headers(), ts if kind else 0)
                    per_target[to] = per_target.get(to, 0) + 1
                    copied.records += 1
                    if value is None:
                        copied.tombstones += 1
                    if offset == end[p] - 1:
                        todo.discard(p)
                producer.poll(0)
        finally:
            consumer.close()

    @staticmethod
    def _produce(producer: Producer, topic: str, partition: int, key, value, headers, timestamp: int) -> None:
        while True:
            try:
                producer.produce(topic, value, key, partition=partition, headers=headers, timestamp=timestamp)
                return
            except BufferError:  # the queue is full: let librdkafka send some
                producer.poll(0.05)

    def _record(self, producer: Producer, source: str, copied: Copied) -> None:
        """Once every record copied is acked, the offsets reached, for the next pass to start from."""
        self._flush(producer, source)
        value = {
            "next": {str(p): o for p, o in copied.end.items()},
            "records": copied.records,
            "pass": self.pass_,
            "at": _now(),
            "partitions": self.new.partitions,
            "from": self.old.topic_prefix,
        }
        self._write(producer, source, value)

    def _write(self, producer: Producer, key: str, value: dict) -> None:
        producer.produce(progress_topic(self.new), json.dumps(value).encode(), key.encode(), partition=0)
        self._flush(producer, key)

    def _flush(self, producer: Producer, what: str) -> None:
        left = producer.flush(self.new.produce_timeout_s * 4)
        if left or self._failures:
            raise RepartitionError(
                f"{what}: {left} records unacknowledged, {len(self._failures)} failed ({'; '.join(self._failures[:3])}); "
                "nothing of this topic was recorded as copied: run the same pass again"
            )

    def _delivered(self, err, msg) -> None:  # only failures are reported (delivery.report.only.error)
        if err is not None:
            self._failures.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    def _error(self, err) -> None:
        if err.fatal():
            self._failures.append(str(err))


def read_progress(new: Settings, timeout_s: float = 30.0) -> dict[str, dict]:
    """The progress records of a copy to ``new`` (source topic -> its last record), from the start."""
    topic = progress_topic(new)
    low, high = _watermarks(new, topic, [0])[0]
    out: dict[str, dict] = {}
    if high <= low:
        return out
    consumer = Consumer(consumer_config(new, f"{repartition_reader_group(new)}{uuid.uuid4().hex[:8]}", {"enable.partition.eof": True}))
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise RepartitionError(f"{topic}: {msg.error()}")
            key = msg.key().decode() if msg.key() else ""
            if msg.value() is None:
                out.pop(key, None)
            else:
                out[key] = json.loads(msg.value())
            if msg.offset() >= high - 1:
                return out
        raise RepartitionError(f"{topic}: could not read the progress records within {timeout_s:.0f} s")
    finally:
        consumer.close()


def _watermarks(settings: Settings, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
    consumer = Consumer(consumer_config(settings, f"{repartition_reader_group(settings)}marks", polled=False))
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30) for p in partitions}
    finally:
        consumer.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
