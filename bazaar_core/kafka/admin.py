"""Creating the app's topics (``ensure_topics``): at each process's start, by ``bazaar topics`` and
by the followers of compacted topics, so that no topic is ever auto-created with broker defaults.
Every topic is replicated ``replication_factor`` times with ``durability_configs``. Reading them
back: ``describe_topics`` (for ``bazaar topics --check``) and ``require_co_partitioning`` (a stock
worker's start).

On a secured cluster only the admin principal may create topics (bazaar_core/kafka/acls.py): the
admin runs ``bazaar topics`` once, and a process that may not create a topic leaves it to the admin
instead of failing at start (a topic it needs and cannot find fails where it is used).
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from bazaar_core.kafka.config import admin_config
from bazaar_core.kafka.topics import TopicState, co_partitioned, co_partitioning_problem, durability_configs
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.kafka.admin")


class TopicSetupError(RuntimeError):
    """The topics cannot be what the settings ask (too few brokers for the replication factor,
    co-partitioned topics of different partition counts)."""


def ensure_topics(
    settings: Settings,
    specs: dict[str, int],
    configs: dict[str, dict[str, str]] | None = None,
    timeout: float = 30.0,
    *,
    list_timeout: float | None = None,
) -> None:
    """Create each topic ``name -> partitions`` (its config from ``configs``, over
    ``durability_configs``) that does not exist yet, with ``settings.replication_factor`` replicas.
    Raises ``TopicSetupError`` when fewer brokers answer than that, ``KafkaException`` on any other
    failure but a topic created meanwhile or one this principal is not allowed to create."""
    if not specs:
        return
    configs = configs or {}
    durable = durability_configs(settings)
    admin = AdminClient(admin_config(settings))
    metadata = admin.list_topics(timeout=timeout if list_timeout is None else list_timeout)
    missing = [
        NewTopic(name, partitions, replication_factor=settings.replication_factor, config={**durable, **configs.get(name, {})})
        for name, partitions in specs.items()
        if name not in metadata.topics
    ]
    if not missing:
        return
    if len(metadata.brokers) < settings.replication_factor:
        raise TopicSetupError(too_few_brokers(settings, len(metadata.brokers), [t.topic for t in missing]))
    refused = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout, request_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                refused.append(name)
            elif code != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    if refused:
        log.info("not allowed to create topics; the admin creates them (bazaar topics)", extra={"topics": sorted(refused)})


def too_few_brokers(settings: Settings, brokers: int, topics: list[str]) -> str:
    return (
        f"BAZAAR_REPLICATION_FACTOR={settings.replication_factor} but {brokers} broker(s) answer at "
        f"{settings.kafka_bootstrap}: cannot create {len(topics)} topic(s) ({', '.join(sorted(topics)[:3])}"
        f"{', ...' if len(topics) > 3 else ''}); start the cluster's other brokers (`bazaar kafka --nodes "
        f"{settings.replication_factor}`), or lower BAZAAR_REPLICATION_FACTOR (and BAZAAR_MIN_INSYNC_REPLICAS)"
    )


def describe_topics(settings: Settings, names: list[str], timeout: float = 30.0) -> dict[str, TopicState]:
    """Each of ``names`` that exists: its partitions, the fewest replicas any partition has, and its
    configuration (every value in effect, the broker's defaults included)."""
    admin = AdminClient(admin_config(settings))
    metadata = admin.list_topics(timeout=timeout)
    present = [n for n in names if n in metadata.topics and metadata.topics[n].error is None]
    resources = [ConfigResource(ResourceType.TOPIC, n) for n in present]
    configs = _describe_configs(admin, resources, time.monotonic() + timeout)
    out = {}
    for name in present:
        partitions = metadata.topics[name].partitions
        out[name] = TopicState(len(partitions), min(len(p.replicas) for p in partitions.values()), configs.get(name, {}))
    return out


def _describe_configs(admin: AdminClient, resources: list[ConfigResource], deadline: float) -> dict[str, dict[str, str]]:
    """Each topic's configuration in effect. A topic created a moment ago may be unknown yet to the
    broker asked (its metadata still on the way): asked again until ``deadline``."""
    out: dict[str, dict[str, str]] = {}
    while resources:
        unknown = []
        left = max(1.0, deadline - time.monotonic())
        for resource, future in admin.describe_configs(resources, request_timeout=left).items():
            try:
                out[resource.name] = {k: v.value for k, v in future.result(timeout=left).items() if v.value is not None}
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() > deadline:
                    raise
                unknown.append(resource)
        resources = unknown
        if resources:
            time.sleep(0.2)
    return out


def topic_partitions(settings: Settings, names: list[str], timeout: float = 30.0) -> dict[str, int]:
    """Partition counts of those of ``names`` that exist."""
    topics = AdminClient(admin_config(settings)).list_topics(timeout=timeout).topics
    return {n: len(topics[n].partitions) for n in names if n in topics and topics[n].error is None}


def require_co_partitioning(settings: Settings) -> None:
    """Raise ``TopicSetupError`` when the topics a stock worker uses partition by partition differ in
    partition count (``co_partitioning_problem``)."""
    problem = co_partitioning_problem(settings, topic_partitions(settings, co_partitioned(settings)))
    if problem:
        raise TopicSetupError(problem)
