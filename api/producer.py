"""The API's Kafka producer: idempotent, acks=all, awaited from asyncio.

A background thread polls librdkafka; each request's messages share one ``_Acks``: every delivery
report fills in its message's result, and the last one resolves the request's asyncio future on
the loop that produced it (one ``loop.call_soon_threadsafe`` per request, not per message). Broker
health is a flag, ``is_down``:

* it is set by a metadata probe (``list_topics``) that fails, which the monitor thread runs at
  start, whenever librdkafka reports ``_ALL_BROKERS_DOWN`` or a delivery fails, and about once a
  second while the broker is down;
* it is cleared by any successful probe or delivery.

While the broker is known to be down, ``send_many`` fails at once, and the futures still waiting
for acks are failed too, so a POST answers 503 in well under a second instead of waiting for
``message.timeout.ms``. Messages already handed to librdkafka may still be delivered later;
clients re-send, and event ids dedupe downstream.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Producer

from bazaar_core.kafka.config import producer_config
from bazaar_core.kafka.writer import Written
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.api.producer")

Headers = list[tuple[str, bytes]]
Item = tuple[bytes, bytes, Headers]  # key, value, headers

BROKER_DOWN = "broker unavailable"
QUEUE_FULL = "producer queue full"
TIMED_OUT = "timed out waiting for the broker's ack"


DeliveryResult = Written  # where a message landed (partition, offset) or why it did not (error)


class EventProducer:
    def __init__(
        self,
        settings: Settings,
        *,
        probe_ttl_s: float = 1.0,
        probe_timeout_s: float = 0.5,
        queue_full_wait_s: float = 1.0,
    ) -> None:
        self.topic = settings.events_topic
        self._config = producer_config(settings)  # the defaults: lz4, linger 5 ms, produce_timeout_s
        self._probe_ttl = probe_ttl_s
        self._probe_timeout = probe_timeout_s
        self._queue_full_wait = queue_full_wait_s
        self._producer: Producer | None = None
        self._down = False
        self._probed_at = float("-inf")
        self._probe_ok = False
        self._delivered_at = float("-inf")  # last successful delivery: fresher news than a failed probe
        self._probe_lock = threading.Lock()
        self._pending: set[_Acks] = set()  # requests waiting for acks
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_monitor = threading.Event()
        self._threads: list[threading.Thread] = []
        # serves delivery reports on the event loop while requests wait: timer callbacks on that loop
        self._pump_loop: asyncio.AbstractEventLoop | None = None
        self._pump_timer: asyncio.Handle | None = None
        self._pump_idle = PUMP_INTERVAL_S
        self._pump_active = False
        # no ack comes sooner than librdkafka's linger after a produce: the pump's first look
        self._first_ack_s = min(0.05, float(self._config.get("linger.ms", 0)) / 1000) or PUMP_INTERVAL_S

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._producer = Producer({**self._config, "error_cb": self._on_error})
        self._threads = [
            threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True),
            threading.Thread(target=self._monitor_loop, name="kafka-monitor", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued (bounded by ``timeout``), then stop the threads."""
        if self._producer is None:
            return
        if not self._down:
            self._producer.flush(timeout)
        self._stop.set()
        self._wake_monitor.set()
        for t in self._threads:
            t.join(timeout)
        self._fail_pending(BROKER_DOWN)
        self._producer = None

    # ---- health ----------------------------------------------------------------------------

    @property
    def is_down(self) -> bool:
        return self._down

    def probe(self, max_age: float | None = None) -> bool:
        """Whether a broker answered a metadata request; cached for ``probe_ttl_s``. Blocking.

        While another thread is probing, the last result is returned instead of waiting for it
        (only the very first probe is waited for).
        """
        max_age = self._probe_ttl if max_age is None else max_age
        never = self._probed_at == float("-inf")
        if not never and time.monotonic() - self._probed_at < max_age:
            return self._probe_ok
        if not self._probe_lock.acquire(blocking=never):
            return self._probe_ok
        try:
            if time.monotonic() - self._probed_at >= max_age:
                started = time.monotonic()
                answered = self._metadata_answers()
                # a delivery acked while this probe ran proves the broker is back (a reconnect
                # backoff can fail a probe a moment after the producer's own connection recovered)
                self._probe_ok, self._probed_at = answered or self._delivered_at >= started, time.monotonic()
            ok = self._probe_ok
        finally:
            self._probe_lock.release()
        self._set_down(not ok)
        return ok

    def _metadata_answers(self) -> bool:
        if self._producer is None:
            return False
        try:
            self._producer.list_topics(timeout=self._probe_timeout)
            return True
        except KafkaException:
            return False

    async def check(self) -> bool:
        return await asyncio.to_thread(self.probe)

    # ---- sending ---------------------------------------------------------------------------

    async def send_many(self, items: Sequence[Item], timeout: float) -> list[DeliveryResult]:
        """Produce every item and wait for every ack (or ``timeout``). One result per item, in order."""
        if self._down or self._producer is None:
            return [DeliveryResult(error=BROKER_DOWN)] * len(items)
        if not items:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        acks = _Acks(len(items), loop)
        with self._pending_lock:
            self._pending.add(acks)
        produce, on_delivery = self._producer.produce, self._on_delivery
        try:
            for i, (key, value, headers) in enumerate(items):
                report = partial(on_delivery, acks, i)
                handed = False
                if not self._down:
                    try:
                        produce(self.topic, value=value, key=key, headers=headers, on_delivery=report)
                        handed = True
                    except BufferError:
                        handed = await self._produce_when_room(key, value, headers, report, loop, deadline)
                if not handed:
                    acks.set(i, DeliveryResult(error=BROKER_DOWN if self._down else QUEUE_FULL))
            future = acks.future
            if not future.done():
                self._pump_on(loop)
                # resolved by the last ack, or by this timer at the deadline (missing results then time out)
                timer = loop.call_at(deadline, _done, future)
                try:
                    await future
                finally:
                    timer.cancel()
        finally:
            with self._pending_lock:
                self._pending.discard(acks)
        return acks.results(TIMED_OUT)

    async def _produce_when_room(self, key, value, headers, on_delivery, loop, deadline) -> bool:
        """librdkafka's queue is full: wait briefly for room (the poll thread drains delivery reports
        meanwhile), then give up."""
        give_up = min(deadline, loop.time() + self._queue_full_wait)
        while not self._down and loop.time() < give_up:
            await asyncio.sleep(0.01)
            producer = self._producer
            if producer is None:  # closed meanwhile
                return False
            try:
                producer.produce(self.topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                return True
            except BufferError:
                pass
        return False

    # ---- callbacks (poll thread) -------------------------------------------------------------

    def _on_delivery(self, acks: _Acks, index: int, err: KafkaError | None, msg) -> None:
        if err is None:
            self._delivered_at = self._probed_at = time.monotonic()
            self._probe_ok = True
            if self._down:
                self._set_down(False)
            acks.set(index, DeliveryResult(partition=msg.partition(), offset=msg.offset()))
        else:
            self._wake_monitor.set()
            acks.set(index, DeliveryResult(error=err.str()))

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._wake_monitor.set()  # confirm with a probe; an idle disconnect is not an outage
        if err.fatal():
            log.error("fatal producer error: %s", err.str())
        else:
            log.debug("producer error: %s", err.str())

    # ---- internals ---------------------------------------------------------------------------

    def _pump_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """While requests wait for acks, serve delivery reports on the event loop: ``producer.poll(0)``
        from a timer callback, at once again after it served any, else after 1, 2, then every 4 ms
        (acks take a linger and a broker round trip), the first look a linger after the pump starts.
        Served by the poll thread instead, each report would take the GIL from the loop and wake it
        through its self-pipe: that hand-over cost more CPU per request than parsing its events. A
        timer callback, not a task sleeping in a loop: a wake then makes no future or task step."""
        if self._pump_active and self._pump_loop is loop and not loop.is_closed():
            return
        self._pump_loop, self._pump_active, self._pump_idle = loop, True, PUMP_INTERVAL_S
        self._pump_timer = loop.call_later(self._first_ack_s, self._pump_tick)

    def _pumping(self) -> bool:
        loop = self._pump_loop  # (a loop that stopped never runs its timers: do not count on it)
        return self._pump_active and loop is not None and loop.is_running()

    def _pump_tick(self) -> None:
        loop, producer = self._pump_loop, self._producer
        if loop is None or producer is None or not self._pending or self._stop.is_set():
            self._pump_active, self._pump_timer = False, None
            return
        served = 0
        try:
            served = producer.poll(0)
        finally:  # (a report's callback that raised must not leave the pump stopped but counted as running)
            if served:
                self._pump_idle = PUMP_INTERVAL_S
                self._pump_timer = loop.call_soon(self._pump_tick)
            else:
                self._pump_timer = loop.call_later(self._pump_idle, self._pump_tick)
                self._pump_idle = min(self._pump_idle * 2, PUMP_INTERVAL_S * 4)

    def _poll_loop(self) -> None:
        """Delivery reports and errors when no request waits (the loop's pump serves them otherwise)."""
        producer = self._producer  # (close() sets None after stopping this thread)
        while producer is not None and not self._stop.is_set():
            if self._pumping():
                self._stop.wait(PUMP_INTERVAL_S * 20)
            else:
                producer.poll(0.1)

    def _monitor_loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake_monitor.wait(self._probe_ttl)
            self._wake_monitor.clear()
            if self._stop.is_set():
                return
            if woken or self._down:
                self.probe(max_age=0.0 if woken else None)

    def _set_down(self, down: bool) -> None:
        if down and not self._down:
            log.warning("kafka broker unreachable: %s", self._config["bootstrap.servers"])
            self._down = True
            self._fail_pending(BROKER_DOWN)
        elif not down and self._down:
            log.info("kafka broker reachable again")
            self._down = False

    def _fail_pending(self, reason: str) -> None:
        with self._pending_lock:
            pending = list(self._pending)
        for acks in pending:
            acks.fail(DeliveryResult(error=reason))


PUMP_INTERVAL_S = 0.001


class _Acks:
    """The delivery results of one request's messages; its future is resolved (on the request's
    loop) once every message has a result. Filled in by the poll thread, or by the request itself."""

    __slots__ = ("future", "_loop", "_thread", "_results", "_missing", "_lock")

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self.future: asyncio.Future = loop.create_future()
        self._loop = loop
        self._thread = threading.get_ident()  # made by a request, on its loop's thread
        self._results: list[DeliveryResult | None] = [None] * count
        self._missing = count
        self._lock = threading.Lock()

    def set(self, index: int, result: DeliveryResult) -> None:
        with self._lock:
            if self._results[index] is not None:
                return
            self._results[index] = result
            self._missing -= 1
            done = self._missing == 0
        if done:
            self._resolve()

    def fail(self, result: DeliveryResult) -> None:
        """Every message still without a result gets this one (the broker is down)."""
        with self._lock:
            missing = self._missing
            self._results = [r or result for r in self._results]
            self._missing = 0
        if missing:
            self._resolve()

    def results(self, missing: str) -> list[DeliveryResult]:
        with self._lock:
            return [r or DeliveryResult(error=missing) for r in self._results]

    def _resolve(self) -> None:
        if self._loop.is_closed():  # nobody waits any more
            return
        try:
            # on the loop's own thread while it runs (the pump): at once. (Not get_running_loop():
            # in this Python it asks the kernel for the process id on every call.)
            if threading.get_ident() == self._thread and self._loop.is_running():
                _done(self.future)
            else:
                self._loop.call_soon_threadsafe(_done, self.future)
        except RuntimeError:  # the loop closed meanwhile
            pass


def _done(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
