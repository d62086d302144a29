"""Read whole topics in tests."""

from __future__ import annotations

import json
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def read_all(bootstrap: str, topic: str, partitions: int, timeout_s: float = 30.0) -> list[dict]:
    """Every JSON value on the topic up to its current high watermarks, in offset order per partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader", "enable.auto.commit": False})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        out, deadline = [], time.monotonic() + timeout_s
        while todo:
            assert time.monotonic() < deadline, f"could not read {topic} to its end in {timeout_s} s"
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            out.append(json.loads(msg.value()))
            if msg.offset() >= ends[msg.partition()] - 1:
                todo.discard(msg.partition())
        return out
    finally:
        consumer.close()


def produce_json(bootstrap: str, topic: str, key: str, value: dict) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topic, key=key.encode(), value=json.dumps(value).encode())
    assert producer.flush(10) == 0
