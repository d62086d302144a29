"""The dead-letter topic: where every consumer puts a message it cannot process, so that one bad
message never stops a partition (``schemas.deadletters`` is the record), and what operators do with
them (``bazaar dlq list|show|replay|drop``).

Writing goes through each process's own producer, in the same unit as its other outputs (the stock
worker's batch outbox, the analytics sink's and notifier's writers): a message is acknowledged only
once its dead letter is on the broker, so a crash in between dead-letters it again, under the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from prometheus_client import Counter

from bazaar_core.kafka.config import consumer_config, producer_config
from bazaar_core.kafka.groups import dlq_reader_group
from bazaar_core.settings import Settings
from schemas.deadletters import DeadLetter, Source

log = logging.getLogger("bazaar.streams.deadletters")

DEAD_LETTERS = Counter(
    "bazaar_dead_letters_total",
    "Messages a consumer could not process, put on the dead-letter topic (the partition went on)",
    ["source", "topic", "error_type"],
)
REPLAYED_HEADER = "bazaar-replayed-from"  # on a message put back by `bazaar dlq replay`: the dead letter's id


def letter(
    source: Source,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: dict[str, str] | None,
    error: BaseException | str,
    attempts: int = 1,
) -> DeadLetter:
    """Build (and count, and log) the dead letter of one message."""
    dead = DeadLetter.of(
        source=source,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        headers=headers,
        error=error,
        failed_at=datetime.now(UTC),
        attempts=attempts,
    )
    DEAD_LETTERS.labels(source, topic, dead.error_type).inc()
    log.error(
        "message dead-lettered; its partition goes on",
        extra={"id": dead.id, "store_id": dead.store_id, "error_type": dead.error_type, "error": dead.error[:500]},
    )
    return dead


def read_all(settings: Settings, timeout_s: float = 30.0) -> dict[str, DeadLetter]:
    """Every dead letter still on the topic (the latest record per id; dropped ones are tombstones)."""
    topic = settings.dead_letters_topic
    consumer = Consumer(consumer_config(settings, dlq_reader_group(settings), {"enable.partition.eof": True}))  # assigned, never commits
    out: dict[str, DeadLetter] = {}
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            return out
        parts = sorted(meta.partitions)
        ends = {}
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            if high > low:
                ends[p] = high
        if not ends:
            return out
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        done: set[int] = set()
        deadline = datetime.now(UTC).timestamp() + timeout_s
        while len(done) < len(ends):
            if datetime.now(UTC).timestamp() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s} s")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    done.add(msg.partition())
                    continue
                raise RuntimeError(str(msg.error()))
            key = msg.key().decode() if msg.key() else None
            if key is not None:
                if msg.value() is None:
                    out.pop(key, None)
                else:
                    try:
                        out[key] = DeadLetter.model_validate_json(msg.value())
                    except ValueError as exc:
                        log.warning("unreadable dead-letter record", extra={"key": key, "error": str(exc)})
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
    finally:
        consumer.close()
    return out


def _producer(settings: Settings) -> Producer:
    return Producer(producer_config(settings, {"message.timeout.ms": 30_000}))  # _flush waits 30 s


def _flush(producer: Producer, failures: list[str]) -> None:
    left = producer.flush(30)
    if left:
        failures.append(f"{left} records not acknowledged by the broker within 30 s")
    if failures:
        raise RuntimeError("; ".join(failures))


def replay(settings: Settings, letters: Iterable[DeadLetter]) -> int:
    """Put each message back on its own topic and partition, with its key, value and headers (plus
    ``bazaar-replayed-from``), then drop its dead letter. Consumers are idempotent, so a message
    applied before it failed counts once; one that still fails is dead-lettered again, at its new offset."""
    producer, failures, n = _producer(settings), [], 0

    def report(err, msg) -> None:
        if err is not None:
            failures.append(err.str())

    letters = list(letters)
    for dead in letters:
        headers = [(k, v.encode()) for k, v in dead.headers.items()] + [(REPLAYED_HEADER, dead.id.encode())]
        producer.produce(
            dead.topic, key=dead.raw_key(), value=dead.raw_value(), partition=dead.partition, headers=headers, on_delivery=report
        )
        n += 1
    _flush(producer, failures)  # back on the topic before the dead letter goes
    drop(settings, [d.id for d in letters])
    return n


def drop(settings: Settings, ids: Iterable[str]) -> int:
    """Forget dead letters (a tombstone each: compaction removes them)."""
    dlq_topic = settings.dead_letters_topic
    producer, failures, n = _producer(settings), [], 0

    def report(err, msg) -> None:
        if err is not None:
            failures.append(err.str())

    for dead_id in ids:
        producer.produce(dlq_topic, key=dead_id.encode(), value=None, partition=0, on_delivery=report)
        n += 1
    _flush(producer, failures)
    return n
