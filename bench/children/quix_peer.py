"""The peer: a minimal Quix Streams application keeping the same per-(store, sku) stock in its own
RocksDB state (changelog-backed, at-least-once, as quixstreams ships), with the same arithmetic:
``domain.events.apply_event`` over the state, values stored with the same codec (``streams.codec``).

The final on-hand of every key it wrote is mirrored into a dict and returned for the exactness check.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid

import orjson
from quixstreams import Application
from quixstreams.state.rocksdb import RocksDBOptions

from bazaar_core.kafka.topics import DIGEST_HEADER, LEG_HEADER
from bench.procs import child_main, progress
from domain.events import LEG_OUT, apply_event
from domain.stock import StockState
from schemas.events import from_wire
from streams.codec import decode, encode


def _dumps(value) -> bytes:
    return encode(value) if isinstance(value, StockState) else orjson.dumps(value)


def _loads(data: bytes):
    try:
        return decode(data)
    except (ValueError, TypeError):
        return orjson.loads(data)


class QuixStates:
    """The two mapping operations ``apply_event`` uses, over a Quix ``State`` (keys prefixed by the message key)."""

    __slots__ = ("state",)

    def get(self, key, default=None):
        return self.state.get(key, default)

    def __setitem__(self, key, value) -> None:
        self.state.set(key, value)


def run(args: argparse.Namespace) -> dict:
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        rocksdb_options=RocksDBOptions(dumps=_dumps, loads=_loads),
        loglevel="WARNING",
    )
    topic = app.topic(args.topic, key_deserializer="bytes", value_deserializer="bytes")
    sdf = app.dataframe(topic)
    mapping = QuixStates()
    final: dict[str, int] = {}
    counter = {"done": 0, "first": None, "last": None}

    def update(value: bytes, key, timestamp, headers, state) -> None:
        if counter["first"] is None:
            counter["first"], counter["cpu_first"] = time.perf_counter(), time.process_time()
        h = {k: v.decode() for k, v in (headers or []) if v is not None}
        mapping.state = state
        for applied in apply_event(
            mapping, from_wire(value), leg=h.get(LEG_HEADER, LEG_OUT), fingerprint=h.get(DIGEST_HEADER), window_days=args.window_days
        ):
            final[applied.op.key] = applied.state.on_hand
        counter["done"] += 1
        counter["last"], counter["cpu_last"] = time.perf_counter(), time.process_time()
        if counter["done"] % 5000 == 0:
            progress(counter["done"])

    sdf.update(update, stateful=True, metadata=True)
    app.run(count=args.total, collect=False)
    progress(counter["done"])
    elapsed = counter["last"] - counter["first"]
    return {
        "messages": counter["done"],
        "seconds": elapsed,
        "cpu_s": counter["cpu_last"] - counter["cpu_first"],
        "messages_per_s": counter["done"] / elapsed,
        "stock": final,
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--total", type=int, required=True, help="messages on the topic")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--window-days", type=int, default=30)
    child_main(run, parser)
