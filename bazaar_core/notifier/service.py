"""The notifier: posts every alert on the alerts topic to each webhook that wants it, exactly once.

* It consumes the alerts topic in its own consumer group (``<prefix>-notifier``, static membership
  so a restarted notifier gets its partitions back at once). For each message it finds the
  webhooks that want it (store, kind, type filters; only alerts raised after the webhook was
  registered) and queues one delivery per (webhook, alert_id) not delivered yet.
* **Webhooks are isolated from each other.** Each webhook has its own ``Lane``: a queue, at most
  ``webhook_concurrency`` POSTs in flight, and a circuit breaker (``domain.webhooks.CircuitBreaker``:
  after ``webhook_breaker_failures`` consecutive failures no POST goes to that receiver for
  ``webhook_breaker_cool_off_s``, then one probe). A delivery waiting for its next attempt holds
  no slot; a try refused by an open circuit counts as a failed attempt, so a delivery's life stays
  bounded by its retry schedule whatever the receiver does; when a probe succeeds, every delivery
  waiting for a retry goes at once. Consumption never waits for a receiver: the consumer pauses
  only while too many outcome records wait for the broker's ack (the broker is the one resource
  every webhook shares).
* **Bounded memory**: one webhook holds at most ``webhook_max_pending`` unfinished deliveries in
  memory. Beyond that its further deliveries are *parked on the alerts topic itself*: the webhook
  gets a cursor per partition at the first alert it had no room for, which holds that partition's
  commit there (``OffsetTracker.join``), while the main consumer goes on for everyone else. As its
  deliveries finish, the cursor (a consumer of its own) re-reads the alerts from there for that
  webhook alone, until it reaches what the main consumer has read and hands the partition back.
  Nothing is dead-lettered for being in a burst, a slow receiver gets everything in the end, and a
  restart replays from the cursor. A receiver that stays down does not hold the commit back for
  ever: its deliveries die after their retry schedule as before, and an alert the cursor re-reads
  that is already older than that schedule while the circuit is open is dead-lettered at once
  (``expired``), so the cursor keeps pace with the topic.
* A delivery POSTs the alert JSON exactly as it is on the topic, signed (``domain.webhooks``), and
  retries any failure with exponential backoff; after the last attempt it becomes a dead letter.
* **Only to where webhooks may go** (``egress``): before each delivery the receiver's URL and every
  address its name resolves to are checked again (``domain.netrules``; a name can re-resolve), and
  the POST connects to those checked addresses only, Host, SNI and certificate still the name's. A
  delivery the rules refuse is not retried: it is dead-lettered at once with the reason (outcome
  ``refused``). Redirects are not followed.
* **Secrets**: registrations hold the signing secret sealed (``registrations``); the notifier opens
  it with the secrets key (``auth_path/secrets.key``, made at start if ``bazaar auth init`` has not).
  A secret this key cannot open (another key file than the API's) fails each attempt, loudly.
* **Nothing lost**: a partition's offset is committed only up to the first message with a delivery
  still unfinished (``OffsetTracker``); a delivery is finished once its outcome is recorded with
  acks=all: ``Delivery`` on the deliveries topic, or ``DeadLetter`` on the webhook dead-letters
  topic. So one dead receiver holds the commit back (for at most its deliveries' retry schedule)
  while consumption and every other webhook's deliveries go on; a restart replays from there and
  skips whatever was recorded.
* **A message that cannot be handled** (not an alert, or any error routing it) goes to the shared
  dead-letter topic (``bazaar_core.kafka.deadletters``, source ``notifier``) and the partition goes on; its
  offset is committed only once the dead letter is acked.
* **Once**: at start-up the notifier reads both outcome topics to the end before it consumes any
  alert, and it skips every (webhook, alert) recorded there; within a run, a second copy of an
  alert (the stream's replays) joins the delivery already queued. The one window left is a crash
  between the receiver's 2xx and the record's ack: that delivery is repeated, with the same
  ``X-Bazaar-Alert-Id``, for receivers to drop.
* **Health**: ``status()`` says ``degraded``, naming the webhook and why, while a webhook's backlog
  or the age of its oldest pending delivery passes ``webhook_degraded_backlog`` /
  ``webhook_degraded_age_s``; per-webhook gauges and counters are on ``/metrics``. The probes:
  ``readiness()`` once the alerts consumer is assigned and caught up (``notifier_ready_lag``),
  ``liveness()`` unless its event loop or its consumer loop stopped turning, or it is behind and
  has not moved (``watch``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition
from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bazaar_core.auth.sealed import SealKey, Unsealable
from bazaar_core.kafka import deadletters
from bazaar_core.kafka.config import consumer_config
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.offsets import OffsetTracker
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.kafka.writer import RecordWriter
from bazaar_core.logs import stopping
from bazaar_core.notifier.egress import Egress, Unresolved, system_resolver
from bazaar_core.notifier.registrations import opened, sealing_key
from bazaar_core.notifier.watch import CONSUMER_LOOP, EVENT_LOOP, LAG_EVERY_S, ConsumerWatch
from bazaar_core.settings import Settings
from domain import webhooks as signing
from domain.netrules import RefusedUrl
from domain.probes import Verdict
from domain.webhooks import CircuitBreaker
from schemas.alerts import AlertMessageAdapter
from schemas.webhooks import DeadLetter, Delivery, Webhook, WebhookRecord, pair_key

log = logging.getLogger("bazaar.notifier")

ALERTS_SEEN = Counter("bazaar_notifier_alerts_total", "Messages read from the alerts topic", ["result"])
DELIVERIES = Counter(
    "bazaar_notifier_deliveries_total", "Finished deliveries (refused: dead-lettered at once, the address rules refused it)", ["outcome"]
)
ATTEMPTS = Counter("bazaar_notifier_attempts_total", "POSTs to receivers", ["result"])
PENDING = Gauge("bazaar_notifier_pending_messages", "Alert messages with a delivery still unfinished")
DNS_THREADS = 16  # receivers' names resolve here: a hung resolver holds these, not the loop's default pool
MAX_RECORDING = 1000  # outcome records waiting for the broker's ack before the consumer pauses
VIEW_EVERY_S = 0.25  # how often the per-webhook view behind /health and /metrics is refreshed
BREAKER_STATES = {CircuitBreaker.CLOSED: 0, CircuitBreaker.HALF_OPEN: 1, CircuitBreaker.OPEN: 2}


class Stopping(Exception):
    """The notifier is stopping: a delivery gives up without an outcome (redone after restart)."""


class ConsumerFailed(RuntimeError):
    """The alerts consumer hit an error librdkafka cannot go on from (a static member fenced after
    the group coordinator moved, as when a broker pauses): the notifier exits, so that its
    supervisor (`bazaar up`, Kubernetes) starts a fresh one, which resumes from the last commit and
    skips every delivery recorded. Staying up would leave it alive, healthy and deaf."""


@dataclass(eq=False)
class Job:
    """One delivery (webhook, alert) until its outcome is recorded."""

    key: bytes
    alert_id: str
    store_id: str
    kind: str
    type: str
    body: bytes
    created: float  # monotonic
    retry_of: DeadLetter | None = None  # a dead letter an operator asked to retry
    counted: bool = True  # held against the webhook's pending bound
    waiters: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset) of each copy of the alert
    attempts: int = 0
    last_error: str = "not attempted"
    timer: asyncio.TimerHandle | None = None  # waiting for its next attempt
    done: bool = False


class Lane:
    """One webhook's deliveries: its queue, its in-flight bound, its circuit breaker, its counts."""

    def __init__(self, webhook_id: str, settings: Settings) -> None:
        self.webhook_id = webhook_id
        self.jobs: dict[bytes, Job] = {}  # every unfinished delivery, oldest first
        self.ready: deque[Job] = deque()
        self.in_flight = 0
        self.held = 0  # jobs counted against webhook_max_pending
        self.waiting = 0  # jobs waiting for a retry
        self.breaker = CircuitBreaker(settings.webhook_breaker_failures, settings.webhook_breaker_cool_off_s)
        self.probe_timer: asyncio.TimerHandle | None = None
        self.parked: dict[int, int] = {}  # partition -> the cursor: next offset to re-read for this webhook
        self.reader: asyncio.Task | None = None
        self.room = asyncio.Event()  # set when a delivery finishes while parked
        self.counts = {"delivered": 0, "dead_letter": 0, "expired": 0, "refused": 0}
        self.attempts = {"ok": 0, "failed": 0, "refused": 0}

    def oldest_age(self, now: float) -> float:
        for job in self.jobs.values():
            return now - job.created
        return 0.0


