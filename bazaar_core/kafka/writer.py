"""``RecordWriter``: write keyed records to any topic (idempotent, acks=all), awaited from asyncio.

Used for the catalog, acks, webhooks, deliveries and dead letters. A background thread polls
librdkafka; each delivery report resolves its future on the loop that wrote it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import NamedTuple

from confluent_kafka import Producer

from bazaar_core.kafka.config import producer_config, timeout_ms
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.streams.writer")


class Written(NamedTuple):
    """Where a record landed, or why it did not (a tuple: made for every message the API acks)."""

    partition: int | None = None
    offset: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


Out = tuple[str, bytes, bytes | None]  # topic, key, value (None: tombstone)


class PolledProducer:
    """A confluent-kafka Producer with a background thread serving its delivery reports."""

    _thread_name = "producer-poll"
    _poll_s = 0.1

    def __init__(self, config: dict) -> None:
        self._config = config
        self._producer: Producer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._producer = Producer(self._config)
        self._thread = threading.Thread(target=self._poll, name=self._thread_name, daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        if self._producer is None:
            return
        self._producer.flush(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._producer = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            producer = self._producer
            if producer is None:
                return
            producer.poll(self._poll_s)


class RecordWriter(PolledProducer):
    _thread_name = "writer-poll"

    def __init__(self, settings: Settings, timeout_s: float | None = None) -> None:
        self.timeout_s = settings.produce_timeout_s if timeout_s is None else timeout_s
        # a catalog PUT, an ack or a delivery outcome waits for its one record: batch for 2 ms, not 5
        super().__init__(producer_config(settings, {"linger.ms": 2, "message.timeout.ms": timeout_ms(self.timeout_s)}))

    async def write(self, topic: str, key: bytes, value: bytes | None) -> Written:
        [result] = await self.write_many([(topic, key, value)])
        return result

    async def write_many(self, items: Sequence[Out]) -> list[Written]:
        """Write every record and wait for every ack (bounded by the writer's timeout)."""
        if self._producer is None:
            return [Written(error="writer closed")] * len(items)
        loop = asyncio.get_running_loop()
        futures = []
        for topic, key, value in items:
            fut = loop.create_future()
            futures.append(fut)
            try:
                self._producer.produce(topic, key=key, value=value, on_delivery=self._report(fut, loop))
            except Exception as exc:  # BufferError (queue full), or a closed/failed producer
                fut.set_result(Written(error=f"{type(exc).__name__}: {exc}"))
        done, _ = await asyncio.wait(futures, timeout=self.timeout_s + 1.0) if futures else (set(), set())
        return [f.result() if f.done() else Written(error="timed out waiting for the broker's ack") for f in futures]

    @staticmethod
    def _report(fut: asyncio.Future, loop: asyncio.AbstractEventLoop):
        def on_delivery(err, msg) -> None:
            result = Written(error=err.str()) if err is not None else Written(msg.partition(), msg.offset())
            try:
                loop.call_soon_threadsafe(lambda: None if fut.done() else fut.set_result(result))
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        return on_delivery
