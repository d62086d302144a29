"""A store's alerts (rules of active/history in ``domain.alert_log``).

* ``GET /v1/stores/{store_id}/alerts``: the active alerts, most severe first:
  ``{"items": [alert + state, acknowledged, cleared_at, cleared_by]}``. ``?state=all`` lists every
  alert, newest first, ``limit``/``cursor`` paginated (``next_cursor``).
* ``GET /v1/stores/{store_id}/alerts/stream``: server-sent events for screens: ``event: alert``,
  ``cleared`` or ``ack`` with the JSON as ``data`` and ``id: <alerts offset>-<acks offset>``. A
  reconnect with ``Last-Event-ID`` (or ``?last_event_id=``) gets what it missed; a fresh connect
  first gets the active alerts. A comment line every ``BAZAAR_SSE_HEARTBEAT_S`` (15 s) keeps
  proxies from closing an idle stream.
* ``GET /v1/stores/{store_id}/alerts/{alert_id}``: one alert with its state.
* ``POST /v1/stores/{store_id}/alerts/{alert_id}/ack``: body optional ``{"by", "note"}``; writes an
  ``AlertAck`` to the acks topic; the first ack stands (a repeat answers it again, 200); 404 for an
  alert this store does not have.

Access: ``alerts:read`` (``alerts:ack`` to acknowledge) at the path's store, so another store's
alerts, stream and acks are refused (403) to a credential scoped elsewhere; a stream is one store's
alerts only. The stream also takes ``?access_token=`` (a browser's EventSource sends no header),
checks the token again at each heartbeat and ends once it has expired or been revoked (the
EventSource reconnects with a fresh one). An ack's ``by`` is the token's (``Principal.actor``), as
an event's actor is: what the client sends there is not trusted (kept only with auth off).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse

from api import bodies, ingest
from api.alert_view import AlertView
from api.authz import NOBODY, Authenticator, principal_of, requires
from api.deps import AlertsDep, ServicesDep
from api.errors import ApiError, issue
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body
from domain.access import Permission
from schemas.alerts import AlertAck
from schemas.answers import AckAnswer, AlertPage, AlertWithState
from schemas.requests import AckBody
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1/stores", tags=["alerts"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
READ = [requires(Permission.ALERTS_READ, store="path:store_id")]


class EventStream(StreamingResponse):
    media_type = "text/event-stream"  # what the OpenAPI document names as the stream's type


@router.get(
    "/{store_id}/alerts", response_model=AlertPage, responses=errors("invalid_request", *AUTHED, *VIEWS, *GUARDED), dependencies=READ
)
async def list_alerts(
    store_id: StoreId,
    alerts: AlertsDep,
    state: Literal["active", "all"] = "active",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int | None, Query(ge=0, description="next_cursor of the previous page (state=all)")] = None,
) -> dict:
    if state == "active":
        return {"items": alerts.active(store_id), "next_cursor": None}
    items, next_cursor = alerts.history(store_id, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/{store_id}/alerts/stream",
    response_model=str,
    response_class=EventStream,
    response_description="Server-sent events `alert`, `cleared` and `ack`, each with its JSON (an alert, an "
    "AlertCleared, an AlertAck) as `data`, and comment lines as heartbeats; it ends only when its token expires or is revoked",
    responses=errors("invalid_request", "invalid_event_id", *AUTHED, *VIEWS),
    dependencies=[requires(Permission.ALERTS_READ, store="path:store_id", query_token=True)],
)
async def stream_alerts(
    store_id: StoreId,
    request: Request,
    services: ServicesDep,
    alerts: AlertsDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    resume: Annotated[str | None, Query(alias="last_event_id", max_length=64)] = None,
) -> EventStream:
    cursor = parse_event_id(last_event_id or resume)
    heartbeat = services.settings.sse_heartbeat_s
    return EventStream(
        _events(alerts, store_id, cursor, heartbeat, request),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{store_id}/alerts/{alert_id}",
    response_model=AlertWithState,
    responses=errors("invalid_request", "not_found", *AUTHED, *VIEWS, *GUARDED),
    dependencies=READ,
)
async def get_alert(store_id: StoreId, alert_id: UUID, alerts: AlertsDep) -> dict:
    entry = alerts.get(store_id, str(alert_id))
    if entry is None:
        raise bodies.not_found("alert_id", f"store {store_id!r} has no alert {alert_id}")
    return alerts.view(entry)


@router.post(
    "/{store_id}/alerts/{alert_id}/ack",
    response_model=AckAnswer,
    responses=errors(
        "invalid_request", "invalid_json", "invalid_body", "not_found", "broker_unavailable", *AUTHED, *WITH_BODY, *VIEWS, *GUARDED
    ),
    openapi_extra=json_body(AckBody, required=False, description="Optional: a note (`by` is the token's; sent, it is ignored)"),
    dependencies=[requires(Permission.ALERTS_ACK, store="path:store_id")],
)
async def ack_alert(store_id: StoreId, alert_id: UUID, request: Request, services: ServicesDep, alerts: AlertsDep) -> dict:
    body = await bodies.json_object(request, optional=True)
    unknown = set(body) - {"by", "note"}
    if unknown:
        raise bodies.invalid_body([issue(k, "unknown field: the body may hold by and note") for k in sorted(unknown)])
    if alerts.get(store_id, str(alert_id)) is None:
        raise bodies.not_found("alert_id", f"store {store_id!r} has no alert {alert_id}")
    held = alerts.ack_of(str(alert_id))
    if held is not None:
        return {"alert_id": str(alert_id), "acknowledged": held, "already": True}
    who = principal_of(request)
    if who is not NOBODY:  # who acknowledged it is the token's, not what the body says
        body["by"] = ingest.actor_of(who)
    ack = bodies.validate(AlertAck, {**body, "alert_id": alert_id, "store_id": store_id, "acked_at": datetime.now(UTC)})
    data = ack.model_dump(mode="json")
    written = await services.write(services.settings.alert_acks_topic, str(alert_id).encode(), orjson.dumps(data))
    alerts.apply_ack(data, written.offset)
    return {"alert_id": str(alert_id), "acknowledged": alerts.ack_of(str(alert_id)), "already": False}


# ---- server-sent events -------------------------------------------------------------------------------


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """ "<alerts offset>-<acks offset>" -> the pair; None (start fresh) when absent."""
    if not value:
        return None
    try:
        a, k = value.split("-", 1)
        return int(a), int(k)
    except ValueError:
        raise ApiError(400, "invalid_event_id", [issue("Last-Event-ID", f"{value!r} is not an id this stream sent")]) from None


def sse(event: str, event_id: tuple[int, int], data: dict) -> bytes:
    return f"event: {event}\nid: {event_id[0]}-{event_id[1]}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


async def _events(alerts: AlertView, store_id: str, resume, heartbeat: float, request: Request) -> AsyncIterator[bytes]:
    sub, backlog, (last_a, last_k) = alerts.subscribe(store_id, resume)
    if resume is not None:
        last_a, last_k = max(last_a, resume[0]), max(last_k, resume[1])
    try:
        yield b": stream of alerts for " + store_id.encode() + b"\nretry: 2000\n\n"
        for kind, _offset, data in backlog:
            yield sse(kind, (last_a, last_k), data)
        recheck = time.monotonic() + heartbeat
        while not sub.overflowed:
            if time.monotonic() >= recheck:  # busy or idle, the token is asked about every heartbeat
                if not await still_valid(request):
                    return
                recheck = time.monotonic() + heartbeat
            try:
                kind, offset, data = await asyncio.wait_for(sub.queue.get(), timeout=heartbeat)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": heartbeat\n\n"
                continue
            if kind == "ack":
                if offset <= last_k:
                    continue
                last_k = offset
            else:
                if offset <= last_a:
                    continue
                last_a = offset
            yield sse(kind, (last_a, last_k), data)
    finally:
        alerts.unsubscribe(sub)


async def still_valid(request: Request) -> bool:
    """Is the stream's token still good (not expired, not revoked)? Asked at each heartbeat: a stream
    outlives the token it was opened with, and must not outlive its revocation."""
    if not request.app.state.settings.auth_required:
        return True
    auth: Authenticator = request.app.state.auth
    try:
        await auth.authenticate(request, query_token=True)
    except ApiError:
        return False
    return True
