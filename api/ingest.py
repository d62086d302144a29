"""The plain steps of ``POST /v1/events``: body -> events -> Kafka messages -> answer.

Validation is all-or-nothing: one bad event makes the whole request a 422 listing every bad event
by index, and nothing is produced. Nothing here touches Kafka or FastAPI.

The fast path validates the whole body at once from its bytes (pydantic's ``validate_json``); any
body it does not accept (JSON numbers with a fraction, which must stay exact decimals; anything
invalid) goes the exact path instead (``loads_exact``, then event by event), which alone decides
what is refused and how the answer names it. So the fast path changes the cost, never the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from api.errors import ApiError, batch_too_large, event_issues, invalid_events, invalid_json, issue
from api.producer import DeliveryResult, Item
from bazaar_core.kafka.topics import DIGEST_HEADER, LEG_HEADER
from domain import tokens
from domain.access import Principal
from domain.events import LEG_OUT, digested_json, fingerprint_of, wire_legs
from schemas.events import Event, EventAdapter, loads_exact
from schemas.types import Timestamp


class _Batch(BaseModel):
    """``{"events": [...]}`` as the fast path reads it (sizes are checked after)."""

    model_config = ConfigDict(extra="ignore")
    events: list[Event]


_BatchAdapter = TypeAdapter(_Batch)
_TimestampAdapter = TypeAdapter(Timestamp)


def parse_events(raw: bytes, max_batch: int) -> list[Event]:
    """One event object or ``{"events": [...]}`` -> validated events (or an ApiError)."""
    return parse_batch(raw, max_batch)[0]


def parse_batch(raw: bytes, max_batch: int) -> tuple[list[Event], bool]:
    """As ``parse_events``, and whether the body was a batch (issues then carry an index)."""
    fast = _parse_fast(raw, max_batch)
    return fast if fast is not None else _parse_exact(raw, max_batch)


def _parse_fast(raw: bytes, max_batch: int) -> tuple[list[Event], bool] | None:
    """The whole body validated from its bytes, or None: then the exact path decides.

    A body is a batch when its top-level object has the key ``events``; that key can only be
    spelled ``"events"`` unless an ASCII letter is escaped (``\\u0065``), and such bodies go the exact way.
    """
    if b'"events"' in raw:
        try:
            events = _BatchAdapter.validate_json(raw).events
        except ValueError:  # ValidationError, or bytes that are not text
            return None
        return (events, True) if 1 <= len(events) <= max_batch else None
    if b"\\u00" in raw:
        return None
    try:
        return [EventAdapter.validate_json(raw)], False
    except ValueError:
        return None


def _parse_exact(raw: bytes, max_batch: int) -> tuple[list[Event], bool]:
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


ACTOR_MAX = 64  # schemas.events: what an event's actor may hold


def actor_of(who: Principal) -> str:
    """What the ledger records as who did it: the credential's name and id, the name shortened so
    that the id always fits."""
    actor = who.actor
    if len(actor) <= ACTOR_MAX:
        return actor
    tail = f" ({who.sub})"[-ACTOR_MAX:]
    return who.name[: ACTOR_MAX - len(tail)] + tail


def without_actor(events: list[Event]) -> list[Event]:
    """The events without the actor a client sent (the server sets it: ``messages(actor=...)``)."""
    if all(e.actor is None for e in events):  # what every terminal sends
        return events
    return [e if e.actor is None else e.model_copy(update={"actor": None}) for e in events]


def stamp(events: Sequence[Event], now: datetime) -> list[Event]:
    """Set the server's ``received_at`` (whatever the client sent there is replaced)."""
    return [e.model_copy(update={"received_at": now}) for e in events]


def messages(
    events: Sequence[Event],
    digests: Sequence[str | None] | None = None,
    received_at: datetime | None = None,
    actor: str | None = None,
) -> tuple[list[Item], list[int]]:
    """Kafka messages keyed by store (so one store's events stay ordered), with a payload digest
    header; a transfer also gets its in-leg keyed by the receiving store. Returns the messages and,
    for each, the index of the event it carries.

    ``received_at``: the server's receive time, written into every message (else each event's own).
    ``actor``: who posted them (from the token), written into every message; the events must carry
    none (``without_actor``), and their digest does not cover it, as it covers no server field: the
    same event re-sent under another credential is the same event.
    ``digests``: of the events as posted, where what is produced differs (units converted to base
    units); None (or a None item): the digest of the event itself (``domain.events.digest``).
    """
    items: list[Item] = []
    owners: list[int] = []
    stamp_json = _TimestampAdapter.dump_json(received_at) if received_at is not None else None
    actor_json = orjson.dumps(actor) if actor is not None else None
    for i, e in enumerate(events):
        value, fingerprint = wire(e, stamp_json if received_at is not None else _received_json(e), actor_json)
        posted = digests[i] if digests else None
        headers = [(DIGEST_HEADER, (posted or fingerprint).encode())]
        for key, leg in wire_legs(e):
            items.append((key.encode(), value, headers if leg == LEG_OUT else [*headers, (LEG_HEADER, leg.encode())]))
            owners.append(i)
    return items, owners


_OCCURRED = b'"occurred_at":"'


def wire(event: Event, received_json: bytes | None, actor_json: bytes | None = None) -> tuple[bytes, str]:
    """(the bytes written to Kafka, the payload digest) from one serialisation of the event.

    The same bytes as ``schemas.events.to_wire`` of the event stamped with ``received_json`` (and
    ``actor_json``, for an event without an actor) and the same digest as ``domain.events.digest`` of
    the event as given: the event's JSON without ``received_at`` is what the digest covers, and
    ``received_at`` then ``actor`` are the fields right after ``occurred_at`` (a string's quotes are
    escaped in JSON, so ``"occurred_at":"`` cannot occur inside a value before it).
    """
    body = digested_json(event)
    fingerprint = fingerprint_of(body)
    if received_json is None and actor_json is None:
        return body, fingerprint
    end = body.index(b'"', body.index(_OCCURRED) + len(_OCCURRED)) + 1
    parts = [body[:end]]
    if received_json is not None:
        parts += (b',"received_at":', received_json)
    if actor_json is not None:
        parts += (b',"actor":', actor_json)
    parts.append(body[end:])
    return b"".join(parts), fingerprint


def _received_json(event: Event) -> bytes | None:
    return None if event.received_at is None else _TimestampAdapter.dump_json(event.received_at)


def per_event(results: Sequence[DeliveryResult], owners: Sequence[int], count: int) -> list[DeliveryResult]:
    """One result per event: its first failed leg, or its first leg when every leg was acked."""
    out: list[DeliveryResult | None] = [None] * count
    for result, i in zip(results, owners):
        held = out[i]
        if held is None or (held.ok and not result.ok):
            out[i] = result
    return cast(list[DeliveryResult], out)  # every event has a leg: no None is left


def token(results: Sequence[DeliveryResult]) -> str:
    """Read-your-writes token: the highest acked offset per partition."""
    offsets: dict[int, int] = {}
    for r in results:
        if r.ok:
            tokens.merge(offsets, r.partition, r.offset)  # type: ignore[arg-type]  # an acked result has both
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
    reasons = sorted({str(r.error) for _, r in failed})  # (a failed result has its error text)
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
