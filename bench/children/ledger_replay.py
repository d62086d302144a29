"""A steady offered load on a ledger topic: copies of ledger messages (each to its own partition), open
loop at a fixed rate for a fixed time, cycling through the messages as often as needed.

Message i is due at ``start + i / rate``: the producer sends whatever is due, then sleeps a little,
so the load does not bunch up when the sink is slow (it never waits for the consumer). Copies carry
the same entries as the originals (the ledger's replay case), so ClickHouse's stock stays the same.
"""

from __future__ import annotations

import argparse
import pickle
import time

from confluent_kafka import Producer

from bench.children.raw_producer import Deliveries
from bench.procs import child_main, progress


def run(args: argparse.Namespace) -> dict:
    with open(args.messages, "rb") as f:
        items = pickle.load(f)
    producer = Producer(
        {"bootstrap.servers": args.bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5, "compression.type": "lz4"}
    )
    on_delivery = Deliveries()
    producer.list_topics(args.topic, timeout=10)
    total = round(args.rate * args.seconds)
    started = time.perf_counter()
    sent, late_max, shown = 0, 0.0, started
    while sent < total:
        now = time.perf_counter()
        due = min(total, int((now - started) * args.rate) + 1)
        if sent < due:
            late_max = max(late_max, now - started - sent / args.rate)
        while sent < due:
            partition, key, value, headers = items[sent % len(items)]
            try:
                producer.produce(args.topic, value=value, key=key, headers=headers, partition=partition, on_delivery=on_delivery)
            except BufferError:
                producer.poll(0.01)
                continue
            sent += 1
        producer.poll(0)
        if now - shown >= 0.5:
            shown = now
            progress(sent)
        time.sleep(0.002)
    sent_s = time.perf_counter() - started
    producer.flush(60)
    progress(sent)
    return {
        "messages": sent,
        "acked": on_delivery.acked,
        "failed": on_delivery.failed,
        "seconds": sent_s,
        "messages_per_s": sent / sent_s if sent_s else None,
        "late_max_s": round(late_max, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--messages", required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages per second")
    parser.add_argument("--seconds", type=float, required=True)
    child_main(run, parser)
