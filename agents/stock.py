"""The stock agent: applies each event to the per-(store, sku) stock table."""
from __future__ import annotations

import logging
import os
import time

import orjson

from pydantic import ValidationError

from domain.events import LEG_OUT, Applied, apply_event
from domain.alerts import after_apply
from domain.alerts import message as alert_message
from domain.ledger import ledger_entry
from domain.stock import Outcome
from schemas.events import Event, Sale, from_wire
from streams import metrics
from streams.app import Pipeline
from streams.state import TableStates
from streams.topics import DIGEST_HEADER, LEG_HEADER

log = logging.getLogger("bazaar.agents.stock")


def register(p: Pipeline) -> None:
    states = TableStates(p.stock)
    window_days = p.settings.late_window_days
    velocity_days = p.settings.velocity_window_days
    catalog = p.catalog

    @p.app.agent(p.events, name="stock", concurrency=1)  # >1 can commit past unprocessed (faust #606)
    async def stock_agent(stream):
        try:
            await _consume(stream)
        except Exception as exc:  # a bug, not bad input: never skip the event
            log.critical("stock agent crashed; exiting at once so the event is replayed after a restart", exc_info=exc)
            _exit_now(70)

    trace = p.settings.trace_events
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

    async def _consume(stream) -> None:
        async for event in stream.events():
            msg = event.message
            if trace:
                log.info("event", extra={"partition": msg.partition, "offset": msg.offset, "key": msg.key})
            await _no_gaps(msg)
            headers = _headers(msg.headers)
            leg = headers.get(LEG_HEADER, LEG_OUT)
            started = time.perf_counter()
            try:
                ev = from_wire(msg.value)
            except ValidationError as exc:
                metrics.INVALID.inc()
                log.error("message breaks the event contract", extra={"partition": msg.partition, "offset": msg.offset, "error": str(exc)})
                p.progress.mark(msg.partition, msg.offset)
                continue
            raised: list[dict] = []
            event_key, sale = f"{ev.event_id}|{leg}", isinstance(ev, Sale)
            received = (ev.received_at or ev.occurred_at).isoformat()

            def alert_step(op, result, state) -> None:
                transitions = after_apply(
                    state.alerts, sale=sale, outcome=result.outcome.value, store_id=op.store_id, sku=op.sku,
                    quantity=op.quantity, on_hand=result.after, limits=catalog.thresholds(op.store_id, op.sku),
                    day=catalog.local_day(op.store_id, ev.occurred_at), event_key=event_key, window_days=velocity_days,
                )
                raised.extend(alert_message(t, op.store_id, op.sku, str(ev.event_id), ev.occurred_at.isoformat(), received) for t in transitions)

            applied = apply_event(states, ev, leg=leg, fingerprint=headers.get(DIGEST_HEADER), window_days=window_days, on_applied=alert_step)
            entry = ledger_entry(ev, leg, applied, inactive=_inactive(catalog, ev, leg, sale))
            if entry is not None:  # sent again on a replay, with the same figures
                await p.ledger.send(key=msg.key, value=orjson.dumps(entry))
            for alert in raised:  # a replay re-sends the same alert ids; consumers dedupe on them
                await p.alerts.send(key=msg.key, value=orjson.dumps(alert))
            _observe(ev, leg, applied)
            metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
            metrics.APPLIED_OFFSET.labels(str(msg.partition)).set(msg.offset)
            p.progress.mark(msg.partition, msg.offset)


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


def _observe(ev: Event, leg: str, applied: list[Applied]) -> None:
    metrics.EVENTS.labels(ev.type, leg).inc()
    for a in applied:
        outcome = a.result.outcome
        metrics.KEY_OUTCOMES.labels(outcome.value).inc()
        if a.result.went_negative:
            metrics.NEGATIVE.inc()
            log.warning("stock went negative", extra={"event_id": str(ev.event_id), "store_id": a.op.store_id, "sku": a.op.sku, "on_hand_milli": a.result.after})
        if outcome in (Outcome.CONFLICT, Outcome.BEYOND_WINDOW, Outcome.STALE_COUNT):
            log.warning("event flagged", extra={"event_id": str(ev.event_id), "outcome": outcome.value, "store_id": a.op.store_id, "sku": a.op.sku})
