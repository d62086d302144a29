"""The stock agent: applies events, in batches, to the per-(store, sku) stock table.

Faust hands the agent up to ``stream_batch_max`` fetched events at a time. Each is applied in offset
order by the pure rules in domain/ to an in-memory view of the table (a key is decoded once per
batch), then every touched key is written once (RocksDB + changelog), the ledger entries and alert
transitions are written, and only when the broker has acked all of it are the events acknowledged
(and later committed by Faust). A crash anywhere replays the batch; every update is idempotent.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter

import orjson

from faust.types import TP
from pydantic import ValidationError

from domain.events import LEG_OUT, Applied, apply_event
from domain.alerts import after_apply
from domain.alerts import message as alert_message
from domain.ledger import ledger_entry
from domain.stock import Outcome
from schemas.events import Event, Sale, from_wire
from streams import metrics
from streams.app import Pipeline
from streams.state import BatchStates
from streams.topics import DIGEST_HEADER, LEG_HEADER

log = logging.getLogger("bazaar.agents.stock")


def register(p: Pipeline) -> None:
    settings = p.settings
    states = BatchStates(p.stock)
    window_days = settings.late_window_days
    velocity_days = settings.velocity_window_days
    catalog = p.catalog
    outbox = p.outbox
    changelog_topic = p.stock.changelog_topic_name
    ledger_topic, alerts_topic = settings.ledger_topic, settings.alerts_topic

    @p.app.agent(p.events, name="stock", concurrency=1)  # >1 can commit past unprocessed (faust #606)
    async def stock_agent(stream):
        try:
            async for batch in stream.take_events(settings.stream_batch_max, settings.stream_batch_wait_s):
                await _apply_batch(batch)
        except Exception as exc:  # a bug, or outputs the broker refused: never skip the events
            log.critical("stock agent crashed; exiting at once so the events are replayed after a restart", exc_info=exc)
            _exit_now(70)

    trace = settings.trace_events
    expected: dict[int, int] = {}  # per partition: the next offset this worker must apply

    @p.app.on_rebalance_complete.connect
    async def _reset_expected(*args, **kwargs) -> None:  # noqa: ARG001
        expected.clear()

    async def _no_gaps(msg) -> None:
        """During a rebalance Faust can skip fetched messages and still commit past them. If an
        event arrives beyond the next offset this worker must apply, seek back so the skipped ones
        are fetched again (applying twice is harmless: every update is idempotent)."""
        tp = msg.tp
        floor = expected.get(msg.partition)
        if floor is None:
            floor = p.app.consumer._committed_offset.get(tp) or 0
        if msg.offset > floor:
            metrics.GAPS.inc()
            log.warning("offsets skipped before this event; seeking back to apply them",
                        extra={"partition": msg.partition, "from": floor, "to": msg.offset})
            await p.app.consumer.seek(tp, floor)
        expected[msg.partition] = max(msg.offset + 1, expected.get(msg.partition, 0)) if msg.offset <= floor else floor

    def persisted(partition: int, offset: int) -> None:
        p.stock.data.set_persisted_offset(TP(changelog_topic, partition), offset)

    async def _apply_batch(batch) -> None:
        """Apply a batch of events in offset order; write each touched key once, then the ledger and
        alerts; wait for the broker to ack all of it; only then are the events acknowledged."""
        started = time.perf_counter()
        outbox.begin()
        tally = Tally()
        last: dict[int, int] = {}
        for event in batch:
            msg = event.message
            if trace:
                log.info("event", extra={"partition": msg.partition, "offset": msg.offset, "key": msg.key})
            await _no_gaps(msg)
            last[msg.partition] = msg.offset
            _apply_one(msg, tally)
        tally.keys = states.flush(lambda partition, key, value: outbox.send(changelog_topic, partition, key, value, changelog=True))
        for topic, partition, key, value in tally.records:
            outbox.send(topic, partition, key, value)
        # visible to lookups now (RocksDB); committed only once the broker has every output
        for partition, offset in last.items():
            p.progress.mark(partition, offset)
        await outbox.commit(persisted)
        tally.observe(len(batch), time.perf_counter() - started)
        for partition, offset in last.items():
            metrics.APPLIED_OFFSET.labels(str(partition)).set(offset)

    def _apply_one(msg, tally: "Tally") -> None:
        headers = _headers(msg.headers)
        leg = headers.get(LEG_HEADER, LEG_OUT)
        try:
            ev = from_wire(msg.value)
        except ValidationError as exc:
            metrics.INVALID.inc()
            log.error("message breaks the event contract", extra={"partition": msg.partition, "offset": msg.offset, "error": str(exc)})
            return
        raised: list[dict] = []
        event_key, sale = f"{ev.event_id}|{leg}", isinstance(ev, Sale)
        received = (ev.received_at or ev.occurred_at).isoformat()
        day: list[int] = []  # the store-local day of the event, worked out once if an alert rule needs it

        def alert_step(op, result, state) -> None:
            if not day:
                day.append(catalog.local_day(op.store_id, ev.occurred_at))
            transitions = after_apply(
                state.alerts, sale=sale, outcome=result.outcome.value, store_id=op.store_id, sku=op.sku,
                quantity=op.quantity, on_hand=result.after, limits=catalog.thresholds(op.store_id, op.sku),
                day=day[0], event_key=event_key, window_days=velocity_days,
            )
            raised.extend(alert_message(t, op.store_id, op.sku, str(ev.event_id), ev.occurred_at.isoformat(), received) for t in transitions)

        states.partition = msg.partition
        applied = apply_event(states, ev, leg=leg, fingerprint=headers.get(DIGEST_HEADER), window_days=window_days, on_applied=alert_step)
        entry = ledger_entry(ev, leg, applied, inactive=_inactive(catalog, ev, leg, sale))
        if entry is not None:  # sent again on a replay, with the same figures
            tally.records.append((ledger_topic, msg.partition, msg.key, orjson.dumps(entry)))
        for alert in raised:  # a replay re-sends the same alert ids; consumers dedupe on them
            tally.records.append((alerts_topic, msg.partition, msg.key, orjson.dumps(alert)))
        tally.add(ev, leg, applied)


class Tally:
    """What a batch did, for its metrics and logs (counted per batch, not per event)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, int, bytes | None, bytes]] = []  # ledger and alert records: topic, partition, key, value
        self.events: Counter = Counter()
        self.outcomes: Counter = Counter()
        self.negative = 0
        self.keys = 0

    def add(self, ev: Event, leg: str, applied: list[Applied]) -> None:
        self.events[(ev.type, leg)] += 1
        for a in applied:
            outcome = a.result.outcome
            self.outcomes[outcome.value] += 1
            if a.result.went_negative:
                self.negative += 1
                log.warning("stock went negative", extra={"event_id": str(ev.event_id), "store_id": a.op.store_id, "sku": a.op.sku, "on_hand_milli": a.result.after})
            if outcome in (Outcome.CONFLICT, Outcome.BEYOND_WINDOW, Outcome.STALE_COUNT):
                log.warning("event flagged", extra={"event_id": str(ev.event_id), "outcome": outcome.value, "store_id": a.op.store_id, "sku": a.op.sku})

    def observe(self, size: int, seconds: float) -> None:
        for (kind, leg), n in self.events.items():
            metrics.EVENTS.labels(kind, leg).inc(n)
        for outcome, n in self.outcomes.items():
            metrics.KEY_OUTCOMES.labels(outcome).inc(n)
        if self.negative:
            metrics.NEGATIVE.inc(self.negative)
        metrics.BATCH_EVENTS.observe(size)
        metrics.BATCH_KEYS.observe(self.keys)
        metrics.BATCH_SECONDS.observe(seconds)


def _exit_now(code: int) -> None:
    """Leave like SIGKILL would: Faust's orderly shutdown could commit the failed event's offset,
    while a hard exit leaves it uncommitted, so it is replayed (and updates are idempotent)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(code)


def _inactive(catalog, ev: Event, leg: str, sale: bool) -> set[str]:
    """Skus of a sale that the catalog says are inactive at the store: recorded and flagged."""
    if not sale:
        return set()
    return {line.sku for line in ev.lines if catalog.active(ev.store_id, line.sku) is False}


def _headers(raw) -> dict[str, str]:
    if not raw:
        return {}
    items = raw.items() if isinstance(raw, dict) else raw
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in items if v is not None}
