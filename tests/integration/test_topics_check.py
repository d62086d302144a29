"""`bazaar topics --check` on the real broker: clean on topics made by `bazaar topics`, and every
difference named (partitions, replication, configs) with exit 1; a worker refuses to start on
topics that are not co-partitioned; replication beyond the brokers fails with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from bazaar_core.kafka.admin import TopicSetupError, ensure_topics
from bazaar_core.kafka.topics import stock_changelog, topic_configs, topic_specs

pytestmark = pytest.mark.integration


def bazaar(settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "bazaar.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_check_is_clean_after_topics_and_names_each_difference(settings_factory):
    settings = settings_factory()
    missing = bazaar(settings, "topics", "--check")
    assert missing.returncode == 1 and f"{settings.events_topic}: missing" in missing.stdout
    made = bazaar(settings, "topics")
    assert made.returncode == 0, made.stderr
    clean = bazaar(settings, "topics", "--check")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"{len(topic_specs(settings))} topics as expected" in clean.stdout

    # a topic someone made by hand with other partitions and configs, and settings asking for more
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.delete_topics([settings.alerts_topic], operation_timeout=30)[settings.alerts_topic].result()
    hand_made = NewTopic(settings.alerts_topic, 3, 1, config={"min.insync.replicas": "1"})
    for _ in range(50):
        try:
            admin.create_topics([hand_made])[settings.alerts_topic].result()
            break
        except Exception:  # noqa: BLE001 (the deletion is still being carried out)
            time.sleep(0.2)
    differing = bazaar(settings, "topics", "--check")
    assert differing.returncode == 1
    assert f"{settings.alerts_topic}: 3 partitions, expected {settings.partitions}" in differing.stdout
    assert f"{settings.alerts_topic}: retention.ms=604800000, expected -1" in differing.stdout
    assert sum(1 for line in differing.stdout.splitlines() if line.startswith(settings.alerts_topic)) == 2

    # a worker does not start on them: alerts would be written to partitions of other numbers
    worker = bazaar(settings, "worker", timeout=120)
    assert worker.returncode == 2
    assert "refuses to start" in worker.stdout + worker.stderr and "co-partitioning" in worker.stdout + worker.stderr

    # checked against three replicas, two in sync, every topic of the single broker differs
    cluster = settings.model_copy(update={"replication_factor": 3, "min_insync_replicas": 2})
    three = bazaar(cluster, "topics", "--check")
    assert three.returncode == 1
    for name in topic_specs(settings):
        assert f"{name}: replication factor 1, expected 3" in three.stdout
        assert f"{name}: min.insync.replicas=1, expected 2" in three.stdout


def test_more_replicas_than_brokers_is_a_clear_error(settings_factory):
    settings = settings_factory(replication_factor=3, min_insync_replicas=2)
    with pytest.raises(TopicSetupError, match="BAZAAR_REPLICATION_FACTOR=3 but 1 broker"):
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
    made = bazaar(settings, "topics")
    assert made.returncode == 1 and "BAZAAR_REPLICATION_FACTOR=3 but 1 broker(s) answer" in made.stderr
    assert "Traceback" not in made.stderr
    # the changelog Faust would otherwise make is among what was refused: nothing was created
    assert (
        f"{stock_changelog(settings)}: missing"
        in bazaar(settings.model_copy(update={"replication_factor": 1, "min_insync_replicas": 1}), "topics", "--check").stdout
    )
