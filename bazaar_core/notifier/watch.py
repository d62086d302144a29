"""What the notifier's probes judge (``/ready``, ``/livez``; ``domain.probes`` decides): how far its
alerts consumer is behind the topic, when it last moved, and when its loops last turned.

The notifier's HTTP port is served by a thread of its own, so a page answering says nothing of the
rest: the event loop proves it turns by its view refresher (every ``VIEW_EVERY_S``), the consumer
loop by each poll, and the consumer is measured every ``LAG_EVERY_S`` (high watermark minus its
position, per assigned partition, asked of the broker from the consumer's own pool).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from bazaar_core.settings import Settings
from domain import probes

LAG_EVERY_S = 1.0
LAG_FRESH_S = 10.0  # a lag measured longer ago than this is not known (the broker may be away)
LAG_TIMEOUT_S = 2.0  # one watermark or committed-offset query
FEED = "alerts"
EVENT_LOOP, CONSUMER_LOOP = "event loop", "alerts consumer loop"


class ConsumerWatch:
    def __init__(self) -> None:
        now = time.monotonic()
        self.turned = {EVENT_LOOP: now, CONSUMER_LOOP: now}  # loop -> when it last turned
        self.behind: int | None = None
        self.measured_at: float | None = None
        self.moved_at = now  # when the consumer last took messages, or was found with none to take
        self.paused = False  # the consumer waits for the broker to take outcome records

    def turn(self, loop: str) -> None:
        self.turned[loop] = time.monotonic()

    def moved(self) -> None:
        self.moved_at = time.monotonic()

    def measure(self, consumer: Consumer, topic: str, partitions: list[int], stopping: Callable[[], bool]) -> None:
        """Messages of the assigned partitions not read yet (blocking: the broker is asked); nothing
        is recorded when nothing is assigned or the broker does not answer (``KafkaException``)."""
        if not partitions:
            return
        positions = consumer.position([TopicPartition(topic, p) for p in partitions])
        unread = [tp for tp in positions if tp.offset < 0]  # nothing read since the assignment
        committed = {tp.partition: tp.offset for tp in consumer.committed(unread, timeout=LAG_TIMEOUT_S)} if unread else {}
        behind = 0
        for tp in positions:
            if stopping():
                return
            low, high = consumer.get_watermark_offsets(tp, timeout=LAG_TIMEOUT_S, cached=False)
            at = tp.offset if tp.offset >= 0 else committed.get(tp.partition, -1)
            behind += max(0, high - (at if at >= 0 else low))
        now = time.monotonic()
        self.behind, self.measured_at = behind, now
        if behind == 0:  # nothing to do is not being stuck: idle counts from when work came
            self.moved_at = now

    def feed(self, consuming: bool, now: float) -> probes.Feed:
        measured = consuming and self.measured_at is not None
        return probes.Feed(
            FEED,
            self.behind if measured else None,
            now - self.measured_at if measured and self.measured_at is not None else None,
            now - self.moved_at,
            waiting=self.paused,
        )

    def readiness(self, consuming: bool, settings: Settings) -> probes.Verdict:
        """Caught up: consuming, assigned, measured lately and at most ``notifier_ready_lag`` behind."""
        return probes.readiness([self.feed(consuming, time.monotonic())], settings.notifier_ready_lag, LAG_FRESH_S)

    def liveness(self, consuming: bool, settings: Settings) -> probes.Verdict:
        """Not stuck: the event loop turns, the consumer loop turns (once consuming), and the consumer
        is not behind and idle, each for ``notifier_stall_s``."""
        now = time.monotonic()
        loops = {EVENT_LOOP: now - self.turned[EVENT_LOOP]}
        if consuming:
            loops[CONSUMER_LOOP] = now - self.turned[CONSUMER_LOOP]
        return probes.liveness([self.feed(consuming, now)], settings.notifier_stall_s, LAG_FRESH_S, loops)
