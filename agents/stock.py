"""The stock agent: applies events, in batches, to the per-(store, sku) stock table.

Faust hands the agent up to ``stream_batch_max`` fetched events at a time. Each is applied in offset
order by the pure rules in domain/ to an in-memory view of the table (a key is decoded once per
batch), then every touched key is written once (RocksDB + changelog), the ledger entries and alert
transitions are sent. The next batch is applied while the broker acks those records; only when it
has acked all of a batch's records are its events acknowledged (and later committed by Faust). A
crash anywhere replays every unacknowledged event; every update is idempotent.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque

from faust.types import TP

from domain.batch import Applier, BatchOutput
from streams import metrics
from streams.app import Pipeline, on_any_rebalance
from streams.fetched import take_fetched
from streams.gapfill import GapGuard, ack_offset
from streams.state import BatchStates

log = logging.getLogger("bazaar.agents.stock")
# While applying a batch the agent gives the event loop a turn every this many events: aiokafka's
# fetches and Faust's fetcher run on the same loop, so without it the next events are fetched only
# between batches (the agent then waits for a broker round trip with a backlog on the broker), and
# /health, /metrics and lookups wait out a whole batch. Two workers, stream stage: 4,627 and 5,864
# events/s without, 5,490 and 6,862 with; one worker unchanged (about 4,200).
YIELD_EVERY = 100
MAX_INFLIGHT = 4  # batches whose outputs the broker has not acked yet


def register(p: Pipeline) -> None:
    settings = p.settings
    states = BatchStates(p.stock, settings.stream_cache_keys)
    outbox = p.outbox
    changelog_topic = p.stock.changelog_topic_name
    applier = Applier(states, p.catalog, settings.late_window_days, settings.velocity_window_days, settings.ledger_topic, settings.alerts_topic)

    @p.app.agent(p.events, name="stock", concurrency=1)  # >1 can commit past unprocessed (faust #606)
    async def stock_agent(stream):
        inflight: deque[asyncio.Task] = deque()  # batches applied, waiting for the broker to ack their outputs
        events = stream.noack()
        queue = stream.channel.queue  # where Faust puts the events it fetched for this agent
        try:
            # Faust's stream hands over one event (waiting for it if none is fetched); the batch is
            # that event plus whatever else Faust has fetched (``take_fetched``), also what its fetcher
            # hands over while the agent yields a loop turn, until nothing more comes or the batch is
            # full: no timer, so a lone event is applied at once, and under load batches grow by
            # themselves. The agent never waits for an event while it holds some (see take_fetched).
            async for event in events.events():
                batch = [event]
                while take_fetched(app, queue, batch, batch_max) and len(batch) < batch_max:
                    await asyncio.sleep(0)  # one loop turn: Faust's fetcher hands over what it has (~100 events)
                sealed, started, filled, last = await _apply_batch(batch)
                inflight.append(asyncio.ensure_future(_finish(events, batch, sealed, started, filled, last)))
                while inflight and (inflight[0].done() or len(inflight) > MAX_INFLIGHT):
                    await inflight.popleft()
        except Exception as exc:  # a bug: never skip the events
            _crash(exc)

    app = p.app
    batch_max = settings.stream_batch_max

    async def _finish(stream, batch, sealed, started: float, filled: list[tuple], last: dict[int, int]) -> None:
        """Once the broker has all of a batch's outputs: mark its offsets applied for read-your-writes
        waits (a lookup that waited for an event then also finds its ledger entries and alerts on the
        broker), and acknowledge its events (then Faust may commit them)."""
        try:
            await outbox.acked(sealed, persisted)
            for partition, offset in last.items():
                p.progress.mark(partition, offset)
                metrics.APPLIED_OFFSET.labels(str(partition)).set(offset)
            for event in batch:
                await stream.ack(event)
            for tp, offset in filled:
                ack_offset(p.app.consumer, tp, offset)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        except Exception as exc:  # outputs the broker refused: the events must be replayed
            _crash(exc)

    trace = settings.trace_events
    # offsets Faust skipped in a rebalance are read from the broker and applied before the event
    # that revealed them (applying an event twice is harmless: every update is idempotent)
    gaps = GapGuard.of_app(p.app, settings.kafka_bootstrap, metrics.GAPS.inc)

    on_any_rebalance(p.app, states.forget)  # cached states: RocksDB, recovered from the changelog, is the truth

    def persisted(partition: int, offset: int) -> None:
        p.stock.data.set_persisted_offset(TP(changelog_topic, partition), offset)

    async def _apply_batch(batch):
        """Apply a batch of events in offset order; write each touched key once (RocksDB), then send
        the changelog, ledger and alert records. Returns the sealed outbox batch to wait for (the
        next batch is applied while the broker acks this one's records), the gap-filled offsets and
        the last offset per partition."""
        started = time.perf_counter()
        outbox.begin()
        out = BatchOutput()
        last: dict[int, int] = {}
        filled: list[tuple] = []  # (tp, offset) read past Faust to fill a gap: acked with the batch
        for i, event in enumerate(batch):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # fetching overlaps applying; health and lookups answer meanwhile
            msg = event.message
            if trace:
                log.info("event", extra={"partition": msg.partition, "offset": msg.offset, "key": msg.key})
            for partition, offset, key, value, headers in await gaps.check(msg):
                states.partition = partition
                applier.apply(out, partition, offset, key, value, _headers(headers))
                filled.append((msg.tp, offset))
            last[msg.partition] = max(msg.offset, last.get(msg.partition, -1))
            states.partition = msg.partition
            applier.apply(out, msg.partition, msg.offset, msg.key, msg.value, _headers(msg.headers))
        keys = states.flush(lambda partition, key, value: outbox.send(changelog_topic, partition, key, value, changelog=True))
        for topic, partition, key, value in out.records:
            outbox.send(topic, partition, key, value)
        # in RocksDB now; marked applied and acknowledged (so committed) once the broker has every output
        _observe(out, len(batch), keys)
        return outbox.seal(), started, filled, last


def _exit_now(code: int) -> None:
    """Leave like SIGKILL would: Faust's orderly shutdown could commit the failed event's offset,
    while a hard exit leaves it uncommitted, so it is replayed (and updates are idempotent)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(code)


def _headers(raw) -> dict[str, str]:
    if not raw:
        return {}
    items = raw.items() if isinstance(raw, dict) else raw
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in items if v is not None}


def _crash(exc: BaseException) -> None:
    log.critical("stock agent crashed; exiting at once so the events are replayed after a restart", exc_info=exc)
    _exit_now(70)


def _observe(out: BatchOutput, size: int, keys: int) -> None:
    for (kind, leg), n in out.events.items():
        metrics.EVENTS.labels(kind, leg).inc(n)
    for outcome, n in out.outcomes.items():
        metrics.KEY_OUTCOMES.labels(outcome).inc(n)
    for (kind, alert_kind), n in out.alerts.items():
        metrics.ALERTS.labels(kind, alert_kind).inc(n)
    if out.negative:
        metrics.NEGATIVE.inc(out.negative)
    if out.invalid:
        metrics.INVALID.inc(out.invalid)
    metrics.BATCH_EVENTS.observe(size)
    metrics.BATCH_KEYS.observe(keys)
