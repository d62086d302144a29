"""Webhook registrations as the webhooks topic holds them: the signing secret sealed
(``bazaar_core.auth.sealed``) for its webhook id. The API seals (``sealed_record``); the notifier
opens (``opened``). Both find the key ring with ``sealing_key``."""

from __future__ import annotations

from pathlib import Path

from bazaar_core.auth import sealed
from schemas.webhooks import Webhook, WebhookRecord


def sealing_key(auth_path: Path) -> sealed.SealKey:
    """The secrets key ring, made first when absent. ``bazaar auth init`` makes it too; until every
    set-up runs that, the API and the notifier make it at start (idempotent, safe at once)."""
    sealed.ensure_key(auth_path)
    return sealed.load_key(auth_path)


def sealed_record(key: sealed.SealKey, hook: Webhook) -> WebhookRecord:
    """What the API writes for ``hook``: everything but the secret in clear."""
    fields = hook.model_dump(exclude={"secret"})
    return WebhookRecord(**fields, secret_sealed=sealed.seal(key, hook.secret.encode(), _aad(hook)))


def opened(key: sealed.SealKey, record: WebhookRecord) -> Webhook:
    """The registration with its secret in clear; ``sealed.Unsealable`` when this key ring cannot open it.

    Migration on read: a record written before secrets were sealed holds ``secret`` in clear; it is
    used as it is (and the API writes it again sealed, ``api.webhook_view.reseal_legacy``)."""
    fields = record.model_dump(exclude={"secret", "secret_sealed"})
    if record.secret_sealed is None:
        assert record.secret is not None  # WebhookRecord holds one or the other
        return Webhook(**fields, secret=record.secret)
    return Webhook(**fields, secret=sealed.open_(key, record.secret_sealed, _aad(record)).decode())


def _aad(hook: Webhook | WebhookRecord) -> bytes:
    # bound to its webhook: a sealed secret copied into another record does not open there
    return f"webhook|{hook.webhook_id}".encode()
