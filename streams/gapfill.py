"""Read a range of offsets of one partition straight from the broker (confluent-kafka, no group).

During a rebalance Faust can drop messages it had fetched and then resume a partition after them
(the stock agent notices: an event arrives beyond the next offset it must apply). Seeking Faust's
consumer back does not help, since messages already queued behind the gap move its read offset
past the re-fetched ones and Faust drops those as old. So the agent reads the missing range itself
and applies it before the event that revealed the gap.
"""
from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition

Raw = tuple[int, int, "bytes | None", bytes, list]  # partition, offset, key, value, headers


class GapFillError(RuntimeError):
    pass


def read_range(bootstrap: str, topic: str, partition: int, start: int, end: int, timeout_s: float = 30.0) -> list[Raw]:
    """Messages with start <= offset < end, in offset order (offsets the log no longer has are absent)."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"bazaar-gapfill-{uuid.uuid4().hex[:8]}",  # never commits: only for the protocol
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "log_level": 3,
    })
    out: list[Raw] = []
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() > deadline:
                raise GapFillError(f"{topic}[{partition}] {start}..{end - 1}: only {len(out)} messages within {timeout_s} s")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return out  # the log ends before ``end``: nothing more to read
                raise GapFillError(str(msg.error()))
            if msg.offset() >= end:
                return out
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value(), msg.headers() or []))
            if msg.offset() == end - 1:
                return out
    finally:
        consumer.close()
