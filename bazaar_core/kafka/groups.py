"""The names of every consumer group the processes use, in one place (the ACLs grant them by name).

Groups that commit offsets have fixed names (``Settings.group_id`` for the stock workers,
``analytics_group``, ``notifier_group``). Readers that only assign partitions and never commit (the
followers of compacted topics, gap fills, the notifier's parked-webhook cursors, the dead-letter
reader) take a fresh name per run under a prefix of their own, granted as a prefixed ACL.
"""

from __future__ import annotations

from bazaar_core.settings import Settings


def follower_group_prefix(settings: Settings, name: str) -> str:
    """A ``TopicFollower`` named ``name`` (each process's views have names of their own)."""
    return f"{settings.topic_prefix}-follow-{name}-"


def gapfill_group_prefix(settings: Settings) -> str:
    """Reading the offsets Faust skipped in a rebalance (``bazaar_core.kafka.gapfill``)."""
    return f"{settings.topic_prefix}-gapfill-"


def parked_group_prefix(settings: Settings) -> str:
    """The notifier's cursor re-reading alerts for a webhook whose deliveries are parked."""
    return f"{settings.notifier_group}-parked-"


def dlq_reader_group(settings: Settings) -> str:
    """``bazaar dlq``: reads the dead letters from the beginning, never commits."""
    return f"{settings.topic_prefix}-dlq-reader"


def repartition_reader_group(settings: Settings) -> str:
    """``bazaar repartition``: reads the old generation's topics (and the progress), never commits."""
    return f"{settings.topic_prefix}-repartition-reader-"
