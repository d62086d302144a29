"""Corrections to faust-streaming's offset commits, applied when the stream app is built.

Faust computes the offset to commit from the list of acked offsets. Its check for a hole at the
head of that list (``_new_offset``) is skipped while the committed offset is None or 0 (``if
committed_offset:``) and is off by one otherwise (the committed offset is the *next* offset to
read, yet it allows ``min(acked) == committed + 1``). During a rebalance, messages fetched in the
old generation are skipped without being applied, so the next commit could jump past an event no
worker ever applied: our tests lost the first event of a partition that way. Here a commit never
passes an offset that was not acked. Together with ``seed_committed_offsets`` (every partition of
the group has a committed offset before any worker starts), the check always has a floor.
"""
from __future__ import annotations

import logging
from typing import Optional

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.utils.functional import consecutive_numbers

log = logging.getLogger("bazaar.streams.faust_fixes")


def _new_offset(self: Consumer, tp: TP) -> Optional[int]:
    acked = self._acked[tp]
    if not acked:
        return None
    max_offset = max(acked)
    gap_for_tp = self._gap[tp]
    if gap_for_tp:  # offsets the fetcher knows are absent (compaction, control records): count as acked
        candidates = sorted(gap_for_tp.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            stuff_to_add = [o for entry in candidates for o in range(entry.begin, entry.end)]
            acked.extend(stuff_to_add)
            gap_for_tp.chop(0, max(stuff_to_add[-1], max_offset + 1))
    acked.sort()
    committed = self._committed_offset[tp]  # the next offset to read
    if committed is not None and acked[0] > committed:
        return None  # the offset ``committed`` was never acked: wait for it (it is re-fetched after a seek)
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return batch[-1] + 1


def apply() -> None:
    Consumer._new_offset = _new_offset


def seed_committed_offsets(bootstrap: str, group_id: str, topic: str, partitions: int) -> None:
    """Commit each partition's low watermark for a group that has no commit there yet, so Faust's
    commit check has a floor from the first event on. A group with live members refuses the
    change; then another worker did it already, which is fine."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group_id, [TopicPartition(topic, p) for p in range(partitions)])
    try:
        current = admin.list_consumer_group_offsets([request])[group_id].result(timeout=10)
    except KafkaException as exc:
        log.warning("could not read the group's offsets", extra={"error": str(exc)})
        return
    missing = [tp.partition for tp in current.topic_partitions if tp.offset < 0]
    if not missing:
        return
    from confluent_kafka import Consumer as KafkaConsumer

    probe = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": f"{group_id}-seed"})
    try:
        lows = {p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0] for p in missing}
    finally:
        probe.close()
    seeds = ConsumerGroupTopicPartitions(group_id, [TopicPartition(topic, p, lows[p]) for p in missing])
    try:
        admin.alter_consumer_group_offsets([seeds])[group_id].result(timeout=10)
    except KafkaException as exc:
        log.info("group offsets not seeded (another member is active)", extra={"error": str(exc)})
