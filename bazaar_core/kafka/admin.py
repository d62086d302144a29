"""Creating the app's topics (``ensure_topics``): at each process's start, by ``bazaar topics`` and
by the followers of compacted topics, so that no topic is ever auto-created with broker defaults.

On a secured cluster only the admin principal may create topics (bazaar_core/kafka/acls.py): the
admin runs ``bazaar topics`` once, and a process that may not create a topic leaves it to the admin
instead of failing at start (a topic it needs and cannot find fails where it is used).
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from bazaar_core.kafka.config import admin_config
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.kafka.admin")


def ensure_topics(
    settings: Settings,
    specs: dict[str, int],
    configs: dict[str, dict[str, str]] | None = None,
    timeout: float = 30.0,
    *,
    list_timeout: float | None = None,
) -> None:
    """Create each topic ``name -> partitions`` (its config from ``configs``) that does not exist yet,
    replicated as the cluster's ``default.replication.factor`` says (1 on the embedded broker).
    Raises ``KafkaException`` on any failure but a topic created meanwhile or one this principal is
    not allowed to create."""
    if not specs:
        return
    configs = configs or {}
    admin = AdminClient(admin_config(settings))
    existing = admin.list_topics(timeout=timeout if list_timeout is None else list_timeout).topics
    missing = [
        NewTopic(name, num_partitions=partitions, replication_factor=-1, config=configs.get(name, {}))
        for name, partitions in specs.items()
        if name not in existing
    ]
    if not missing:
        return
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
