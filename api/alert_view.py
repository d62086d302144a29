"""The API's view of alerts: the alerts topic (written by the stream) and the acks topic (written
here), read from the beginning and followed; live subscribers (server-sent events) are fed from it.

The rules of active alerts, history and acks are in ``domain.alert_log``; this adds the thread
safety, the Kafka follower and the fan-out to subscribers of a store.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import orjson

from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from domain.alert_log import AlertLog, Entry

log = logging.getLogger("bazaar.api.alerts")

QUEUE_SIZE = 1000  # a subscriber this far behind is dropped; it reconnects with Last-Event-ID


@dataclass(eq=False)
class Subscriber:
    store_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def push(self, item: tuple[str, int, dict]) -> None:  # on the subscriber's loop
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class AlertView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log = AlertLog()
        self.lock = threading.Lock()
        self._subs: dict[str, set[Subscriber]] = {}
        specs, configs = topic_specs(settings), topic_configs(settings)
        topics = {settings.alerts_topic: specs[settings.alerts_topic], settings.alert_acks_topic: specs[settings.alert_acks_topic]}
        self.follower = TopicFollower(settings, topics, self._on_record, configs=configs, name="alerts")

    # ---- input ---------------------------------------------------------------------------------------

    def _on_record(self, rec: Record) -> None:
        if rec.value is None:
            return
        try:
            data = orjson.loads(rec.value)
            if rec.topic == self.settings.alert_acks_topic:
                self.apply_ack(data, rec.offset)
            else:
                data.setdefault("type", "alert")  # Alert JSON written before the discriminator existed
                self.apply_message(data, rec.offset)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.error("alert record breaks the contract", extra={"topic": rec.topic, "offset": rec.offset, "error": str(exc)})

    def apply_message(self, msg: dict, offset: int) -> None:
        with self.lock:
            kind = self.log.add_message(msg, offset)
        if kind is not None:
            self._publish(msg["store_id"], (kind, offset, msg))

    def apply_ack(self, ack: dict, offset: int) -> bool:
        with self.lock:
            new = self.log.add_ack(ack, offset)
        if new:
            self._publish(ack["store_id"], ("ack", offset, ack))
        return new

    # ---- reads -----------------------------------------------------------------------------------------

    def get(self, store_id: str, alert_id: str) -> Entry | None:
        with self.lock:
            return self.log.get(store_id, alert_id)

    def view(self, entry: Entry) -> dict:
        with self.lock:
            return self.log.view(entry)

    def ack_of(self, alert_id: str) -> dict | None:
        with self.lock:
            return self.log.acks.get(alert_id)

    def active(self, store_id: str) -> list[dict]:
        with self.lock:
            return self.log.active(store_id)

    def history(self, store_id: str, limit: int, before: int | None) -> tuple[list[dict], int | None]:
        with self.lock:
            return self.log.history(store_id, limit, before)

    # ---- live subscribers -----------------------------------------------------------------------------

    def subscribe(self, store_id: str, resume: tuple[int, int] | None) -> tuple[Subscriber, list[tuple[str, int, dict]], tuple[int, int]]:
        """Register a subscriber; with it, what it missed since ``resume`` (or the store's active
        alerts when it starts fresh) and the cursor those bring it to."""
        sub = Subscriber(store_id, asyncio.get_running_loop())
        with self.lock:
            self._subs.setdefault(store_id, set()).add(sub)
            cursor = self.log.cursor(store_id)
            if resume is None:
                backlog = [("alert", cursor[0], a) for a in self.log.active(store_id)]
            else:
                backlog = self.log.since(store_id, *resume)
        return sub, backlog, cursor

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            subs = self._subs.get(sub.store_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.store_id]

    def _publish(self, store_id: str, item: tuple[str, int, dict]) -> None:
        with self.lock:
            subs = list(self._subs.get(store_id, ()))
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.push, item)
            except RuntimeError:  # its loop is closed
                self.unsubscribe(sub)
