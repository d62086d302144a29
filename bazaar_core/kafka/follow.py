"""``TopicFollower``: read topics from the beginning in a thread, then keep following them.

The views of the API (catalog, alerts, webhooks) and the notifier's memory of deliveries are
built this way from compacted topics. Every record is handed to ``on_record`` in offset order per
partition, on the follower's thread. ``ready`` becomes true once every partition was read up to
the high watermark found when the follower was assigned (so a restarted process never answers
from a half-read catalog); ``wait_caught_up`` waits for the watermarks of *now* (read-after-write
across processes). A missing topic is created with the app's spec, never auto-created.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.config import consumer_config
from bazaar_core.kafka.groups import follower_group_prefix
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.streams.follow")

CALL_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone


class TopicFollower:
    def __init__(
        self,
        settings: Settings,
        topics: dict[str, int],
        on_record: Callable[[Record], None],
        *,
        configs: dict[str, dict[str, str]] | None = None,
        name: str = "follower",
    ) -> None:
        self.settings, self.topics, self.configs = settings, topics, configs or {}
        self.on_record, self.name = on_record, name
        self._positions: dict[tuple[str, int], int] = {}
        self._targets: dict[tuple[str, int], int] | None = None
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._meta_lock = threading.Lock()
        self._meta: Consumer | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"follow-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end (``stop`` also waits for it): stop several followers at once."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._meta_lock:
            if self._meta is not None:
                self._meta.close()
                self._meta = None

    @property
    def group_prefix(self) -> str:
        """What the names of this follower's consumer groups start with (the ACLs grant that prefix)."""
        return follower_group_prefix(self.settings, self.name)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def lag(self) -> int | None:
        """Records between the start-up watermarks and what was read (None before assignment)."""
        with self._cond:
            if self._targets is None:
                return None
            return sum(max(0, t - self._positions.get(tp, 0)) for tp, t in self._targets.items())

    # ---- read-after-write across processes -----------------------------------------------------

    def wait_caught_up(self, timeout: float) -> bool:
        """Block until every record on the topics *now* was handed to ``on_record`` (or timeout)."""
        deadline = time.monotonic() + timeout
        if not self._ready.wait(timeout):
            return False
        try:
            targets = self._watermarks(self._meta_consumer(), timeout=max(0.1, deadline - time.monotonic()))
        except KafkaException:
            return False
        with self._cond:
            while not self._reached(targets):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    async def caught_up(self, timeout: float) -> bool:
        return await asyncio.to_thread(self.wait_caught_up, timeout)

    # ---- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        # a group of its own that never commits: its members read from the beginning every time
        group = f"{self.group_prefix}{uuid.uuid4().hex}"
        consumer = Consumer(consumer_config(self.settings, group, {"enable.partition.eof": True}))
        try:
            while not self._stop.is_set():
                try:
                    if self._targets is None:
                        self._assign(consumer)
                        continue
                    for msg in consumer.consume(500, 0.2):
                        self._handle(msg)
                    with self._cond:
                        self._cond.notify_all()
                        if not self._ready.is_set() and self._reached(self._targets):
                            self._ready.set()
                            log.info("caught up", extra={"view": self.name})
                except KafkaException as exc:
                    log.warning("kafka error; retrying", extra={"view": self.name, "error": str(exc)})
                    self._stop.wait(1.0)
        except Exception:  # a bug in on_record: say so loudly, the view stops moving
            log.exception("follower crashed", extra={"view": self.name})
            raise
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> None:
        ensure_topics(self.settings, self.topics, self.configs, CALL_TIMEOUT_S * 5, list_timeout=CALL_TIMEOUT_S)
        targets = self._watermarks(consumer, CALL_TIMEOUT_S * 2)
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in targets])
        with self._cond:
            self._targets = targets
            self._positions = dict.fromkeys(targets, 0)

    def _handle(self, msg) -> None:
        err = msg.error()
        tp = (msg.topic(), msg.partition())
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                with self._cond:
                    self._positions[tp] = max(self._positions.get(tp, 0), msg.offset())
                return
            raise KafkaException(err)
        self.on_record(Record(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()))
        with self._cond:
            self._positions[tp] = max(self._positions.get(tp, 0), msg.offset() + 1)

    # ---- helpers -------------------------------------------------------------------------------

    def _reached(self, targets: dict[tuple[str, int], int]) -> bool:
        return all(self._positions.get(tp, 0) >= t for tp, t in targets.items())

    def _watermarks(self, consumer: Consumer, timeout: float) -> dict[tuple[str, int], int]:
        md = consumer.list_topics(timeout=timeout)
        out = {}
        for topic in self.topics:
            meta = md.topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"topic {topic} not ready"))
            for p in meta.partitions:
                out[(topic, p)] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
        return out

    def _meta_consumer(self) -> Consumer:
        with self._meta_lock:
            if self._meta is None:
                self._meta = Consumer(consumer_config(self.settings, f"{self.group_prefix}meta-{uuid.uuid4().hex}", polled=False))
            return self._meta