class Notifier:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None, egress: Egress | None = None) -> None:
        self.settings = settings
        self.http = http
        self._dns_pool = ThreadPoolExecutor(DNS_THREADS, thread_name_prefix="notifier-dns")  # threads start on first use
        self.egress = egress or Egress(settings, system_resolver(settings.webhook_timeout_s, self._dns_pool))
        self.key: SealKey | None = None  # the secrets key ring, loaded by run()
        self.hooks: dict[str, Webhook] = {}
        self.unopened: dict[str, str] = {}  # webhook_id -> why its sealed secret does not open here
        self.delivered: set[bytes] = set()
        self.dead: dict[bytes, DeadLetter] = {}
        self.lanes: dict[str, Lane] = {}
        self.tracker = OffsetTracker()
        self.writer = RecordWriter(settings)
        specs, configs = topic_specs(settings), topic_configs(settings)
        s = settings
        self.hook_follower = TopicFollower(
            s, {s.webhooks_topic: specs[s.webhooks_topic]}, self._on_hook, configs=configs, name="notifier-webhooks"
        )
        outcome_topics = {t: specs[t] for t in (s.webhook_deliveries_topic, s.webhook_dead_letters_topic)}
        self.outcome_follower = TopicFollower(s, outcome_topics, self._on_outcome, configs=configs, name="notifier-outcomes")
        self._tasks: set[asyncio.Task] = set()
        self._recording = 0  # outcome records waiting for the broker
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: Consumer | None = None
        # The consumer's blocking calls get threads of their own: the loop's default executor also
        # resolves receivers' host names, and a receiver whose DNS hangs must not hold up consumption.
        self._kafka_pool: ThreadPoolExecutor | None = None
        self._park_pool: ThreadPoolExecutor | None = None  # the parked webhooks' cursors: never in the way of the above
        self._view: tuple[dict, ...] = ()  # per-webhook state, rebuilt on the loop, read by other threads
        self.subscribed = False
        self.assigned: list[int] = []
        self.watch = ConsumerWatch()
        self._lag_task: asyncio.Task | None = None
        PENDING.set_function(self.tracker.pending)
        _COLLECTOR.notifier = weakref.ref(self)

    # ---- health --------------------------------------------------------------------------------------

    def status(self) -> dict:
        view = self._view
        degraded = [
            {k: w[k] for k in ("webhook_id", "reasons", "pending", "parked_messages", "oldest_pending_s", "breaker", "last_error")}
            for w in view
            if w["reasons"]
        ]
        if not self.healthy:
            state = "starting"
        else:
            state = "degraded" if degraded else "ok"
        return {
            "status": state,
            "degraded": degraded,
            "webhooks": len(self.hooks),
            "delivered": len(self.delivered),
            "dead_letters": len(self.dead),
            "in_flight": sum(w["in_flight"] for w in view),
            "pending_deliveries": sum(w["pending"] for w in view),
            "pending_messages": self.tracker.pending(),
            "commit_held": self.tracker.held(),
            "partitions": sorted(self.assigned),
            "lanes": [w for w in view if w["pending"] or w["parked_messages"] or w["breaker"] != CircuitBreaker.CLOSED],
        }

    @property
    def healthy(self) -> bool:
        """Up and consuming (``degraded`` is still healthy: restarting would not bring a receiver back)."""
        return self.subscribed and self.hook_follower.ready and self.outcome_follower.ready

    def readiness(self) -> Verdict:
        """``/ready``: consuming, and the alerts consumer assigned and caught up (``domain.probes``)."""
        return self.watch.readiness(self.healthy, self.settings)

    def liveness(self) -> Verdict:
        """``/livez``: the event loop and the consumer loop turn, and the consumer is not stuck behind."""
        return self.watch.liveness(self.subscribed, self.settings)

    def _refresh_view(self) -> None:
        s, now = self.settings, time.monotonic()
        view = []
        for wid, lane in list(self.lanes.items()):
            pending, age = len(lane.jobs), lane.oldest_age(now)
            reasons = []
            if pending >= s.webhook_degraded_backlog:
                reasons.append(f"backlog of {pending} deliveries (threshold {s.webhook_degraded_backlog})")
            if age >= s.webhook_degraded_age_s:
                reasons.append(f"oldest pending delivery waited {age:.1f} s (threshold {s.webhook_degraded_age_s:g} s)")
            parked = self._parked_behind(lane)
            if lane.parked:
                reasons.append(f"{parked} alert messages parked on the topic past its bound of {s.webhook_max_pending}")
            if reasons and lane.breaker.state != CircuitBreaker.CLOSED:
                reasons.append(f"circuit {lane.breaker.state} after {lane.breaker.failures} consecutive failures")
            view.append(
                {
                    "webhook_id": wid,
                    "pending": pending,
                    "in_flight": lane.in_flight,
                    "waiting_retry": lane.waiting,
                    "oldest_pending_s": round(age, 3),
                    "parked_messages": parked,
                    "breaker": lane.breaker.state,
                    "consecutive_failures": lane.breaker.failures,
                    "last_error": lane.breaker.last_error,
                    "reasons": reasons,
                    "deliveries": dict(lane.counts),
                    "attempts": dict(lane.attempts),
                }
            )
            if not lane.jobs and not lane.parked and wid not in self.hooks:  # a deleted webhook's lane, once drained
                self._drop_lane(wid)
        self._view = tuple(view)

    async def _watch(self) -> None:
        while not self._stop.is_set():
            self._refresh_view()
            self.watch.turn(EVENT_LOOP)
            await self._sleep(VIEW_EVERY_S)

    async def _observe_lag(self, consumer: Consumer) -> None:
        """Measure how far the alerts consumer is behind, every ``LAG_EVERY_S`` until stopping."""
        s = self.settings
        while not self._stop.is_set():
            try:
                await self._in_pool(self.watch.measure, consumer, s.alerts_topic, list(self.assigned), self._stop.is_set)
            except KafkaException as exc:  # the broker away: the measure goes stale, readiness says so
                log.debug("alerts lag not measured", extra={"error": str(exc)})
            await self._sleep(LAG_EVERY_S)

    # ---- followers (their threads) ------------------------------------------------------------------

    def _on_hook(self, rec: Record) -> None:
        if rec.key is None:
            return
        if rec.value is None:
            self.hooks.pop(rec.key.decode(), None)
            self.unopened.pop(rec.key.decode(), None)
            return
        try:
            record = WebhookRecord.model_validate_json(rec.value)
        except ValueError as exc:
            log.error("webhook record breaks the contract", extra={"offset": rec.offset, "error": str(exc)})
            return
        wid = str(record.webhook_id)
        assert self.key is not None  # loaded by run() before the follower starts
        try:
            hook = opened(self.key, record)  # a record from before sealing: its secret in clear, used as it is
            self.unopened.pop(wid, None)
        except Unsealable as exc:
            # kept, so its deliveries fail visibly (and go once the notifier holds the API's key)
            log.error("a webhook's secret does not open with this secrets key", extra={"webhook_id": wid, "error": str(exc)})
            hook = Webhook(**record.model_dump(exclude={"secret", "secret_sealed"}), secret="")
            self.unopened[wid] = f"its secret does not open here: {exc}"
        self.hooks[wid] = hook

    def _on_outcome(self, rec: Record) -> None:
        if rec.key is None or rec.value is None:
            return
        if rec.topic == self.settings.webhook_deliveries_topic:
            self.delivered.add(rec.key)
            return
        try:
            dead = DeadLetter.model_validate_json(rec.value)
        except ValueError as exc:
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
        self._kafka_pool = ThreadPoolExecutor(2, thread_name_prefix="notifier-kafka")
        self._park_pool = ThreadPoolExecutor(4, thread_name_prefix="notifier-parked")
        self.key = await asyncio.to_thread(sealing_key, self.settings.auth_path)
        own_http = self.http is None
        if own_http:
            # No pool-wide cap: each webhook's own bound keeps connections in check, and a shared cap
            # would let one receiver's hung connections queue another's requests.
            self.http = self.egress.client(httpx.Limits(max_connections=None, max_keepalive_connections=100))
        self.writer.start()
        self.hook_follower.start()
        self.outcome_follower.start()
        watch = self._loop.create_task(self._watch())
        try:
            while not (self.hook_follower.ready and self.outcome_follower.ready):
                if await self._sleep(0.1):
                    return
            for key, dead in list(self.dead.items()):  # retries asked for while no notifier ran
                if dead.state == "retry_requested":
                    self._start_retry(key)
            await self._consume()
        finally:
            stopping()  # from here the Kafka clients' refused connections are not news
            await self._finish()
            watch.cancel()
            for follower in (self.hook_follower, self.outcome_follower):
                follower.request_stop()
            for follower in (self.hook_follower, self.outcome_follower):
                await asyncio.to_thread(follower.stop)
            await asyncio.to_thread(self.writer.close, self.settings.produce_timeout_s)
            self._kafka_pool.shutdown(wait=False)
            self._park_pool.shutdown(wait=False)
            self._dns_pool.shutdown(wait=False)
            if own_http:
                assert self.http is not None  # made above
                await self.http.aclose()

    async def _in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._kafka_pool, fn, *args)

    async def _consume(self) -> None:
        s = self.settings
        overrides = {
            "group.instance.id": f"notifier-{socket.gethostname()}-{s.notifier_port}",  # a restart gets its partitions back
            "session.timeout.ms": 10_000,
        }
        consumer = self._consumer = Consumer(consumer_config(s, s.notifier_group, overrides))
        consumer.subscribe([s.alerts_topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.watch.turn(CONSUMER_LOOP)
        self.subscribed = True
        self._lag_task = asyncio.get_running_loop().create_task(self._observe_lag(consumer))
        paused = False
        try:
            while not self._stop.is_set():
                msgs = await self._in_pool(consumer.consume, 200, 0.3)
                self.watch.turn(CONSUMER_LOOP)
                if msgs:
                    self.watch.moved()
                    # registrations made before these alerts
                    await self._in_pool(self.hook_follower.wait_caught_up, 5.0)
                    for msg in msgs:
                        self._handle(msg)
                await self._commit(consumer)
                busy = self._recording >= MAX_RECORDING
                if busy != paused and self.assigned:
                    parts = [TopicPartition(s.alerts_topic, p) for p in self.assigned]
                    consumer.pause(parts) if busy else consumer.resume(parts)
                    paused = self.watch.paused = busy
                    log.warning(
                        "alerts consumer %s: %d outcome records wait for the broker", "paused" if busy else "resumed", self._recording
                    )
        finally:
            self.subscribed = False

    def _handle(self, msg) -> None:
        if msg.error() is not None:
            # (after a fatal error the consumer hands over _FATAL, without the fatal flag)
            if msg.error().fatal() or msg.error().code() == KafkaError._FATAL:
                log.critical("alerts consumer failed: exiting to be restarted", extra={"error": msg.error().str()})
                raise ConsumerFailed(msg.error().str())
            log.warning("alerts consumer error", extra={"error": msg.error().str()})
            return
        p, o = msg.partition(), msg.offset()
        try:
            alert = AlertMessageAdapter.validate_json(msg.value())
            targets = [hook for hook in list(self.hooks.values()) if hook.wants(alert.store_id, alert.kind, alert.type, alert.raised_at)]
        except Exception as exc:  # not an alert, or it cannot be routed: the partition goes on
            ALERTS_SEEN.labels("invalid").inc()
            self._dead_letter_message(msg, exc)
            return
        ALERTS_SEEN.labels(alert.type).inc()
        aid, now = str(alert.alert_id), time.monotonic()
        joined: list[Job] = []
        parking: list[Lane] = []
        touched: list[Lane] = []
        for hook in targets:
            wid = str(hook.webhook_id)
            key = pair_key(wid, aid)
            if key in self.delivered or key in self.dead:
                DELIVERIES.labels("already_done").inc()
                continue
            lane = self._lane(wid)
            if p in lane.parked:
                continue  # the webhook's cursor on this partition brings it
            job = lane.jobs.get(key)
            if job is None:
                if lane.held >= self.settings.webhook_max_pending:
                    parking.append(lane)
                    continue
                job = lane.jobs[key] = Job(key, aid, alert.store_id, alert.kind, alert.type, msg.value(), now)
                lane.held += 1
                lane.ready.append(job)
                touched.append(lane)
            joined.append(job)
        # The parts are counted before any of them can finish.
        self.tracker.add(p, o, len(joined))
        for job in joined:
            job.waiters.append((p, o))
        for lane in parking:
            self._park(lane, p, o)
        for lane in touched:
            self._pump(lane)

    def _dead_letter_message(self, msg, exc: Exception) -> None:
        p, o = msg.partition(), msg.offset()
        headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
        dead = deadletters.letter("notifier", msg.topic(), p, o, msg.key(), msg.value(), headers, exc)
        self.tracker.add(p, o, 1)

        async def record() -> None:
            await self._record(self.settings.dead_letters_topic, dead.id.encode(), dead.to_bytes())
            self.tracker.done(p, o)

        self._spawn(record())

    async def _commit(self, consumer: Consumer, partitions: list[int] | None = None) -> None:
        offsets = self.tracker.to_commit(partitions)
        if not offsets:
            return
        tps = [TopicPartition(self.settings.alerts_topic, p, o) for p, o in offsets.items()]
        try:
            await self._in_pool(lambda: consumer.commit(offsets=tps, asynchronous=False))
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
                consumer.commit(offsets=[TopicPartition(self.settings.alerts_topic, p, o) for p, o in offsets.items()], asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed", extra={"error": str(exc)})
        self.tracker.forget(revoked)
        self.assigned = [p for p in self.assigned if p not in revoked]
        if self._loop is not None:  # the new owner re-reads parked alerts from the committed offset
            self._loop.call_soon_threadsafe(self._forget_parked, revoked)

    def _forget_parked(self, partitions: list[int]) -> None:
        for lane in self.lanes.values():
            for p in partitions:
                lane.parked.pop(p, None)

    async def _finish(self) -> None:
        """Let POSTs and records under way end; deliveries waiting to retry give up (redone after a restart)."""
        self._stop.set()
        for lane in self.lanes.values():
            for job in lane.jobs.values():
                if job.timer is not None:
                    job.timer.cancel()
            if lane.probe_timer is not None:
                lane.probe_timer.cancel()
        tasks = list(self._tasks)
        if tasks:
            grace = self.settings.webhook_timeout_s + self.settings.produce_timeout_s + 1
            _, late = await asyncio.wait(tasks, timeout=grace)
            for t in late:
                t.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._lag_task is not None:  # its query in the consumer's pool ends before the consumer closes
            await asyncio.gather(self._lag_task, return_exceptions=True)
        if self._consumer is not None:
            await self._commit(self._consumer)
            await self._in_pool(self._consumer.close)
            self._consumer = None

    # ---- lanes ------------------------------------------------------------------------------------

    def _lane(self, webhook_id: str) -> Lane:
        lane = self.lanes.get(webhook_id)
        if lane is None:
            lane = self.lanes[webhook_id] = Lane(webhook_id, self.settings)
        return lane

    def _drop_lane(self, webhook_id: str) -> None:
        lane = self.lanes.pop(webhook_id, None)
        if lane is not None and lane.probe_timer is not None:
            lane.probe_timer.cancel()

    def _pump(self, lane: Lane) -> None:
        """Start what may start: POSTs up to the lane's bound while its circuit lets them; a try the
        open circuit refuses fails at once (no POST) and waits for its next attempt."""
        if self._stop.is_set():
            return
        s = self.settings
        while lane.ready and lane.in_flight < s.webhook_concurrency:
            job = lane.ready.popleft()
            if job.done or job.timer is not None:
                continue
            if self._moot(lane, job):
                continue
            verdict = lane.breaker.allow(time.monotonic())
            if verdict is None:
                job.attempts += 1
                lane.attempts["refused"] += 1
                ATTEMPTS.labels("refused").inc()
                self._after_failure(
                    lane, job, f"circuit open after {lane.breaker.failures} consecutive failures (last: {lane.breaker.last_error})"
                )
                continue
            lane.in_flight += 1
            self._spawn(self._attempt(lane, job, probe=verdict == "probe"))

    def _moot(self, lane: Lane, job: Job) -> bool:
        """Finish a delivery that needs no POST any more: its webhook was deleted, or it was delivered."""
        if lane.webhook_id not in self.hooks:
            DELIVERIES.labels("webhook_deleted").inc()
            self._finish_job(lane, job)
            return True
        if job.key in self.delivered:
            if job.retry_of is None:
                self._finish_job(lane, job)
            else:
                self._spawn(self._redelivered(lane, job, job.retry_of))
            return True
        return False

    async def _attempt(self, lane: Lane, job: Job, probe: bool) -> None:
        released, hook = False, None
        try:
            hook = self.hooks.get(lane.webhook_id)
            if hook is None:
                return  # deleted during the hand-over: the next pump finishes it
            status, error, refused = await self._post(hook, job.alert_id, job.body)
            job.attempts += 1
            lane.in_flight -= 1
            released = True
            if refused is not None:  # not the receiver's fault nor its health: no retry, no breaker
                job.last_error = refused
                self._give_up(lane, job, outcome="refused")
                self._pump(lane)
            elif status is not None and not signing.retryable(status):
                lane.attempts["ok"] += 1
                ATTEMPTS.labels("ok").inc()
                if lane.breaker.success(probe):
                    self._resume(lane)
                self._pump(lane)
                await self._delivered(lane, job, status)
            else:
                assert error is not None  # _post words every failure
                lane.attempts["failed"] += 1
                ATTEMPTS.labels("failed").inc()
                if lane.breaker.failure(time.monotonic(), error, probe):
                    log.warning(
                        "webhook circuit opened", extra={"webhook_id": lane.webhook_id, "error": error, "failures": lane.breaker.failures}
                    )
                    self._schedule_probe(lane)
                self._after_failure(lane, job, error)
                self._pump(lane)
        finally:
            if not released:
                lane.in_flight -= 1
                if hook is None:
                    lane.ready.appendleft(job)
                    self._pump(lane)

    def _after_failure(self, lane: Lane, job: Job, error: str) -> None:
        job.last_error = error
        s = self.settings
        if job.attempts >= s.webhook_max_attempts:
            self._give_up(lane, job)
            return
        delay = signing.backoff(job.attempts, s.webhook_backoff_base_s, s.webhook_backoff_max_s)
        assert self._loop is not None  # set by run(): jobs exist only once it runs
        job.timer = self._loop.call_later(delay, self._wake, lane, job)
        lane.waiting += 1

    def _wake(self, lane: Lane, job: Job) -> None:
        if job.timer is None:
            return
        job.timer = None
        lane.waiting -= 1
        if not job.done:
            lane.ready.append(job)
            self._pump(lane)

    def _resume(self, lane: Lane) -> None:
        """The receiver answers again: every delivery waiting for a retry goes now, oldest first."""
        for job in lane.jobs.values():
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
                lane.waiting -= 1
                lane.ready.append(job)

    def _schedule_probe(self, lane: Lane) -> None:
        if lane.probe_timer is not None:
            lane.probe_timer.cancel()
        assert self._loop is not None  # set by run(): lanes deliver only once it runs
        lane.probe_timer = self._loop.call_later(lane.breaker.cool_off_s, self._probe_due, lane)

    def _probe_due(self, lane: Lane) -> None:
        """The cool-off is over: the oldest delivery waiting for a retry is the probe, without waiting
        out its own backoff (which may be far longer than the cool-off)."""
        lane.probe_timer = None
        if self._stop.is_set() or lane.breaker.state == CircuitBreaker.CLOSED or lane.ready:
            self._pump(lane)
            return
        for job in lane.jobs.values():
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
                lane.waiting -= 1
                lane.ready.append(job)
                break
        self._pump(lane)

    def _finish_job(self, lane: Lane, job: Job) -> None:
        if job.done:
            return
        job.done = True
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
            lane.waiting -= 1
        if lane.jobs.get(job.key) is job:
            del lane.jobs[job.key]
            lane.held -= job.counted
            if job.counted and lane.parked:
                lane.room.set()
        for p, o in job.waiters:
            self.tracker.done(p, o)

    # ---- parked webhooks ------------------------------------------------------------------------------

    def _park(self, lane: Lane, partition: int, offset: int) -> None:
        """The webhook has no room for this alert: its cursor on the partition starts here."""
        if not self.tracker.join(partition, offset, 1):
            return  # revoked meanwhile: the new owner reads it
        lane.parked[partition] = offset
        log.warning(
            "webhook backlog full: its alerts wait on the topic",
            extra={"webhook_id": lane.webhook_id, "partition": partition, "offset": offset, "pending": lane.held},
        )
        if lane.reader is None:
            lane.reader = self._spawn(self._drain(lane))

    def _unpark(self, lane: Lane, partition: int) -> None:
        pos = lane.parked.pop(partition, None)
        if pos is not None:
            self.tracker.done(partition, pos)

    def _parked_behind(self, lane: Lane) -> int:
        """Alert messages between a parked webhook's cursors and what the main consumer has read."""
        return sum(max(0, (self.tracker.next(p) or pos) - pos) for p, pos in list(lane.parked.items()))

    def _park_reader(self) -> Consumer:
        s = self.settings
        return Consumer(consumer_config(s, f"{s.notifier_group}-parked-{uuid.uuid4().hex}"))  # assigned, never commits

    async def _in_park_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._park_pool, fn, *args)

    async def _drain(self, lane: Lane) -> None:
        """A parked webhook's cursor: re-read its partitions from where it had no room, as room frees,
        until it reaches what the main consumer has read."""
        s, bound = self.settings, self.settings.webhook_max_pending
        reader = await self._in_park_pool(self._park_reader)
        at: dict[int, int] = {}  # where the reader stands on each partition
        try:
            while lane.parked and not self._stop.is_set():
                if lane.webhook_id not in self.hooks:  # deleted: nothing to read for it
                    for p in list(lane.parked):
                        self._unpark(lane, p)
                    break
                if lane.held >= bound:
                    lane.room.clear()
                    try:
                        await asyncio.wait_for(lane.room.wait(), timeout=1.0)
                    except TimeoutError:
                        pass
                    continue
                try:
                    if at != lane.parked:
                        at = dict(lane.parked)
                        await self._in_park_pool(reader.assign, [TopicPartition(s.alerts_topic, p, o) for p, o in at.items()])
                    msgs = await self._in_park_pool(reader.consume, min(bound - lane.held, 500), 0.2)
                except KafkaException as exc:  # transient: the cursors stay, read again from them
                    log.warning("parked webhook's reader failed; retrying", extra={"webhook_id": lane.webhook_id, "error": str(exc)})
                    at = {}
                    await self._sleep(1.0)
                    continue
                started = False
                for msg in msgs:
                    if msg.error() is not None:
                        continue
                    p, o = msg.partition(), msg.offset()
                    pos = lane.parked.get(p)
                    if pos is None or o < pos:
                        continue  # handed back, or read again after a re-assignment
                    step = self._cursor_step(lane, msg)
                    if step is None:  # no room after all: read again from the cursors
                        at = {}
                        break
                    started |= step
                    if p in lane.parked:
                        at[p] = lane.parked[p]
                for p in list(lane.parked):
                    nxt = self.tracker.next(p)
                    if nxt is None or lane.parked[p] >= nxt:
                        self._unpark(lane, p)
                if started:
                    self._pump(lane)
        finally:
            lane.reader = None
            await self._in_park_pool(reader.close)

    def _cursor_step(self, lane: Lane, msg) -> bool | None:
        """One alert message at a parked webhook's cursor: queue its delivery if the webhook wants it,
        then move the cursor (and its hold on the commit) past it. True when a delivery was queued;
        None when there was no room (the cursor stays)."""
        p, o = msg.partition(), msg.offset()
        nxt = self.tracker.next(p)
        if nxt is None or o >= nxt:  # the main consumer hands this one over itself
            self._unpark(lane, p)
            return False
        queued, job, expired = False, None, None
        hook = self.hooks.get(lane.webhook_id)
        try:
            alert = AlertMessageAdapter.validate_json(msg.value())
            wanted = hook is not None and hook.wants(alert.store_id, alert.kind, alert.type, alert.raised_at)
        except Exception:  # the main consumer dead-letters such a message
            wanted = False
        if wanted:
            aid = str(alert.alert_id)
            key = pair_key(lane.webhook_id, aid)
            if key not in self.delivered and key not in self.dead:
                job = lane.jobs.get(key)
                if job is None:
                    if lane.held >= self.settings.webhook_max_pending:
                        return None
                    job = lane.jobs[key] = Job(key, aid, alert.store_id, alert.kind, alert.type, msg.value(), time.monotonic())
                    expired = self._expired(lane, msg)
                    if expired is None:
                        lane.held += 1
                        lane.ready.append(job)
                        queued = True
                    else:
                        job.counted, job.last_error = False, expired
                if self.tracker.join(p, o, 1):
                    job.waiters.append((p, o))
                if expired is not None:
                    lane.counts["expired"] += 1
                    self._give_up(lane, job)
        old = lane.parked[p]
        if o + 1 < nxt and self.tracker.join(p, o + 1, 1):
            lane.parked[p] = o + 1
            self.tracker.done(p, old)
        else:
            self._unpark(lane, p)
        return queued

    def _expired(self, lane: Lane, msg) -> str | None:
        """An alert re-read at a cursor while its webhook's circuit is not closed, older than a delivery's
        whole retry schedule: it would have been dead-lettered by now had there been room for it."""
        if lane.breaker.state == CircuitBreaker.CLOSED:
            return None
        kind, ts = msg.timestamp()
        if kind == TIMESTAMP_NOT_AVAILABLE or ts <= 0:
            return None
        s = self.settings
        window = sum(signing.schedule(s.webhook_max_attempts, s.webhook_backoff_base_s, s.webhook_backoff_max_s))
        waited = time.time() - ts / 1000
        if waited <= window:
            return None
        return (
            f"expired: waited {waited:.0f} s past the webhook's bound of {s.webhook_max_pending} pending, longer than "
            f"its retry schedule ({window:.0f} s), while its circuit was {lane.breaker.state} "
            f"(last error: {lane.breaker.last_error})"
        )

    # ---- outcomes ----------------------------------------------------------------------------------

    async def _delivered(self, lane: Lane, job: Job, status: int) -> None:
        self.delivered.add(job.key)
        record = Delivery(webhook_id=lane.webhook_id, alert_id=job.alert_id, delivered_at=_now(), attempts=job.attempts, status=status)
        await self._record(self.settings.webhook_deliveries_topic, job.key, record.model_dump_json().encode())
        lane.counts["delivered"] += 1
        DELIVERIES.labels("delivered").inc()
        if job.retry_of is not None:
            await self._redelivered(lane, job, job.retry_of)
            return
        self._finish_job(lane, job)

    async def _redelivered(self, lane: Lane, job: Job, retry_of: DeadLetter) -> None:
        again = retry_of.model_copy(update={"state": "redelivered"})
        await self._record(self.settings.webhook_dead_letters_topic, job.key, again.model_dump_json().encode())
        self.dead[job.key] = again
        DELIVERIES.labels("redelivered").inc()
        self._finish_job(lane, job)

    def _give_up(self, lane: Lane, job: Job, outcome: str = "dead_letter") -> None:
        self._spawn(self._dead_letter(lane, job, outcome))

    async def _dead_letter(self, lane: Lane, job: Job, outcome: str = "dead_letter") -> None:
        if job.retry_of is None:
            dead = DeadLetter(
                webhook_id=lane.webhook_id,
                alert_id=job.alert_id,
                store_id=job.store_id,
                kind=job.kind,
                type=job.type,
                body=job.body.decode(),
                attempts=job.attempts,
                last_error=job.last_error,
                dead_at=_now(),
            )
        else:
            dead = job.retry_of.model_copy(
                update={"state": "dead", "attempts": job.retry_of.attempts + job.attempts, "last_error": job.last_error, "dead_at": _now()}
            )
        await self._record(self.settings.webhook_dead_letters_topic, job.key, dead.model_dump_json().encode())
        self.dead[job.key] = dead
        lane.counts[outcome] += 1
        DELIVERIES.labels(outcome).inc()
        log.warning(
            "delivery refused by the address rules, dead-lettered" if outcome == "refused" else "delivery dead-lettered",
            extra={"webhook_id": lane.webhook_id, "alert_id": job.alert_id, "error": job.last_error},
        )
        self._finish_job(lane, job)

    async def _post(self, hook: Webhook, alert_id: str, body: bytes) -> tuple[int | None, str | None, str | None]:
        """(status, error, refused): the receiver's status, or why there was none; ``refused`` when the
        address rules refuse the receiver (then nothing was sent)."""
        url = str(hook.url)
        unopened = self.unopened.get(str(hook.webhook_id))
        if unopened is not None:
            return None, unopened, None
        try:
            target = await self.egress.target(url)  # checked again: the name may resolve elsewhere now
        except RefusedUrl as exc:
            return None, None, f"refused: {exc}"
        except Unresolved as exc:
            return None, f"Unresolved: {exc}", None
        headers = signing.headers(hook.secret, alert_id, int(time.time()), body)
        assert self.http is not None  # set by run()
        try:
            with self.egress.pinned(target):
                r = await self.http.post(
                    url, content=body, headers=headers, timeout=self.settings.webhook_timeout_s, follow_redirects=False
                )
        except RefusedUrl as exc:  # the transport's own check (a connection no delivery check pinned)
            return None, None, f"refused: {exc}"
        except Exception as exc:  # httpx.HTTPError, and the few it does not wrap (an URL it cannot use)
            return None, f"{type(exc).__name__}: {exc}".rstrip(": "), None
        return r.status_code, None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}", None

    async def _record(self, topic: str, key: bytes, value: bytes) -> None:
        """Write an outcome with acks=all, retrying until the broker takes it (the offset waits for it)."""
        delay = 0.2
        self._recording += 1
        try:
            while True:
                written = await self.writer.write(topic, key, value)
                if written.ok:
                    return
                log.warning("could not record a delivery outcome; retrying", extra={"topic": topic, "error": written.error})
                await asyncio.sleep(delay)  # not cut short by stop: an outcome already happened
                delay = min(delay * 2, 5.0)
        finally:
            self._recording -= 1

    # ---- dead-letter retries ---------------------------------------------------------------------------

    def _start_retry(self, key: bytes) -> None:
        dead = self.dead.get(key)
        if dead is None or dead.state != "retry_requested":
            return
        wid = str(dead.webhook_id)
        if wid not in self.hooks:
            log.warning("retry of a dead letter of a deleted webhook ignored", extra={"webhook_id": wid})
            return
        lane = self._lane(wid)
        if key in lane.jobs:
            return
        # Not counted against the bound: the dead letter is held in memory (``self.dead``) anyway.
        job = Job(
            key, str(dead.alert_id), dead.store_id, dead.kind, dead.type, dead.body.encode(), time.monotonic(), retry_of=dead, counted=False
        )
        lane.jobs[key] = job
        lane.ready.append(job)
        self._pump(lane)

    # ---- helpers ------------------------------------------------------------------------------------

    def _spawn(self, coro) -> asyncio.Task:
        assert self._loop is not None  # set by run()
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the notifier is stopping."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
            return True
        except TimeoutError:
            return False


class _WebhookCollector:
    """Per-webhook metrics of the running notifier, from its view (so a deleted webhook's series go)."""

    notifier: weakref.ref | None = None

    def describe(self):
        return []

    def collect(self):
        notifier = self.notifier() if self.notifier is not None else None
        view = notifier._view if notifier is not None else ()
        pending = GaugeMetricFamily("bazaar_notifier_webhook_pending", "Unfinished deliveries of a webhook", labels=["webhook_id"])
        in_flight = GaugeMetricFamily("bazaar_notifier_webhook_in_flight", "POSTs to a webhook under way", labels=["webhook_id"])
        oldest = GaugeMetricFamily(
            "bazaar_notifier_webhook_oldest_pending_seconds", "Age of a webhook's oldest unfinished delivery", labels=["webhook_id"]
        )
        breaker = GaugeMetricFamily(
            "bazaar_notifier_webhook_breaker_state", "A webhook's circuit: 0 closed, 1 half-open (probing), 2 open", labels=["webhook_id"]
        )
        parked = GaugeMetricFamily(
            "bazaar_notifier_webhook_parked_messages",
            "Alert messages a webhook's cursors have still to re-read (its backlog past its bound)",
            labels=["webhook_id"],
        )
        degraded = GaugeMetricFamily(
            "bazaar_notifier_webhook_degraded",
            "1 while a webhook's backlog or oldest pending age is past its threshold",
            labels=["webhook_id"],
        )
        outcomes = CounterMetricFamily(
            "bazaar_notifier_webhook_deliveries",
            "Finished deliveries of a webhook (expired: dead-lettered when re-read from the topic, too old)",
            labels=["webhook_id", "outcome"],
        )
        attempts = CounterMetricFamily(
            "bazaar_notifier_webhook_attempts",
            "Attempts to deliver to a webhook (refused: not sent, its circuit was open)",
            labels=["webhook_id", "result"],
        )
        for w in view:
            wid = w["webhook_id"]
            pending.add_metric([wid], w["pending"])
            in_flight.add_metric([wid], w["in_flight"])
            oldest.add_metric([wid], w["oldest_pending_s"])
            parked.add_metric([wid], w["parked_messages"])
            breaker.add_metric([wid], BREAKER_STATES[w["breaker"]])
            degraded.add_metric([wid], 1 if w["reasons"] else 0)
            for outcome, n in w["deliveries"].items():
                outcomes.add_metric([wid, outcome], n)
            for result, n in w["attempts"].items():
                attempts.add_metric([wid, result], n)
        yield from (pending, in_flight, oldest, parked, breaker, degraded, outcomes, attempts)


_COLLECTOR = _WebhookCollector()
REGISTRY.register(_COLLECTOR)


def _now() -> datetime:
    return datetime.now(UTC)
