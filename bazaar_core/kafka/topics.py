"""Every topic the app uses, with its partition count, replication and configuration, and the
pure checks of what a cluster holds against that (``topic_differences``, ``co_partitioning_problem``).

Every topic is created by ``bazaar_core.kafka.admin.ensure_topics`` from these, replicated
``replication_factor`` times, with ``min.insync.replicas`` and no unclean leader election: Faust's
own topics (the stock changelog, each app's ``__assignor-__leader``) included, so nothing is ever
created with Faust's or the broker's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bazaar_core.settings import Settings
from domain.events import DIGEST_HEADER, LEG_HEADER  # noqa: F401  (re-exported: the wire's header names)


def stock_changelog(settings: Settings) -> str:
    """Faust's name for the stock table's changelog (``{app id}-{table}-changelog``). It is created
    with the other topics, so workers starting together never race to create it."""
    return f"{settings.group_id}-stock-changelog"


def leader_topics(settings: Settings) -> list[str]:
    """Faust's ``{app id}-__assignor-__leader`` topic of the stock workers' and the analytics app.
    Created here with the others so that Faust finds it and never declares it with its own configs."""
    return [f"{app}-__assignor-__leader" for app in (settings.group_id, settings.analytics_group)]


def co_partitioned(settings: Settings) -> list[str]:
    """The topics a stock worker reads or writes partition by partition: a store's events, its
    stock in the changelog, its ledger lines and alerts all live in partitions of the same number."""
    return [settings.events_topic, stock_changelog(settings), settings.ledger_topic, settings.alerts_topic]


def topic_specs(settings: Settings) -> dict[str, int]:
    """Topics created idempotently before any process starts (name -> partitions)."""
    return {
        stock_changelog(settings): settings.partitions,
        **dict.fromkeys(leader_topics(settings), 1),
        settings.events_topic: settings.partitions,
        settings.ledger_topic: settings.partitions,
        settings.alerts_topic: settings.partitions,
        settings.products_topic: 1,
        settings.stores_topic: 1,
        settings.store_products_topic: 1,
        settings.alert_acks_topic: 1,
        settings.webhooks_topic: 1,
        settings.webhook_deliveries_topic: 1,
        settings.webhook_dead_letters_topic: 1,
        settings.uncatalogued_topic: 1,
        settings.dead_letters_topic: 1,
        settings.credentials_topic: 1,
        settings.pairing_codes_topic: 1,
        settings.revocations_topic: 1,
    }


def durability_configs(settings: Settings) -> dict[str, str]:
    """What every topic is created with, whatever else it sets: an ``acks=all`` write is acknowledged
    once ``min.insync.replicas`` replicas have it, and a replica that was out of sync never becomes
    leader (it would drop what the others acknowledged)."""
    return {"min.insync.replicas": str(settings.min_insync_replicas), "unclean.leader.election.enable": "false"}


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Each topic's configuration (name -> Kafka's config names and values), durability included."""
    durable = durability_configs(settings)
    own = _own_configs(settings) | {name: {} for name in leader_topics(settings)}
    return {name: {**configs, **durable} for name, configs in own.items()}


def _own_configs(settings: Settings) -> dict[str, dict[str, str]]:
    # The events topic is the system of record: keep it, so analytics can be rebuilt from it.
    compacted = {"cleanup.policy": "compact"}
    return {
        stock_changelog(settings): compacted,
        settings.events_topic: {"retention.ms": "-1"},
        settings.ledger_topic: {"retention.ms": "-1"},
        settings.alerts_topic: {"retention.ms": "-1"},
        settings.products_topic: compacted,
        settings.stores_topic: compacted,
        settings.store_products_topic: compacted,
        settings.alert_acks_topic: compacted,
        settings.webhooks_topic: compacted,
        settings.webhook_deliveries_topic: compacted,
        settings.webhook_dead_letters_topic: compacted,
        settings.uncatalogued_topic: compacted,
        settings.dead_letters_topic: compacted,
        settings.credentials_topic: compacted,
        settings.pairing_codes_topic: compacted,
        settings.revocations_topic: compacted,
    }


# ---- what a cluster holds against what the code expects --------------------------------------------


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster describes it."""

    partitions: int
    replication: int  # the fewest replicas any of its partitions has
    configs: dict[str, str] = field(default_factory=dict)


def topic_differences(settings: Settings, found: dict[str, TopicState]) -> list[str]:
    """One line per way a topic of ``topic_specs`` differs from what the code expects (missing, its
    partitions, its replication, each config of ``topic_configs``); empty when all agree."""
    configs = topic_configs(settings)
    out = []
    for name, partitions in topic_specs(settings).items():
        state = found.get(name)
        if state is None:
            out.append(f"{name}: missing")
            continue
        if state.partitions != partitions:
            out.append(f"{name}: {state.partitions} partitions, expected {partitions}")
        if state.replication != settings.replication_factor:
            out.append(f"{name}: replication factor {state.replication}, expected {settings.replication_factor}")
        for key, want in sorted(configs.get(name, {}).items()):
            got = state.configs.get(key)
            if got != want:
                out.append(f"{name}: {key}={got}, expected {want}")
    return out


def co_partitioning_problem(settings: Settings, partitions: dict[str, int]) -> str | None:
    """Why a stock worker must not start on topics with these partition counts (name -> count), or
    None. A topic of ``co_partitioned`` that does not exist yet is left out (the worker creates it)."""
    events = settings.events_topic
    if events not in partitions:
        return None
    mismatched = {t: partitions[t] for t in co_partitioned(settings)[1:] if t in partitions and partitions[t] != partitions[events]}
    if not mismatched:
        return None
    listed = ", ".join(f"{t} has {n}" for t, n in mismatched.items())
    return (
        f"the events topic {events} has {partitions[events]} partitions but {listed}: a store's events, stock "
        "changelog, ledger and alerts must be in partitions of the same number (co-partitioning), or its stock "
        "would be recovered from another store's changelog; recreate the topics with the same partition count "
        "(BAZAAR_PARTITIONS) or move them to a new count together"
    )
