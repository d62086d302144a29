"""The stock agent: applies each event to the per-(store, sku) stock table."""
from __future__ import annotations

import logging
import time

import orjson

from pydantic import ValidationError

from domain.events import LEG_OUT, Applied, apply_event
from domain.ledger import ledger_entry
from domain.stock import Outcome
from schemas.events import Event, from_wire
from streams import metrics
from streams.app import Pipeline
from streams.state import TableStates
from streams.topics import DIGEST_HEADER, LEG_HEADER

log = logging.getLogger("bazaar.agents.stock")


def register(p: Pipeline) -> None:
    states = TableStates(p.stock)
    window_days = p.settings.late_window_days

    @p.app.agent(p.events, name="stock", concurrency=1)  # >1 can commit past unprocessed (faust #606)
    async def stock_agent(stream):
        try:
            await _consume(stream)
        except Exception as exc:  # a bug, not bad input: stop the worker rather than skip an event
            log.critical("stock agent crashed; stopping the worker so it restarts and replays", exc_info=exc)
            await p.app.crash(exc)
            raise

    async def _consume(stream) -> None:
        async for event in stream.events():
            msg = event.message
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
            applied = apply_event(states, ev, leg=leg, fingerprint=headers.get(DIGEST_HEADER), window_days=window_days)
            entry = ledger_entry(ev, leg, applied)
            if entry is not None:  # sent again on a replay, with the same figures
                await p.ledger.send(key=msg.key, value=orjson.dumps(entry))
            _observe(ev, leg, applied)
            metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
            metrics.APPLIED_OFFSET.labels(str(msg.partition)).set(msg.offset)
            p.progress.mark(msg.partition, msg.offset)


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
