"""The peer: a minimal Quix Streams application keeping the same per-(store, sku) stock in its own
RocksDB state (changelog-backed, at-least-once), with the same arithmetic:
``domain.events.apply_event`` over the state, values stored with the same codec (``streams.codec``).

Three variants (``--variant``), so that the comparison is made both ways:

* ``default``: Quix's defaults, what a user gets (a checkpoint every 5 s: state, changelog and
  offsets written once per 5 s, however many messages that is);
* ``like``: the same with a checkpoint every ``--commit-every`` messages, our worker's batch
  (it writes its state and changelog once per batch, and under a backlog each batch is full);
* ``work``: ``like`` doing the stock agent's whole work per message: ``domain.batch.Applier``
  (the sale book beside the stock, the alert rules, a ledger entry per change, an alert where the
  rules raise one), its records sent through the application's own producer, so that Quix's
  checkpoint waits for their acks as our worker waits for its outputs'.

Every variant's clock runs from its first message to the end of its last checkpoint commit (the
one Quix forces when it stops), so the state, the changelog and the outputs of the last messages
are in. The final on-hand of every key written is mirrored into a dict for the exactness check.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid

import orjson
from quixstreams import Application, message_context
from quixstreams.checkpointing import checkpoint as quix_checkpoint
from quixstreams.state.rocksdb import RocksDBOptions

from bazaar_core.kafka.topics import DIGEST_HEADER, LEG_HEADER
from bench.procs import child_main, progress
from domain.events import LEG_OUT, apply_event
from domain.stock import StockState
from domain.voids import BOOK_PREFIX
from schemas.events import from_wire
from streams.codec import decode, encode

VARIANTS = ("default", "like", "work")
_JSON = b"\x01"  # tags a value that is not a StockState (a sale-book bucket, a store's list of days)
DAYS_PREFIX = "\x02days|"  # a store's sale-book days (the worker finds them by a RocksDB prefix scan)


def _dumps(value) -> bytes:
    return encode(value) if isinstance(value, StockState) else _JSON + orjson.dumps(value)


def _loads(data: bytes):
    if data[:1] == _JSON:
        return orjson.loads(data[1:])
    try:
        return decode(data)
    except (ValueError, TypeError):
        return orjson.loads(data)


class QuixStates:
    """The two mapping operations ``apply_event`` uses, over a Quix ``State`` (keys prefixed by the
    message key); each stock write's on-hand is mirrored into ``final``."""

    __slots__ = ("state", "final")

    def __init__(self, final: dict[str, int]) -> None:
        self.final = final

    def get(self, key, default=None):
        return self.state.get(key, default)

    def __setitem__(self, key, value) -> None:
        self.state.set(key, value)
        self.final[key] = value.on_hand


class QuixBook:
    """``domain.voids.SaleBook`` over the same Quix ``State``. The worker keeps a store's day of
    sales as one value that it appends to without parsing (``streams.codec.LazyMoves``); Quix's
    State encodes a value on every set and decodes it on every get, which would make each sale cost
    the whole day's bucket. So each record is a key of its own (``<bucket key>\\x00<event id>``),
    a bucket is a view of them, and each store's days are a key of their own (State has no prefix
    scan). A dropped day's records are only made unreachable (less work than the worker's delete)."""

    __slots__ = ("state",)

    def get(self, key: str) -> _Bucket | None:
        store, day = key[len(BOOK_PREFIX) : -7], int(key[-6:])
        return _Bucket(self.state, key) if day in self.days(store) else None

    def __setitem__(self, key: str, bucket) -> None:
        if isinstance(bucket, _Bucket):  # its records are in the State already
            return
        for event_id, record in bucket.items():  # a new day's bucket
            self.state.set(f"{key}\x00{event_id}", record)
        store, day = key[len(BOOK_PREFIX) : -7], int(key[-6:])
        days = self.days(store)
        if day not in days:
            self.state.set(DAYS_PREFIX + store, sorted([*days, day]))

    def days(self, store_id: str) -> list[int]:
        return self.state.get(DAYS_PREFIX + store_id) or []

    def drop(self, store_id: str, day: int) -> None:
        self.state.set(DAYS_PREFIX + store_id, [d for d in self.days(store_id) if d != day])


class _Bucket:
    """One day of a store's sale book: its records, each under a key of its own."""

    __slots__ = ("state", "prefix")

    def __init__(self, state, key: str) -> None:
        self.state, self.prefix = state, key + "\x00"

    def get(self, event_id: str, default=None):
        return self.state.get(self.prefix + event_id, default)

    def __contains__(self, event_id: str) -> bool:
        return self.state.exists(self.prefix + event_id)

    def __setitem__(self, event_id: str, record) -> None:
        self.state.set(self.prefix + event_id, record)


