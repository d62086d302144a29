"""Read a range of offsets of one partition straight from the broker (confluent-kafka, no group).

During a rebalance Faust can drop messages it had fetched and then resume a partition after them
(an agent notices: a message arrives beyond the next offset it must handle: ``GapGuard``). Seeking
Faust's consumer back does not help, since messages already queued behind the gap move its read
offset past the re-fetched ones and Faust drops those as old. So the agent reads the missing range
itself and handles it before the message that revealed the gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from bazaar_core.kafka import faust_fence
from bazaar_core.kafka.config import consumer_config
from bazaar_core.kafka.groups import gapfill_group_prefix
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.streams.gapfill")
Raw = tuple[int, int, "bytes | None", bytes, list]  # partition, offset, key, value, headers
GAP_READ_TIMEOUT_S = 45.0  # reading skipped offsets (read_range itself gives up after 30 s)


class GapFillError(RuntimeError):
    pass


def read_range(settings: Settings, topic: str, partition: int, start: int, end: int, timeout_s: float = 30.0) -> list[Raw]:
    """Messages with start <= offset < end, in offset order (offsets the log no longer has are absent)."""
    group = f"{gapfill_group_prefix(settings)}{uuid.uuid4().hex[:8]}"  # never commits: only for the protocol
    consumer = Consumer(consumer_config(settings, group, {"enable.partition.eof": True}))
    out: list[Raw] = []
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() > deadline:
                raise GapFillError(f"{topic}[{partition}] {start}..{end - 1}: only {len(out)} messages within {timeout_s} s")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return out  # the log ends before ``end``: nothing more to read
                raise GapFillError(str(msg.error()))
            if msg.offset() >= end:
                return out
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value(), msg.headers() or []))
            if msg.offset() == end - 1:
                return out
    finally:
        consumer.close()


class GapGuard:
    """Notices offsets Faust skipped on the topics an agent reads, and reads them from the broker.

    During a rebalance Faust can drop messages it had fetched and still resume the partition after
    them. ``check(msg)`` is called for each message an agent takes, in offset order per partition:
    when it lies beyond the next offset the agent must handle (what it handled itself, or the
    group's committed offset if that is further: another member may have had the partition), the
    missing range is read with ``read`` (``read_range`` by default) and returned, to be handled
    before ``msg``. Handling a message twice must be harmless (every consumer of these topics is
    idempotent). Only for topics whose offsets are contiguous (no compaction, no transactions):
    there every hole is a skipped message."""

    def __init__(
        self,
        settings: Settings,
        committed: Callable[[Any], int | None],
        on_gap: Callable[[], None] = lambda: None,
        read: Callable[..., list[Raw]] = read_range,
        timeout_s: float = GAP_READ_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.committed = committed  # tp -> the group's committed offset (the next to read), or None
        self.on_gap = on_gap
        self.read = read
        self.timeout_s = timeout_s
        self.expected: dict[Any, int] = {}  # per tp: the next offset this process must handle

    @classmethod
    def of_app(cls, app: Any, settings: Settings, on_gap: Callable[[], None]) -> GapGuard:
        """For an agent of Faust app ``app``: the floor is its consumer's committed offset."""
        return cls(settings, lambda tp: faust_fence.committed_offset(app.consumer, tp), on_gap)

    async def check(self, msg: Any) -> list[Raw]:
        tp, offset = msg.tp, msg.offset
        floor = self.expected.get(tp, 0)
        committed = self.committed(tp) or 0
        if committed > floor:
            floor = committed
        self.expected[tp] = max(offset + 1, floor)
        if offset <= floor:
            return []
        self.on_gap()
        log.warning(
            "offsets skipped before this message; reading them from the broker",
            extra={"topic": msg.topic, "partition": msg.partition, "from": floor, "to": offset},
        )
        # bounded: a read that hangs (seen once, cause unknown) raises, and the agent's process restarts and replays
        filled = await asyncio.wait_for(
            asyncio.to_thread(self.read, self.settings, msg.topic, msg.partition, floor, offset), self.timeout_s
        )
        log.warning("skipped offsets read from the broker", extra={"topic": msg.topic, "partition": msg.partition, "messages": len(filled)})
        return filled
