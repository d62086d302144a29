"""The plain steps of ``POST /v1/events``: body -> events -> Kafka messages -> answer.

Validation is all-or-nothing: one bad event makes the whole request a 422 listing every bad event
by index, and nothing is produced. Nothing here touches Kafka or FastAPI.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from pydantic import ValidationError

from api.errors import ApiError, batch_too_large, event_issues, invalid_events, invalid_json, issue
from api.producer import DeliveryResult, Item
from domain import tokens
from domain.events import LEG_OUT, digest, wire_legs
from schemas.events import Event, EventAdapter, loads_exact, to_wire
from streams.topics import DIGEST_HEADER, LEG_HEADER

def parse_events(raw: bytes, max_batch: int) -> list[Event]:
    """One event object or ``{"events": [...]}`` -> validated events (or an ApiError)."""
    return parse_batch(raw, max_batch)[0]


def parse_batch(raw: bytes, max_batch: int) -> tuple[list[Event], bool]:
    """As ``parse_events``, and whether the body was a batch (issues then carry an index)."""
    try:
        body = loads_exact(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid_json(exc) from None
    items, batch = _items(body, max_batch)
    events, issues = [], []
    for i, item in enumerate(items):
        try:
            events.append(EventAdapter.validate_python(item))
        except ValidationError as exc:
            issues.extend(event_issues(exc, i if batch else None))
    if issues:
        raise invalid_events(issues)
    return events, batch


def _items(body: Any, max_batch: int) -> tuple[list, bool]:
    if not isinstance(body, dict):
        raise invalid_events([issue(None, 'must be a JSON object: one event, or {"events": [...]}')])
    if "events" not in body:
        return [body], False
    items = body["events"]
    if not isinstance(items, list):
        raise invalid_events([issue("events", "must be a list of events")])
    if not items:
        raise invalid_events([issue("events", "must hold at least 1 event")])
    if len(items) > max_batch:
        raise batch_too_large(len(items), max_batch)
    return items, True


def stamp(events: Sequence[Event], now: datetime) -> list[Event]:
    """Set the server's ``received_at`` (whatever the client sent there is replaced)."""
    return [e.model_copy(update={"received_at": now}) for e in events]


def messages(events: Sequence[Event], digests: Sequence[str] | None = None) -> tuple[list[Item], list[int]]:
    """Kafka messages keyed by store (so one store's events stay ordered), with a payload digest
    header; a transfer also gets its in-leg keyed by the receiving store. Returns the messages and,
    for each, the index of the event it carries. ``digests``: of the events as posted, when what is
    produced differs (units converted to base units)."""
    items: list[Item] = []
    owners: list[int] = []
    for i, e in enumerate(events):
        value, headers = to_wire(e), [(DIGEST_HEADER, (digests[i] if digests else digest(e)).encode())]
        for key, leg in wire_legs(e):
            items.append((key.encode(), value, headers if leg == LEG_OUT else [*headers, (LEG_HEADER, leg.encode())]))
            owners.append(i)
    return items, owners


def per_event(results: Sequence[DeliveryResult], owners: Sequence[int], count: int) -> list[DeliveryResult]:
    """One result per event: its first failed leg, or its first leg when every leg was acked."""
    out: list[DeliveryResult | None] = [None] * count
    for result, i in zip(results, owners):
        if out[i] is None or (out[i].ok and not result.ok):
            out[i] = result
    return out


def token(results: Sequence[DeliveryResult]) -> str:
    """Read-your-writes token: the highest acked offset per partition."""
    offsets: dict[int, int] = {}
    for r in results:
        if r.ok:
            tokens.merge(offsets, r.partition, r.offset)
    return tokens.encode(offsets)


def accepted(events: Sequence[Event], results: Sequence[DeliveryResult]) -> dict:
    return {"accepted": len(events), "event_ids": [str(e.event_id) for e in events], "token": token(results)}


def delivery_failure(events: Sequence[Event], results: Sequence[DeliveryResult]) -> ApiError | None:
    """503 naming what was and was not acked, or None when every event was.

    Re-sending the whole request is always safe: event ids dedupe downstream.
    """
    failed = [(e, r) for e, r in zip(events, results) if not r.ok]
    if not failed:
        return None
    reasons = sorted({r.error for _, r in failed})
    return ApiError(
        503,
        "broker_unavailable",
        [issue(None, f"{reason}; re-send the whole request (event ids make it safe)") for reason in reasons],
        headers={"Retry-After": "1"},
        extra={
            "delivered": [str(e.event_id) for e, r in zip(events, results) if r.ok],
            "failed": [str(e.event_id) for e, _ in failed],
        },
    )
