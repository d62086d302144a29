"""``POST /v1/events``: one event, or ``{"events": [...]}`` (1..max_batch), answered after Kafka acks.

* 202 ``{"accepted": n, "event_ids": [...], "token": "v1.P:O,..."}`` once every event is acked;
  pass ``token`` as ``after`` to a stock lookup to read your own writes.
* ``Content-Type: application/json`` (else 415, ``api.guard``: what a browser may post cross-site
  without a preflight is refused). 400 ``invalid_json``, 413 ``batch_too_large`` (or
  ``body_too_large``: over ``max_body_bytes``), 422 ``invalid_event`` (every bad event by index);
  nothing is produced then.
* Catalog rule (``domain.catalog_refs``): events of a registered store may name only catalogued
  skus (422 on ``lines[i].sku``); ``unit`` on a line is converted to the product's base unit.
* 503 ``broker_unavailable`` with ``delivered``/``failed`` event ids and ``Retry-After: 1``. Re-sending
  the whole request is always safe: event ids dedupe downstream.
* Access: a Bearer token (401 without one); every event needs its type's permission
  (``domain.access.EVENT_PERMISSIONS``) at its store, a transfer at the sending store. One event
  outside the token's rights refuses the whole request (403 naming the permission, the store and
  the event's index) and nothing is produced. The server sets each event's ``actor`` from the token
  (``Principal.actor``); what the client sent there is not trusted. The route-level check is the
  sale right, which every role that may write any event holds: it refuses the others before the
  body is read.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request, Response

from api import catalog_check, ingest, metrics
from api.authz import NOBODY, Access, Requires, checked_inline, forbidden
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body
from domain.access import ALL_STORES, EVENT_PERMISSIONS, Permission, Principal, decide
from schemas.answers import Accepted, IngestFailure
from schemas.events import Event, EventBatch

router = APIRouter(prefix="/v1", tags=["events"])
PATH = "/v1/events"  # (api.main.IngestLane takes POSTs here past the router)

ACK_GRACE_S = 1.0  # librdkafka's message.timeout.ms fires first; this only bounds the wait
# The route's own check, before the body is read: every role that may write any event may write a
# sale (tests/unit/test_route_access.py holds that), so this refuses exactly the roles that may write none.
ROUTE_PERMISSION = Permission.EVENTS_SALE
GUARD = Requires(Access(ROUTE_PERMISSION, store="body"))

EXAMPLES = {
    "sale": {
        "event_id": "6f1c7c9e-1d5b-4a53-9a3c-2b1f0f6f4a10",
        "type": "sale",
        "store_id": "lahore-007",
        "terminal_id": "pos-1",
        "occurred_at": "2026-11-22T18:04:11+05:00",
        "lines": [
            {"sku": "basmati-rice-loose", "quantity": "0.125", "unit_price": "380.00"},
            {"sku": "tapal-danedar-190g", "quantity": 2, "unit_price": "450.00"},
        ],
    },
    "batch": {
        "events": [
            {
                "event_id": "0b7e4f52-8c1a-4d0e-9a55-7f3e2d1c6b90",
                "type": "adjustment",
                "reason": "expiry",
                "store_id": "lahore-007",
                "terminal_id": "pos-1",
                "occurred_at": "2026-11-22T21:30:00+05:00",
                "lines": [{"sku": "nestle-milk-1l", "quantity": "-3"}],
            },
            {
                "event_id": "5d2b8f0e-7a43-4c1e-b6d9-0e8f1a2c3b4d",
                "type": "purchase",
                "supplier": "nestle",
                "store_id": "lahore-007",
                "terminal_id": "pos-1",
                "occurred_at": "2026-11-23T09:00:00+05:00",
                "lines": [{"sku": "nestle-milk-1l", "quantity": "12", "unit_cost": "270.00"}],
            },
        ]
    },
}


@router.post(
    "/events",
    status_code=202,
    response_model=Accepted,
    responses=errors(
        "invalid_json",
        "batch_too_large",
        "invalid_event",
        "broker_unavailable",
        *AUTHED,
        *GUARDED,
        *WITH_BODY,
        *VIEWS,
        models={503: IngestFailure},
    ),
    openapi_extra=json_body(
        Event | EventBatch, description='One event, or {"events": [...]} with up to max_batch (500)', examples=EXAMPLES
    ),
)
@checked_inline(GUARD)
async def post_events(request: Request) -> Response:
    # app.state read here and access checked here, not through dependencies: solving them cost about
    # as much per request as validating a 10-event body (cProfile), on the route every terminal calls
    who = await GUARD(request) or NOBODY  # 401/403 before the body is read
    state = request.app.state
    settings, producer = state.settings, state.producer
    with metrics.INGEST_SECONDS.time():
        events, batch = ingest.parse_batch(await request.body(), settings.max_batch)
        authorize(who, events, batch)
        actor = None if who is NOBODY else ingest.actor_of(who)  # auth off: the client's, as before
        if actor is not None:
            events = ingest.without_actor(events)
        events, digests, uncatalogued = await catalog_check.apply(state.services, events, batch)
        items, owners = ingest.messages(events, digests, received_at=datetime.now(UTC), actor=actor)
        results = await producer.send_many(items, timeout=settings.produce_timeout_s + ACK_GRACE_S)
        if failure := ingest.delivery_failure(events, ingest.per_event(results, owners, len(events))):
            metrics.PRODUCE_FAILURES.inc(len(failure.extra["failed"]))
            raise failure
        metrics.count_accepted(e.type for e in events)
        catalog_check.record(state.services, uncatalogued)
        # the answer's bytes made here (Accepted documents them): no model validation on this route
        return Response(orjson.dumps(ingest.accepted(events, results)), status_code=202, media_type="application/json")


def authorize(who: Principal, events: list[Event], batch: bool) -> None:
    """403 (the whole request) unless ``who`` may write every event at its store (a transfer: the
    sending store); the refusal names the first such event's index in a batch. What ``decide`` says
    for each event, asked once per event type and once per store (a batch is mostly one store's sales)."""
    every_store = who.stores == ALL_STORES
    types: dict[str, bool] = {}
    stores: dict[str, bool] = {}
    for i, e in enumerate(events):
        allowed = types.get(e.type)
        if allowed is None:
            allowed = types[e.type] = who.can(EVENT_PERMISSIONS[e.type])
        if allowed and not every_store:
            allowed = stores.get(e.store_id)
            if allowed is None:
                allowed = stores[e.store_id] = who.covers(e.store_id)
        if not allowed:
            err = forbidden(decide(who, EVENT_PERMISSIONS[e.type], e.store_id))
            for item in err.detail:
                item["index"] = i if batch else None
                item["field"] = item["field"] or "type"
            raise err
