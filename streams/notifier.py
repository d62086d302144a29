"""The notifier: posts every alert on the alerts topic to each webhook that wants it, exactly once.

* It consumes the alerts topic in its own consumer group (``<prefix>-notifier``, static membership
  so a restarted notifier gets its partitions back at once). For each message it finds the
  webhooks that want it (store, kind, type filters; only alerts raised after the webhook was
  registered) and starts one delivery per (webhook, alert_id) not delivered yet.
* A delivery POSTs the alert JSON exactly as it is on the topic, signed (``domain.webhooks``), and
  retries any failure with exponential backoff; after the last attempt it becomes a dead letter.
  Deliveries to one webhook run at most ``webhook_concurrency`` at a time, so a receiver that is
  down holds back only its own deliveries.
* **Nothing lost**: a partition's offset is committed only up to the first message with a delivery
  still unfinished (``OffsetTracker``); a delivery is finished once its outcome is recorded with
  acks=all: ``Delivery`` on the deliveries topic, or ``DeadLetter`` on the dead-letters topic.
* **Once**: at start-up the notifier reads both topics to the end before it consumes any alert,
  and it skips every (webhook, alert) recorded there; within a run, a second copy of an alert (the
  stream's replays) joins the delivery already under way. The one window left is a crash between
  the receiver's 2xx and the record's ack: that delivery is repeated, with the same
  ``X-Bazaar-Alert-Id``, for receivers to drop.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import datetime, timezone

import httpx
from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from bazaar.settings import Settings
from domain import webhooks as signing
from schemas.alerts import AlertMessageAdapter
from schemas.webhooks import DeadLetter, Delivery, Webhook, pair_key
from streams.follow import Record, TopicFollower
from streams.offsets import OffsetTracker
from streams.topics import topic_configs, topic_specs
from streams.writer import RecordWriter

log = logging.getLogger("bazaar.notifier")

ALERTS_SEEN = Counter("bazaar_notifier_alerts_total", "Messages read from the alerts topic", ["result"])
DELIVERIES = Counter("bazaar_notifier_deliveries_total", "Finished deliveries", ["outcome"])
ATTEMPTS = Counter("bazaar_notifier_attempts_total", "POSTs to receivers", ["result"])
PENDING = Gauge("bazaar_notifier_pending_messages", "Alert messages with a delivery still unfinished")
MAX_PENDING = 10_000  # alerts in flight before the consumer pauses


class Stopping(Exception):
    """The notifier is stopping: a delivery gives up without an outcome (redone after restart)."""


class Notifier:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.http = http
        self.hooks: dict[str, Webhook] = {}
        self.delivered: set[bytes] = set()
        self.dead: dict[bytes, DeadLetter] = {}
        self.inflight: dict[bytes, asyncio.Task] = {}
        self.retrying: set[bytes] = set()
        self.tracker = OffsetTracker()
        self.writer = RecordWriter(settings.kafka_bootstrap, settings.produce_timeout_s)
        specs, configs = topic_specs(settings), topic_configs(settings)
        s = settings
        self.hook_follower = TopicFollower(s.kafka_bootstrap, {s.webhooks_topic: specs[s.webhooks_topic]},
                                           self._on_hook, configs=configs, name="notifier-webhooks")
        outcome_topics = {t: specs[t] for t in (s.webhook_deliveries_topic, s.webhook_dead_letters_topic)}
        self.outcome_follower = TopicFollower(s.kafka_bootstrap, outcome_topics, self._on_outcome,
                                              configs=configs, name="notifier-outcomes")
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: Consumer | None = None
        self.subscribed = False
        self.assigned: list[int] = []
        PENDING.set_function(self.tracker.pending)

    # ---- health --------------------------------------------------------------------------------------

    def status(self) -> dict:
        return {
            "status": "ok" if self.healthy else "starting",
            "webhooks": len(self.hooks),
            "delivered": len(self.delivered),
            "dead_letters": len(self.dead),
            "in_flight": len(self.inflight),
            "pending_messages": self.tracker.pending(),
            "partitions": sorted(self.assigned),
        }

    @property
    def healthy(self) -> bool:
        return self.subscribed and self.hook_follower.ready and self.outcome_follower.ready

    # ---- followers (their threads) ------------------------------------------------------------------

    def _on_hook(self, rec: Record) -> None:
        if rec.key is None:
            return
        if rec.value is None:
            self.hooks.pop(rec.key.decode(), None)
            return
        try:
            hook = Webhook.model_validate_json(rec.value)
        except ValidationError as exc:
            log.error("webhook record breaks the contract", extra={"offset": rec.offset, "error": str(exc)})
            return
        self.hooks[str(hook.webhook_id)] = hook

    def _on_outcome(self, rec: Record) -> None:
        if rec.key is None or rec.value is None:
            return
        if rec.topic == self.settings.webhook_deliveries_topic:
            self.delivered.add(rec.key)
            return
        try:
            dead = DeadLetter.model_validate_json(rec.value)
        except ValidationError as exc:
            log.error("dead letter breaks the contract", extra={"offset": rec.offset, "error": str(exc)})
            return
        self.dead[rec.key] = dead
        if dead.state == "retry_requested" and self.outcome_follower.ready and self._loop is not None:
            self._loop.call_soon_threadsafe(self._start_retry, rec.key)

    # ---- the run ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        own_http = self.http is None
        if own_http:
            self.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
        self.writer.start()
        self.hook_follower.start()
        self.outcome_follower.start()
        try:
            while not (self.hook_follower.ready and self.outcome_follower.ready):
                if await self._sleep(0.1):
                    return
            for key, dead in list(self.dead.items()):  # retries asked for while no notifier ran
                if dead.state == "retry_requested":
                    self._start_retry(key)
            await self._consume()
        finally:
            await self._finish()
            for follower in (self.hook_follower, self.outcome_follower):
                follower.request_stop()
            for follower in (self.hook_follower, self.outcome_follower):
                await asyncio.to_thread(follower.stop)
            await asyncio.to_thread(self.writer.close, self.settings.produce_timeout_s)
            if own_http:
                await self.http.aclose()

    async def _consume(self) -> None:
        s = self.settings
        consumer = self._consumer = Consumer({
            "bootstrap.servers": s.kafka_bootstrap,
            "group.id": s.notifier_group,
            "group.instance.id": f"notifier-{socket.gethostname()}-{s.notifier_port}",  # a restart gets its partitions back
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
            "log_level": 3,
        })
        consumer.subscribe([s.alerts_topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.subscribed = True
        paused = False
        try:
            while not self._stop.is_set():
                msgs = await asyncio.to_thread(consumer.consume, 200, 0.3)
                if msgs:
                    await self.hook_follower.caught_up(timeout=5.0)  # registrations made before these alerts
                    for msg in msgs:
                        self._handle(msg)
                await self._commit(consumer)
                busy = self.tracker.pending() >= MAX_PENDING
                if busy != paused and self.assigned:
                    parts = [TopicPartition(s.alerts_topic, p) for p in self.assigned]
                    consumer.pause(parts) if busy else consumer.resume(parts)
                    paused = busy
        finally:
            self.subscribed = False

    def _handle(self, msg) -> None:
        if msg.error() is not None:
            log.warning("alerts consumer error", extra={"error": msg.error().str()})
            return
        p, o = msg.partition(), msg.offset()
        try:
            alert = AlertMessageAdapter.validate_json(msg.value())
        except ValidationError as exc:
            ALERTS_SEEN.labels("invalid").inc()
            log.error("alert message breaks the contract", extra={"partition": p, "offset": o, "error": str(exc)})
            self.tracker.add(p, o, 0)
            return
        ALERTS_SEEN.labels(alert.type).inc()
        aid = str(alert.alert_id)
        tasks = []
        for hook in list(self.hooks.values()):
            if not hook.wants(alert.store_id, alert.kind, alert.type, alert.raised_at):
                continue
            key = pair_key(hook.webhook_id, aid)
            if key in self.delivered or key in self.dead:
                DELIVERIES.labels("already_done").inc()
                continue
            task = self.inflight.get(key)
            if task is None:
                task = self.inflight[key] = asyncio.get_running_loop().create_task(
                    self._deliver(hook, aid, alert.store_id, alert.kind, alert.type, msg.value()))
            tasks.append(task)
        self.tracker.add(p, o, len(tasks))
        for task in tasks:
            task.add_done_callback(lambda t, p=p, o=o: self._finished(t, p, o))

    def _finished(self, task: asyncio.Task, partition: int, offset: int) -> None:
        if task.cancelled() or task.exception() is not None:
            return  # no outcome recorded: the offset stays, the alert is delivered after a restart
        self.tracker.done(partition, offset)

    async def _commit(self, consumer: Consumer, partitions: list[int] | None = None) -> None:
        offsets = self.tracker.to_commit(partitions)
        if not offsets:
            return
        tps = [TopicPartition(self.settings.alerts_topic, p, o) for p, o in offsets.items()]
        try:
            await asyncio.to_thread(consumer.commit, offsets=tps, asynchronous=False)
            self.tracker.committed(offsets)
        except KafkaException as exc:
            log.warning("commit failed; retried with the next one", extra={"error": str(exc)})

    def _on_assign(self, consumer, partitions) -> None:
        self.assigned = sorted({*self.assigned, *(tp.partition for tp in partitions)})
        log.info("alerts partitions assigned", extra={"partitions": self.assigned})

    def _on_revoke(self, consumer, partitions) -> None:
        revoked = [tp.partition for tp in partitions]
        offsets = self.tracker.to_commit(revoked)
        if offsets:
            try:
                consumer.commit(offsets=[TopicPartition(self.settings.alerts_topic, p, o) for p, o in offsets.items()],
                                asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed", extra={"error": str(exc)})
        self.tracker.forget(revoked)
        self.assigned = [p for p in self.assigned if p not in revoked]

    async def _finish(self) -> None:
        """Let POSTs under way end and record their outcome; deliveries waiting to retry give up."""
        self._stop.set()
        tasks = list(self.inflight.values())
        if tasks:
            grace = self.settings.webhook_timeout_s + self.settings.produce_timeout_s + 1
            _, late = await asyncio.wait(tasks, timeout=grace)
            for t in late:
                t.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._consumer is not None:
            await self._commit(self._consumer)
            await asyncio.to_thread(self._consumer.close)
            self._consumer = None

    # ---- deliveries --------------------------------------------------------------------------------

    async def _deliver(self, hook: Webhook, alert_id: str, store_id: str, kind: str, type_: str, body: bytes) -> None:
        key = pair_key(hook.webhook_id, alert_id)
        try:
            async with self._sem(str(hook.webhook_id)):
                attempts, error = await self._attempts(hook, alert_id, body)
                if error is None:
                    return
                dead = DeadLetter(webhook_id=hook.webhook_id, alert_id=alert_id, store_id=store_id, kind=kind, type=type_,
                                  body=body.decode(), attempts=attempts, last_error=error, dead_at=_now())
                await self._record(self.settings.webhook_dead_letters_topic, key, dead.model_dump_json().encode())
                self.dead[key] = dead
                DELIVERIES.labels("dead_letter").inc()
                log.warning("delivery dead-lettered", extra={"webhook_id": str(hook.webhook_id), "alert_id": alert_id, "error": error})
        finally:
            self.inflight.pop(key, None)

    async def _attempts(self, hook: Webhook, alert_id: str, body: bytes) -> tuple[int, str | None]:
        """Try up to ``webhook_max_attempts`` times: (attempts made, None when delivered or moot, else the last error)."""
        s = self.settings
        key = pair_key(hook.webhook_id, alert_id)
        error = "not attempted"
        for attempt in range(1, s.webhook_max_attempts + 1):
            if self._stop.is_set():
                raise Stopping()
            if str(hook.webhook_id) not in self.hooks:
                DELIVERIES.labels("webhook_deleted").inc()
                return attempt - 1, None
            if key in self.delivered:
                return attempt - 1, None
            status, error = await self._post(hook, alert_id, body)
            if status is not None and not signing.retryable(status):
                ATTEMPTS.labels("ok").inc()
                self.delivered.add(key)
                record = Delivery(webhook_id=hook.webhook_id, alert_id=alert_id, delivered_at=_now(), attempts=attempt, status=status)
                await self._record(s.webhook_deliveries_topic, key, record.model_dump_json().encode())
                DELIVERIES.labels("delivered").inc()
                return attempt, None
            ATTEMPTS.labels("failed").inc()
            if attempt < s.webhook_max_attempts:
                if await self._sleep(signing.backoff(attempt, s.webhook_backoff_base_s, s.webhook_backoff_max_s)):
                    raise Stopping()
        return s.webhook_max_attempts, error

    async def _post(self, hook: Webhook, alert_id: str, body: bytes) -> tuple[int | None, str | None]:
        headers = signing.headers(hook.secret, alert_id, int(time.time()), body)
        try:
            r = await self.http.post(str(hook.url), content=body, headers=headers, timeout=self.settings.webhook_timeout_s)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        return r.status_code, None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"

    async def _record(self, topic: str, key: bytes, value: bytes) -> None:
        """Write an outcome with acks=all, retrying until the broker takes it (the offset waits for it)."""
        delay = 0.2
        while True:
            written = await self.writer.write(topic, key, value)
            if written.ok:
                return
            log.warning("could not record a delivery outcome; retrying", extra={"topic": topic, "error": written.error})
            await asyncio.sleep(delay)  # not cut short by stop: an outcome already happened
            delay = min(delay * 2, 5.0)

    # ---- dead-letter retries ---------------------------------------------------------------------------

    def _start_retry(self, key: bytes) -> None:
        if key in self.retrying:
            return
        self.retrying.add(key)
        self._loop.create_task(self._retry(key))

    async def _retry(self, key: bytes) -> None:
        try:
            dead = self.dead.get(key)
            if dead is None or dead.state != "retry_requested":
                return
            hook = self.hooks.get(str(dead.webhook_id))
            if hook is None:
                log.warning("retry of a dead letter of a deleted webhook ignored", extra={"webhook_id": str(dead.webhook_id)})
                return
            async with self._sem(str(hook.webhook_id)):
                attempts, error = await self._attempts(hook, str(dead.alert_id), dead.body.encode())
            if error is None:
                again = dead.model_copy(update={"state": "redelivered"})
                DELIVERIES.labels("redelivered").inc()
            else:
                again = dead.model_copy(update={"state": "dead", "attempts": dead.attempts + attempts,
                                                "last_error": error, "dead_at": _now()})
                DELIVERIES.labels("dead_letter").inc()
            await self._record(self.settings.webhook_dead_letters_topic, key, again.model_dump_json().encode())
            self.dead[key] = again
        except Stopping:
            pass
        finally:
            self.retrying.discard(key)

    # ---- helpers ------------------------------------------------------------------------------------

    def _sem(self, webhook_id: str) -> asyncio.Semaphore:
        sem = self._sems.get(webhook_id)
        if sem is None:
            sem = self._sems[webhook_id] = asyncio.Semaphore(self.settings.webhook_concurrency)
        return sem

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the notifier is stopping."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
            return True
        except asyncio.TimeoutError:
            return False


def _now() -> datetime:
    return datetime.now(timezone.utc)
