"""A dead letter: a message a consumer could not process, kept whole so an operator can look at it,
replay it onto its topic (after a fix) or drop it, while the partition it came from goes on.

Every consumer (stock worker, analytics sink, notifier) writes the same record to one compacted
topic, keyed by ``id`` = ``topic|partition|offset``: dead-lettering a message again after a replay
of the batch writes the same key, and dropping it writes a tombstone.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["worker", "analytics", "notifier"]
SOURCES: tuple[str, ...] = ("worker", "analytics", "notifier")


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(description="topic|partition|offset of the original message: the record's key")
    source: Source = Field(description="The process that refused the message")
    topic: str
    partition: int
    offset: int
    key: str | None = Field(default=None, description="The original key, base64")
    value: str | None = Field(default=None, description="The original value, base64")
    headers: dict[str, str] = Field(default_factory=dict)
    store_id: str | None = Field(default=None, description="The store the message belongs to, when known")
    error_type: str = Field(description="What kind of failure: the exception's class, or a named rule")
    error: str = Field(max_length=4000)
    failed_at: datetime
    attempts: int = Field(default=1, ge=1, description="How often it was tried before it was dead-lettered")

    @staticmethod
    def id_of(topic: str, partition: int, offset: int) -> str:
        return f"{topic}|{partition}|{offset}"

    @classmethod
    def of(
        cls,
        *,
        source: Source,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: dict[str, str] | None,
        error: BaseException | str,
        failed_at: datetime,
        attempts: int = 1,
        store_id: str | None = None,
    ) -> DeadLetter:
        if isinstance(error, BaseException):
            error_type, text = type(error).__name__, str(error)
        else:
            error_type, text = "refused", error
        if store_id is None and key is not None and topic.endswith((".events.v1", ".ledger.v1", ".alerts.v1")):
            store_id = key.decode(errors="replace")  # these topics are keyed by store
        return cls(
            id=cls.id_of(topic, partition, offset),
            source=source,
            topic=topic,
            partition=partition,
            offset=offset,
            key=_b64(key),
            value=_b64(value),
            headers=dict(headers or {}),
            store_id=store_id,
            error_type=error_type,
            error=text[:4000],
            failed_at=failed_at,
            attempts=attempts,
        )

    def raw_key(self) -> bytes | None:
        return None if self.key is None else base64.b64decode(self.key)

    def raw_value(self) -> bytes | None:
        return None if self.value is None else base64.b64decode(self.value)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()
