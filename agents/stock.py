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

from bazaar_core.kafka import deadletters
from bazaar_core.kafka.fetched import take_fetched
from bazaar_core.kafka.gapfill import GapGuard, ack_offset
from domain.batch import Applier, BatchOutput, InvalidEvent
from streams import metrics
from streams.app import Pipeline, on_any_rebalance
from streams.state import BatchStates

log = logging.getLogger("bazaar.agents.stock")
# While applying a batch the agent gives the event loop a turn every this many events: aiokafka's
# fetches and Faust's fetcher run on the same loop, so without it the next events are fetched only
# between batches (the agent then waits for a broker round trip with a backlog on the broker), and
# /health, /metrics and lookups wait out a whole batch.
YIELD_EVERY = 100
MAX_INFLIGHT = 4  # batches whose outputs the broker has not acked yet
APPLY_ATTEMPTS = 2  # a message whose rules raise this often is dead-lettered


def register(p: Pipeline) -> None:
    settings = p.settings
    states = BatchStates(p.stock, settings.stream_cache_keys)
    outbox = p.outbox
    changelog_topic = p.stock.changelog_topic_name
    dlq_topic = settings.dead_letters_topic
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
        the changelog, ledger, alert and dead-letter records. Returns the sealed outbox batch to wait
        for (the next batch is applied while the broker acks this one's records), the gap-filled
        offsets and the last offset per partition."""
        started = time.perf_counter()
        messages: list[tuple] = []  # (partition, offset, key, value, headers, tp if read past Faust to fill a gap)
        last: dict[int, int] = {}
        for event in batch:
            msg = event.message
            if trace:
                log.info("event", extra={"partition": msg.partition, "offset": msg.offset, "key": msg.key})
            for partition, offset, key, value, headers in await gaps.check(msg):
                messages.append((partition, offset, key, value, headers, msg.tp))
            messages.append((msg.partition, msg.offset, msg.key, msg.value, msg.headers, None))
            last[msg.partition] = max(msg.offset, last.get(msg.partition, -1))
        out, dead = await _apply_all(messages)
        outbox.begin()
        keys = states.flush(lambda partition, key, value: outbox.send(changelog_topic, partition, key, value, changelog=True))
        for topic, partition, key, value in out.records:
            outbox.send(topic, partition, key, value)
        for m, error, attempts in dead:
            letter = deadletters.letter("worker", settings.events_topic, m[0], m[1], m[2], m[3], _headers(m[4]), error, attempts)
            outbox.send(dlq_topic, 0, letter.id.encode(), letter.to_bytes())
        # in RocksDB now; marked applied and acknowledged (so committed) once the broker has every output
        _observe(out, len(batch), keys, dead)
        filled = [(m[5], m[1]) for m in messages if m[5] is not None]
        return outbox.seal(), started, filled, last

    async def _apply_all(messages: list[tuple]) -> tuple[BatchOutput, list[tuple]]:
        """The batch through the rules. A message that breaks the contract is set aside at once; one
        whose rules raise may have changed states half-way, so the batch starts again from RocksDB
        without it (after a second failure: one may be a fluke of the moment). Either way it is
        dead-lettered and the partition goes on: no single message can stop the worker."""
        failures: dict[tuple[int, int], int] = {}
        poison: dict[tuple[int, int], BaseException] = {}
        while True:
            out, dead = BatchOutput(), []
            try:
                for i, m in enumerate(messages):
                    if i % YIELD_EVERY == YIELD_EVERY - 1:
                        await asyncio.sleep(0)  # fetching overlaps applying; health and lookups answer meanwhile
                    partition, offset = m[0], m[1]
                    if poison and (partition, offset) in poison:
                        dead.append((m, poison[partition, offset], failures[partition, offset]))
                        continue
                    states.partition = partition
                    try:
                        applier.apply(out, partition, offset, m[2], m[3], _headers(m[4]))
                    except InvalidEvent as exc:
                        dead.append((m, exc, 1))
                    except Exception as exc:
                        raise _Failed(partition, offset, exc) from exc
                return out, dead
            except _Failed as failed:
                at = (failed.partition, failed.offset)
                failures[at] = failures.get(at, 0) + 1
                if failures[at] >= APPLY_ATTEMPTS:
                    poison[at] = failed.error
                log.warning("applying a batch failed; applying it again from RocksDB",
                            extra={"partition": at[0], "offset": at[1], "attempt": failures[at], "error": repr(failed.error)})
                states.discard()


class _Failed(Exception):
    def __init__(self, partition: int, offset: int, error: BaseException) -> None:
        super().__init__(partition, offset, error)
        self.partition, self.offset, self.error = partition, offset, error


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
    return {k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in items if v is not None}


def _crash(exc: BaseException) -> None:
    log.critical("stock agent crashed; exiting at once so the events are replayed after a restart", exc_info=exc)
    _exit_now(70)


def _observe(out: BatchOutput, size: int, keys: int, dead: list) -> None:
    for (kind, leg), n in out.events.items():
        metrics.EVENTS.labels(kind, leg).inc(n)
    for outcome, n in out.outcomes.items():
        metrics.KEY_OUTCOMES.labels(outcome).inc(n)
    for (kind, alert_kind), n in out.alerts.items():
        metrics.ALERTS.labels(kind, alert_kind).inc(n)
    if out.negative:
        metrics.NEGATIVE.inc(out.negative)
    invalid = sum(1 for _, error, _ in dead if isinstance(error, InvalidEvent))
    if invalid:
        metrics.INVALID.inc(invalid)
    metrics.BATCH_EVENTS.observe(size)
    metrics.BATCH_KEYS.observe(keys)