def run(args: argparse.Namespace) -> dict:
    like = args.variant != "default"
    counter = {"done": 0, "first": None, "commits": 0, "records": 0, "cpu_first": 0.0}
    committed: list[float] = [0.0, 0.0]  # wall and CPU time at the end of the last checkpoint commit
    original_commit = quix_checkpoint.Checkpoint.commit

    def timed_commit(self, *a, **kw):  # (Quix has no hook after a commit: the clock stops after the last one)
        original_commit(self, *a, **kw)
        counter["commits"] += 1
        committed[:] = [time.perf_counter(), time.process_time()]

    quix_checkpoint.Checkpoint.commit = timed_commit  # type: ignore[method-assign]
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        rocksdb_options=RocksDBOptions(dumps=_dumps, loads=_loads),
        loglevel="WARNING",
        **({"commit_every": args.commit_every} if like else {}),
    )
    topic = app.topic(args.topic, key_deserializer="bytes", value_deserializer="bytes")
    sdf = app.dataframe(topic)
    final: dict[str, int] = {}
    mapping = QuixStates(final)

    def start() -> None:
        counter["first"], counter["cpu_first"] = time.perf_counter(), time.process_time()

    def update(value: bytes, key, timestamp, headers, state) -> None:
        if counter["first"] is None:
            start()
        h = {k: v.decode() for k, v in (headers or []) if v is not None}
        mapping.state = state
        leg, digest = h.get(LEG_HEADER, LEG_OUT), h.get(DIGEST_HEADER)
        apply_event(mapping, from_wire(value), leg=leg, fingerprint=digest, window_days=args.window_days)
        counter["done"] += 1
        if counter["done"] % 5000 == 0:
            progress(counter["done"])

    if args.variant == "work":
        update = _work(app, args, mapping, counter, start)
    sdf.update(update, stateful=True, metadata=True)
    try:
        app.run(count=args.total, collect=False)
    finally:
        quix_checkpoint.Checkpoint.commit = original_commit  # type: ignore[method-assign]
    progress(counter["done"])
    elapsed = committed[0] - counter["first"]
    return {
        "variant": args.variant,
        "commit_every": args.commit_every if like else None,
        "messages": counter["done"],
        "seconds": elapsed,
        "cpu_s": committed[1] - counter["cpu_first"],
        "messages_per_s": counter["done"] / elapsed,
        "commits": counter["commits"],
        "records": counter["records"],
        "stock": final,
    }


def _work(app: Application, args: argparse.Namespace, mapping: QuixStates, counter: dict, start):
    """The update of the ``work`` variant: the stock agent's ``Applier`` per message, its ledger and
    alert records produced through the application's producer (flushed by each checkpoint)."""
    from bazaar_core.settings import Settings
    from domain.batch import Applier, BatchOutput
    from streams.catalog import CatalogCache

    settings = Settings()
    book = QuixBook()
    # the worker's catalog as the benchmark runs it (no products registered: default thresholds, UTC days)
    catalog = CatalogCache(settings)
    applier = Applier(
        mapping,  # type: ignore[arg-type]
        catalog,
        args.window_days,
        settings.velocity_window_days,
        args.ledger_topic,
        args.alerts_topic,
        sales=book,  # type: ignore[arg-type]
        void_window_days=settings.void_window_days,
    )
    producer = app._processing_context.producer  # the producer each checkpoint flushes (to_topic's)

    def update(value: bytes, key, timestamp, headers, state) -> None:
        if counter["first"] is None:
            start()
        h = {k: v.decode() for k, v in (headers or []) if v is not None}
        mapping.state = book.state = state
        ctx = message_context()
        out = BatchOutput()
        applier.apply(out, ctx.partition, ctx.offset, key, value, h)
        for topic, partition, record_key, record in out.records:
            producer.produce(topic=topic, value=record, key=record_key, partition=partition)
        counter["records"] += len(out.records)
        counter["done"] += 1
        if counter["done"] % 5000 == 0:
            progress(counter["done"])

    return update


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--total", type=int, required=True, help="messages on the topic")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--window-days", type=int, default=30)
    parser.add_argument("--variant", choices=VARIANTS, default="default")
    parser.add_argument("--commit-every", type=int, default=500, help="like/work: a checkpoint every N messages")
    parser.add_argument("--ledger-topic", help="work: where the ledger entries go")
    parser.add_argument("--alerts-topic", help="work: where the alerts go")
    child_main(run, parser)
