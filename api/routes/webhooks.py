"""Webhook registrations and their dead letters (deliveries are made by ``bazaar notifier``).

* ``POST /v1/webhooks`` ``{"url", "secret", "store_ids"?, "kinds"?, "types"?}`` -> 201 with
  ``webhook_id`` (the secret is never shown again). Alerts raised from then on are posted to it.
* ``GET /v1/webhooks``, ``GET /v1/webhooks/{id}``, ``DELETE /v1/webhooks/{id}`` (204; 404 unknown).
* ``GET /v1/webhooks/{id}/dead-letters``: deliveries that failed every attempt (and retries asked for).
* ``POST /v1/webhooks/{id}/dead-letters/{alert_id}/retry``: 202; the notifier tries it again with
  the full backoff schedule.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response

from api import bodies
from api.deps import ServicesDep, WebhooksDep
from api.openapi import GUARDED, VIEWS, WITH_BODY, errors, json_body
from schemas.answers import WebhookDeadLetters, WebhookList, WebhookOut
from schemas.webhooks import DeadLetter, Webhook, WebhookIn, pair_key

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

READ = ("invalid_request", "not_found", *VIEWS, *GUARDED)


@router.post(
    "",
    status_code=201,
    response_model=WebhookOut,
    responses=errors("invalid_json", "invalid_body", "broker_unavailable", *WITH_BODY, *VIEWS, *GUARDED),
    openapi_extra=json_body(WebhookIn),
)
async def register(request: Request, services: ServicesDep, hooks: WebhooksDep) -> dict:
    spec = bodies.validate(WebhookIn, await bodies.json_object(request))
    hook = Webhook(**spec.model_dump(), webhook_id=uuid.uuid4(), created_at=datetime.now(UTC))
    written = await services.write(services.settings.webhooks_topic, str(hook.webhook_id).encode(), hook.model_dump_json().encode())
    hooks.put_webhook(written.offset, str(hook.webhook_id), hook)
    return hook.public()


@router.get("", response_model=WebhookList, responses=errors(*VIEWS, *GUARDED))
async def list_webhooks(hooks: WebhooksDep) -> dict:
    return {"items": [h.public() for h in hooks.webhooks()]}


def _known(hooks, webhook_id: UUID) -> Webhook:
    hook = hooks.webhook(str(webhook_id))
    if hook is None:
        raise bodies.not_found("webhook_id", f"no webhook {webhook_id}")
    return hook


@router.get("/{webhook_id}", response_model=WebhookOut, responses=errors(*READ))
async def get_webhook(webhook_id: UUID, hooks: WebhooksDep) -> dict:
    return _known(hooks, webhook_id).public()


@router.delete("/{webhook_id}", status_code=204, response_description="Deleted", responses=errors("broker_unavailable", *WITH_BODY, *READ))
async def delete_webhook(webhook_id: UUID, services: ServicesDep, hooks: WebhooksDep) -> Response:
    _known(hooks, webhook_id)
    written = await services.write(services.settings.webhooks_topic, str(webhook_id).encode(), None)
    hooks.put_webhook(written.offset, str(webhook_id), None)
    return Response(status_code=204)


@router.get("/{webhook_id}/dead-letters", response_model=WebhookDeadLetters, responses=errors(*READ))
async def dead_letters(webhook_id: UUID, hooks: WebhooksDep) -> WebhookDeadLetters:
    _known(hooks, webhook_id)
    return WebhookDeadLetters(items=list(hooks.dead_letters(str(webhook_id))))


@router.post(
    "/{webhook_id}/dead-letters/{alert_id}/retry",
    status_code=202,
    response_model=DeadLetter,
    responses=errors("broker_unavailable", *WITH_BODY, *READ),
)
async def retry(webhook_id: UUID, alert_id: UUID, services: ServicesDep, hooks: WebhooksDep) -> DeadLetter:
    _known(hooks, webhook_id)
    dead = hooks.dead_letter(str(webhook_id), str(alert_id))
    if dead is None or dead.state == "redelivered":
        raise bodies.not_found("alert_id", f"no dead letter of alert {alert_id} for webhook {webhook_id}")
    again = dead.model_copy(update={"state": "retry_requested", "retry_requested_at": datetime.now(UTC)})
    written = await services.write(
        services.settings.webhook_dead_letters_topic, pair_key(webhook_id, alert_id), again.model_dump_json().encode()
    )
    hooks.put_dead_letter(written.offset, again)
    return again
