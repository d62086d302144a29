"""Request bodies the API reads that no topic carries as they are (the others are contract models:
an event, a ``Product``, a ``Store``, a ``StoreProduct``, a ``WebhookIn``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AckBody(BaseModel):
    """Body of ``POST /v1/stores/{store_id}/alerts/{alert_id}/ack`` (optional: no body is ``{}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str | None = Field(default=None, max_length=64, description="Who acknowledged it")
    note: str | None = Field(default=None, max_length=500)
