"""The webhooks contract: registrations, delivery records and dead letters, each on a compacted topic.

* webhooks topic, key ``webhook_id``: a ``WebhookRecord`` (a tombstone deletes it). Its signing
  secret is sealed (``secret_sealed``, ``bazaar_core.auth.sealed``) with a key only the API and the
  notifier hold, so a reader of the topic learns no secret; the notifier opens it into a ``Webhook``.
* deliveries topic, key ``webhook_id|alert_id``: a ``Delivery`` once a receiver answered 2xx. The
  notifier reads it back after a restart and never posts that alert to that webhook again.
* dead-letters topic, same key: a ``DeadLetter`` after the last failed attempt; the API writes the
  same key with ``state="retry_requested"`` to ask the notifier for another round of attempts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.alerts import AlertKind
from schemas.types import StoreId, Timestamp

MessageType = Literal["alert", "cleared"]
DeadLetterState = Literal["dead", "retry_requested", "redelivered"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSpec(_Model):
    """Where and what a webhook is sent: the part of a registration anyone in scope may see."""

    url: AnyHttpUrl = Field(
        description="https (http only with BAZAAR_WEBHOOK_ALLOW_HTTP=true); every address its host resolves to must be public "
        "(loopback, private, link-local, CGNAT and metadata addresses only with BAZAAR_WEBHOOK_ALLOW_PRIVATE=true)"
    )
    store_ids: list[StoreId] = Field(default_factory=list, max_length=10_000, description="Only these stores; empty = all")
    kinds: list[AlertKind] = Field(default_factory=list, description="Only these alert kinds; empty = all")
    types: list[MessageType] = Field(
        default_factory=lambda: ["alert"],  # type: ignore[arg-type]  # list[str] to mypy
        min_length=1,
        description='"alert" (default), and "cleared" to hear when stock recovers',
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if value.scheme not in ("http", "https"):
            raise ValueError("must be an http or https URL")
        return value


class WebhookIn(WebhookSpec):
    """Body of ``POST /v1/webhooks``."""

    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="Shared secret of the HMAC-SHA256 signature; left out, the server makes one and answers it, once",
    )


class _Registered(WebhookSpec):
    webhook_id: UUID
    created_at: Timestamp  # alerts raised before this are not sent to it

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the secret."""
        return self.model_dump(mode="json", include=set(_PUBLIC))

    def wants(self, store_id: str, kind: str, type_: str, raised_at: datetime) -> bool:
        return (
            type_ in self.types
            and (not self.store_ids or store_id in self.store_ids)
            and (not self.kinds or kind in self.kinds)
            and raised_at >= self.created_at
        )


class Webhook(_Registered):
    """A registration with its secret in clear: in the notifier's memory, never on a topic."""

    secret: str


class WebhookRecord(_Registered):
    """A registration as the webhooks topic holds it: the secret sealed for its ``webhook_id``.

    ``secret`` in clear is how records were written before secrets were sealed: such a record is
    still read (the notifier uses it as it is) and the API writes it again sealed
    (``api.webhook_view.reseal_legacy``)."""

    secret_sealed: str | None = None
    secret: str | None = None  # legacy: written before secrets were sealed

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookRecord:
        if (self.secret_sealed is None) == (self.secret is None):
            raise ValueError("a webhook record holds its secret either sealed or (written before sealing) in clear")
        return self


_PUBLIC = ("url", "store_ids", "kinds", "types", "webhook_id", "created_at")


class Delivery(_Model):
    webhook_id: UUID
    alert_id: UUID
    delivered_at: Timestamp
    attempts: int
    status: int  # the receiver's HTTP status


class DeadLetter(_Model):
    webhook_id: UUID
    alert_id: UUID
    store_id: StoreId
    kind: AlertKind
    type: MessageType = "alert"
    body: str  # the alert JSON exactly as it was (and will be) posted
    attempts: int  # POSTs tried, and tries an open circuit refused; 0: expired waiting on the topic, never tried
    last_error: str
    dead_at: Timestamp
    state: DeadLetterState = "dead"
    retry_requested_at: Timestamp | None = None


def pair_key(webhook_id: UUID | str, alert_id: UUID | str) -> bytes:
    return f"{webhook_id}|{alert_id}".encode()
