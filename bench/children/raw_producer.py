"""The raw producer limit: a bare confluent-kafka producer writing pre-made messages as fast as it can.

Same producer configuration as the API (idempotent, acks=all, lz4, murmur2 partitioner, linger 5 ms).
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka import Producer

from bench.data import load_messages
from bench.procs import child_main, progress


class Deliveries:
    """A producer's ``on_delivery`` callback that counts acked and failed messages."""

    def __init__(self) -> None:
        self.acked = self.failed = 0

    def __call__(self, err, _msg) -> None:
        if err is None:
            self.acked += 1
        else:
            self.failed += 1


def producer_config(bootstrap: str) -> dict:
    """The bare producer's settings: the API's own (idempotent, acks=all, lz4, a 5 ms linger)."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "compression.type": "lz4",
    }


def run(args: argparse.Namespace) -> dict:
    return produce(args.bootstrap, args.topic, load_messages(args.messages), "raw-producer", show=progress)


def produce(bootstrap: str, topic: str, items: list, stage: str, show=None) -> dict:
    """Produce every message (key, value, headers) and wait for every ack; timing starts once connected."""
    producer = Producer(producer_config(bootstrap))
    on_delivery = Deliveries()
    producer.list_topics(topic, timeout=10)  # connected (and the idempotent producer id fetched) before the clock starts
    started, cpu_started = time.perf_counter(), time.process_time()
    for i, (key, value, headers) in enumerate(items):
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 2000 == 0:
            producer.poll(0)
            if show:
                show(i)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    if show:
        show(len(items))
    return {
        "messages": len(items),
        "acked": on_delivery.acked,
        "failed": on_delivery.failed,
        "seconds": elapsed,
        "cpu_s": time.process_time() - cpu_started,
        "messages_per_s": len(items) / elapsed,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--messages", required=True)
    child_main(run, parser)
