"""The raw consumer limit: a plain confluent-kafka consume loop applying ``domain.events.apply_event``
to a dict, exactly as the stock agent calls it (same contract parsing, legs and digest headers)."""

from __future__ import annotations

import argparse
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bazaar_core.kafka.topics import DIGEST_HEADER, LEG_HEADER
from bench.procs import child_main, progress
from domain.events import LEG_OUT, apply_event
from schemas.events import from_wire


def run(args: argparse.Namespace) -> dict:
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)])
    states: dict = {}
    done, first, last, cpu_first = 0, None, None, 0.0
    while done < args.total:
        for msg in consumer.consume(min(1000, args.total - done), timeout=0.5):
            if msg.error():
                raise RuntimeError(msg.error().str())
            if first is None:
                first, cpu_first = time.perf_counter(), time.process_time()
            headers = {k: v.decode() for k, v in (msg.headers() or []) if v is not None}
            event = from_wire(msg.value())
            apply_event(
                states, event, leg=headers.get(LEG_HEADER, LEG_OUT), fingerprint=headers.get(DIGEST_HEADER), window_days=args.window_days
            )
            done += 1
            if done % 5000 == 0:
                progress(done)
        last = time.perf_counter()
    cpu = time.process_time() - cpu_first
    consumer.close()
    progress(done)
    elapsed = last - first
    return {
        "messages": done,
        "seconds": elapsed,
        "cpu_s": cpu,
        "messages_per_s": done / elapsed if elapsed > 0 else 0.0,
        "stock": {key: state.on_hand for key, state in states.items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--total", type=int, required=True, help="messages on the topic")
    parser.add_argument("--window-days", type=int, default=30)
    child_main(run, parser)
