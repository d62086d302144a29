"""The API's view of webhook registrations and dead letters, from their compacted topics."""

from __future__ import annotations

import logging
import threading

from pydantic import ValidationError

from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from schemas.webhooks import DeadLetter, Webhook

log = logging.getLogger("bazaar.api.webhooks")


class WebhookView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._hooks: dict[str, tuple[int, Webhook | None]] = {}  # None: deleted (tombstone)
        self._dead: dict[tuple[str, str], tuple[int, DeadLetter]] = {}
        specs, configs = topic_specs(settings), topic_configs(settings)
        names = (settings.webhooks_topic, settings.webhook_dead_letters_topic)
        self.follower = TopicFollower(settings, {n: specs[n] for n in names}, self._on_record, configs=configs, name="webhooks")

    def _on_record(self, rec: Record) -> None:
        if rec.key is None:
            return
        try:
            if rec.topic == self.settings.webhooks_topic:
                hook = Webhook.model_validate_json(rec.value) if rec.value is not None else None
                self.put_webhook(rec.offset, rec.key.decode(), hook)
            elif rec.value is not None:
                self.put_dead_letter(rec.offset, DeadLetter.model_validate_json(rec.value))
        except ValidationError as exc:
            log.error("webhook record breaks the contract", extra={"topic": rec.topic, "offset": rec.offset, "error": str(exc)})

    def put_webhook(self, offset: int, webhook_id: str, hook: Webhook | None) -> None:
        with self._lock:
            held = self._hooks.get(webhook_id)
            if held is None or offset >= held[0]:
                self._hooks[webhook_id] = (offset, hook)

    def put_dead_letter(self, offset: int, dead: DeadLetter) -> None:
        key = (str(dead.webhook_id), str(dead.alert_id))
        with self._lock:
            held = self._dead.get(key)
            if held is None or offset >= held[0]:
                self._dead[key] = (offset, dead)

    def webhook(self, webhook_id: str) -> Webhook | None:
        held = self._hooks.get(webhook_id)
        return held[1] if held else None

    def webhooks(self) -> list[Webhook]:
        with self._lock:
            hooks = [h for _, h in self._hooks.values() if h is not None]
        return sorted(hooks, key=lambda h: (h.created_at, str(h.webhook_id)))

    def dead_letter(self, webhook_id: str, alert_id: str) -> DeadLetter | None:
        held = self._dead.get((webhook_id, alert_id))
        return held[1] if held else None

    def dead_letters(self, webhook_id: str) -> list[DeadLetter]:
        """A webhook's dead letters still waiting (dead, or a retry asked for), oldest first."""
        with self._lock:
            items = [d for (w, _), (_, d) in self._dead.items() if w == webhook_id and d.state != "redelivered"]
        return sorted(items, key=lambda d: (d.dead_at, str(d.alert_id)))
