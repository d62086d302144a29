"""Webhook registrations and their dead letters (deliveries are made by ``bazaar notifier``).

* ``POST /v1/webhooks`` ``{"url", "secret"?, "store_ids"?, "kinds"?, "types"?}`` -> 201 with
  ``webhook_id``. Without ``secret`` the server makes one and answers it here, once: no other
  answer ever carries a secret. Alerts raised from then on are posted to it.
* ``GET /v1/webhooks``, ``GET /v1/webhooks/{id}``, ``DELETE /v1/webhooks/{id}`` (204; 404 unknown).
* ``GET /v1/webhooks/{id}/dead-letters``: deliveries that failed every attempt (and retries asked for).
* ``POST /v1/webhooks/{id}/dead-letters/{alert_id}/retry``: 202; the notifier tries it again with
  the full backoff schedule.

The receiver's address (``bazaar_core.notifier.egress``): the URL must be https (http only with
``webhook_allow_http``) and its host must resolve to public addresses only (loopback, private,
link-local, CGNAT and metadata addresses only with ``webhook_allow_private``); else 422 on ``url``.
The notifier checks again before each delivery. The secret goes onto the webhooks topic sealed.

Access: ``webhooks:manage``. A webhook belongs to the stores it names: a store-scoped credential
registers webhooks only for stores of its scope (naming them: no ``store_ids`` means every store,
which only a credential for every store may ask), and sees, deletes and retries only webhooks whose
stores are all in its scope (any other is 404, as if absent).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request, Response

from api import bodies
from api.authz import check, forbidden, principal_of, requires
from api.deps import ServicesDep, WebhooksDep
from api.errors import issue
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body
from api.webhook_view import WebhookView, reseal_when_read
from bazaar_core.notifier.egress import REGISTRATION_RESOLVE_S, Egress, Unresolved, system_resolver
from bazaar_core.notifier.registrations import sealed_record
from domain.access import ALL_STORES, Decision, Permission, Principal
from domain.netrules import RefusedUrl
from schemas.answers import WebhookCreated, WebhookDeadLetters, WebhookList, WebhookOut
from schemas.webhooks import DeadLetter, Webhook, WebhookIn, WebhookRecord, pair_key

SECRET_BYTES = 32  # a generated signing secret: 43 urlsafe base64 characters


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """At start: the secrets key exists (``bazaar auth init`` makes it; until every set-up runs that,
    the API does), and registrations written before secrets were sealed are written again sealed."""
    services = app.state.services
    await asyncio.to_thread(services.webhooks.sealing_key)
    task = asyncio.create_task(reseal_when_read(services.webhooks, services.write))
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], lifespan=_lifespan)

MANAGE = [requires(Permission.WEBHOOKS_MANAGE)]
READ = ("invalid_request", "not_found", *AUTHED, *VIEWS, *GUARDED)


def _in_scope(who: Principal, hook: WebhookRecord) -> bool:
    """A webhook is the caller's when every store it is for is in the caller's scope (no stores: all)."""
    if who.stores == ALL_STORES:
        return True
    return bool(hook.store_ids) and all(who.covers(s) for s in hook.store_ids)


def _check_stores(who: Principal, spec: WebhookIn) -> None:
    """403 unless the caller may manage webhooks for every store the new one is for."""
    if not spec.store_ids and who.stores != ALL_STORES:
        reason = "a store-scoped credential must name its stores in store_ids (none means every store)"
        raise forbidden(Decision(False, Permission.WEBHOOKS_MANAGE, None, reason))
    for store_id in spec.store_ids:
        check(who, Permission.WEBHOOKS_MANAGE, store_id)


async def _check_receiver(request: Request, url: str) -> None:
    """422 on ``url`` unless the address rules take it (registration resolves the name once, here)."""
    egress = Egress(request.app.state.settings, system_resolver(REGISTRATION_RESOLVE_S))
    try:
        await egress.target(url)
    except (RefusedUrl, Unresolved) as exc:
        raise bodies.invalid_body([issue("url", str(exc))]) from None


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    response_model_exclude_none=True,
    responses=errors("invalid_json", "invalid_body", "broker_unavailable", *AUTHED, *WITH_BODY, *VIEWS, *GUARDED),
    openapi_extra=json_body(WebhookIn),
    dependencies=[requires(Permission.WEBHOOKS_MANAGE, store="body")],
)
async def register(request: Request, services: ServicesDep, hooks: WebhooksDep) -> dict:
    spec = bodies.validate(WebhookIn, await bodies.json_object(request))
    _check_stores(principal_of(request), spec)
    await _check_receiver(request, str(spec.url))
    made = spec.secret is None
    secret = secrets.token_urlsafe(SECRET_BYTES) if spec.secret is None else spec.secret
    hook = Webhook(**spec.model_dump(exclude={"secret"}), secret=secret, webhook_id=uuid.uuid4(), created_at=datetime.now(UTC))
    record = sealed_record(await asyncio.to_thread(hooks.sealing_key), hook)
    written = await services.write(services.settings.webhooks_topic, str(hook.webhook_id).encode(), record.model_dump_json().encode())
    hooks.put_webhook(written.offset, str(hook.webhook_id), record)
    return {**record.public(), **({"secret": secret} if made else {})}


@router.get("", response_model=WebhookList, responses=errors(*AUTHED, *VIEWS, *GUARDED), dependencies=MANAGE)
async def list_webhooks(request: Request, hooks: WebhooksDep) -> dict:
    who = principal_of(request)
    return {"items": [h.public() for h in hooks.webhooks() if _in_scope(who, h)]}


def _known(request: Request, hooks: WebhookView, webhook_id: UUID) -> WebhookRecord:
    hook = hooks.webhook(str(webhook_id))
    if hook is None or not _in_scope(principal_of(request), hook):
        raise bodies.not_found("webhook_id", f"no webhook {webhook_id}")
    return hook


@router.get("/{webhook_id}", response_model=WebhookOut, responses=errors(*READ), dependencies=MANAGE)
async def get_webhook(request: Request, webhook_id: UUID, hooks: WebhooksDep) -> dict:
    return _known(request, hooks, webhook_id).public()


@router.delete(
    "/{webhook_id}",
    status_code=204,
    response_description="Deleted",
    responses=errors("broker_unavailable", *WITH_BODY, *READ),
    dependencies=MANAGE,
)
async def delete_webhook(request: Request, webhook_id: UUID, services: ServicesDep, hooks: WebhooksDep) -> Response:
    _known(request, hooks, webhook_id)
    written = await services.write(services.settings.webhooks_topic, str(webhook_id).encode(), None)
    hooks.put_webhook(written.offset, str(webhook_id), None)
    return Response(status_code=204)


@router.get("/{webhook_id}/dead-letters", response_model=WebhookDeadLetters, responses=errors(*READ), dependencies=MANAGE)
async def dead_letters(request: Request, webhook_id: UUID, hooks: WebhooksDep) -> WebhookDeadLetters:
    _known(request, hooks, webhook_id)
    return WebhookDeadLetters(items=list(hooks.dead_letters(str(webhook_id))))


@router.post(
    "/{webhook_id}/dead-letters/{alert_id}/retry",
    status_code=202,
    response_model=DeadLetter,
    responses=errors("broker_unavailable", *WITH_BODY, *READ),
    dependencies=MANAGE,
)
async def retry(request: Request, webhook_id: UUID, alert_id: UUID, services: ServicesDep, hooks: WebhooksDep) -> DeadLetter:
    _known(request, hooks, webhook_id)
    dead = hooks.dead_letter(str(webhook_id), str(alert_id))
    if dead is None or dead.state == "redelivered":
        raise bodies.not_found("alert_id", f"no dead letter of alert {alert_id} for webhook {webhook_id}")
    again = dead.model_copy(update={"state": "retry_requested", "retry_requested_at": datetime.now(UTC)})
    written = await services.write(
        services.settings.webhook_dead_letters_topic, pair_key(webhook_id, alert_id), again.model_dump_json().encode()
    )
    hooks.put_dead_letter(written.offset, again)
    return again
