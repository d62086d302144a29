"""The API's view of webhook registrations and dead letters, from their compacted topics.

It keeps registrations as the topic holds them (``WebhookRecord``: the secret sealed): the API never
needs a secret again after it sealed it at registration. Records written before secrets were sealed
hold the secret in clear; ``reseal_legacy`` writes each of them again, sealed, once the view has
read the topic (compaction then drops the clear copy)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from bazaar_core.auth.sealed import SealKey
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.notifier.registrations import opened, sealed_record, sealing_key
from bazaar_core.settings import Settings
from schemas.webhooks import DeadLetter, WebhookRecord

log = logging.getLogger("bazaar.api.webhooks")

Write = Callable[[str, bytes, bytes | None], Awaitable[object]]  # Services.write: (topic, key, value) -> where it landed


class WebhookView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._hooks: dict[str, tuple[int, WebhookRecord | None]] = {}  # None: deleted (tombstone)
        self._deleted_at: dict[str, int] = {}  # webhook_id -> offset of its last tombstone
        self._dead: dict[tuple[str, str], tuple[int, DeadLetter]] = {}
        self._key: SealKey | None = None
        specs, configs = topic_specs(settings), topic_configs(settings)
        names = (settings.webhooks_topic, settings.webhook_dead_letters_topic)
        self.follower = TopicFollower(settings, {n: specs[n] for n in names}, self._on_record, configs=configs, name="webhooks")

    def sealing_key(self) -> SealKey:
        """The key ring secrets are sealed with (made at first use when ``bazaar auth init`` has not)."""
        if self._key is None:
            self._key = sealing_key(self.settings.auth_path)
        return self._key

    def _on_record(self, rec: Record) -> None:
        if rec.key is None:
            return
        try:
            if rec.topic == self.settings.webhooks_topic:
                hook = WebhookRecord.model_validate_json(rec.value) if rec.value is not None else None
                self.put_webhook(rec.offset, rec.key.decode(), hook)
            elif rec.value is not None:
                self.put_dead_letter(rec.offset, DeadLetter.model_validate_json(rec.value))
        except ValidationError as exc:
            log.error("webhook record breaks the contract", extra={"topic": rec.topic, "offset": rec.offset, "error": str(exc)})

    def put_webhook(self, offset: int, webhook_id: str, hook: WebhookRecord | None) -> None:
        with self._lock:
            held = self._hooks.get(webhook_id)
            if held is None or offset >= held[0]:
                self._hooks[webhook_id] = (offset, hook)
            if hook is None:
                self._deleted_at[webhook_id] = max(offset, self._deleted_at.get(webhook_id, -1))

    def put_dead_letter(self, offset: int, dead: DeadLetter) -> None:
        key = (str(dead.webhook_id), str(dead.alert_id))
        with self._lock:
            held = self._dead.get(key)
            if held is None or offset >= held[0]:
                self._dead[key] = (offset, dead)

    def webhook(self, webhook_id: str) -> WebhookRecord | None:
        held = self._hooks.get(webhook_id)
        return held[1] if held else None

    def webhooks(self) -> list[WebhookRecord]:
        with self._lock:
            hooks = [h for _, h in self._hooks.values() if h is not None]
        return sorted(hooks, key=lambda h: (h.created_at, str(h.webhook_id)))

    def legacy(self) -> list[tuple[int, WebhookRecord]]:
        """Registrations whose latest record holds the secret in clear, with its offset."""
        with self._lock:
            return [(offset, h) for offset, h in self._hooks.values() if h is not None and h.secret is not None]

    def dead_letter(self, webhook_id: str, alert_id: str) -> DeadLetter | None:
        held = self._dead.get((webhook_id, alert_id))
        return held[1] if held else None

    def dead_letters(self, webhook_id: str) -> list[DeadLetter]:
        """A webhook's dead letters still waiting (dead, or a retry asked for), oldest first."""
        with self._lock:
            items = [d for (w, _), (_, d) in self._dead.items() if w == webhook_id and d.state != "redelivered"]
        return sorted(items, key=lambda d: (d.dead_at, str(d.alert_id)))

    async def reseal_legacy(self, write: Write) -> int:
        """Write every registration still holding its secret in clear again, sealed (the migration of
        records written before sealing). A deletion by another API instance racing with it wins: the
        tombstone is written again after the sealed copy. Returns how many were written."""
        key, topic, done = self.sealing_key(), self.settings.webhooks_topic, 0
        for offset, record in self.legacy():
            wid = str(record.webhook_id)
            again = sealed_record(key, opened(key, record))
            await write(topic, wid.encode(), again.model_dump_json().encode())
            await self.follower.caught_up(10.0)
            if self._deleted_at.get(wid, -1) > offset:
                await write(topic, wid.encode(), None)
            done += 1
        if done:
            log.info("webhook secrets written again, sealed", extra={"webhooks": done})
        return done


async def reseal_when_read(view: WebhookView, write: Write) -> None:
    """At start: once the view has read the topic, seal what is still in clear (retried on failure)."""
    while True:
        while not view.follower.ready:
            await asyncio.sleep(0.5)
        try:
            await view.reseal_legacy(write)
            return
        except Exception as exc:  # the broker away (503 from Services.write): try again later
            log.warning("could not seal old webhook secrets yet; retrying", extra={"error": str(exc)})
            await asyncio.sleep(5.0)
