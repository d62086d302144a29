"""Replication as a setting: every topic the code creates takes its replicas and durability configs
from the settings (no literal replication factor anywhere in the code), `bazaar topics --check`'s
comparison, and the co-partitioning rule a stock worker starts by."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from bazaar_core.kafka import admin
from bazaar_core.kafka.topics import (
    TopicState,
    co_partitioned,
    co_partitioning_problem,
    leader_topics,
    stock_changelog,
    topic_configs,
    topic_differences,
    topic_specs,
)
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CODE = ["bazaar", "bazaar_core", "streams", "agents", "api", "clickhouse", "bench", "domain", "schemas"]
CLUSTER = Settings(replication_factor=3, min_insync_replicas=2)


def as_found(settings: Settings) -> dict[str, TopicState]:
    """What a cluster on which `bazaar topics` ran with these settings describes."""
    configs = topic_configs(settings)
    return {n: TopicState(p, settings.replication_factor, dict(configs[n])) for n, p in topic_specs(settings).items()}


def test_every_topic_is_durable_as_the_settings_say():
    specs, configs = topic_specs(CLUSTER), topic_configs(CLUSTER)
    assert set(configs) == set(specs)
    for name in specs:
        assert configs[name]["min.insync.replicas"] == "2", name
        assert configs[name]["unclean.leader.election.enable"] == "false", name
    # Faust's own topics are created with the rest, not by Faust with its defaults
    assert stock_changelog(CLUSTER) in specs and configs[stock_changelog(CLUSTER)]["cleanup.policy"] == "compact"
    assert all(specs[t] == 1 for t in leader_topics(CLUSTER))
    assert topic_configs(Settings())[CLUSTER.events_topic]["min.insync.replicas"] == "1"


def test_min_insync_replicas_cannot_exceed_the_replication_factor():
    with pytest.raises(ValidationError, match="MIN_INSYNC_REPLICAS=2 exceeds BAZAAR_REPLICATION_FACTOR=1"):
        Settings(min_insync_replicas=2)
    with pytest.raises(ValidationError):
        Settings(replication_factor=0)


def test_check_finds_nothing_on_topics_made_as_expected():
    assert topic_differences(CLUSTER, as_found(CLUSTER)) == []


def test_check_reports_each_difference():
    found = as_found(CLUSTER)
    events, ledger, products = CLUSTER.events_topic, CLUSTER.ledger_topic, CLUSTER.products_topic
    found[events] = TopicState(4, 3, found[events].configs)
    found[ledger] = TopicState(8, 1, {**found[ledger].configs, "min.insync.replicas": "1"})
    found[products] = TopicState(1, 3, {k: v for k, v in found[products].configs.items() if k != "unclean.leader.election.enable"})
    del found[CLUSTER.alerts_topic]
    assert sorted(topic_differences(CLUSTER, found)) == sorted(
        [
            f"{events}: 4 partitions, expected 8",
            f"{ledger}: replication factor 1, expected 3",
            f"{ledger}: min.insync.replicas=1, expected 2",
            f"{products}: unclean.leader.election.enable=None, expected false",
            f"{CLUSTER.alerts_topic}: missing",
        ]
    )
    # a single broker's topics, checked against cluster settings: every topic is under-replicated
    single = as_found(Settings())
    assert sum("replication factor 1, expected 3" in line for line in topic_differences(CLUSTER, single)) == len(single)


def test_co_partitioning():
    settings = Settings()
    same = dict.fromkeys(co_partitioned(settings), 8)
    assert co_partitioning_problem(settings, same) is None
    assert co_partitioning_problem(settings, {settings.events_topic: 8}) is None  # the rest is created by the worker
    assert co_partitioning_problem(settings, {}) is None
    fewer_events = {**same, settings.events_topic: 4}
    problem = co_partitioning_problem(settings, fewer_events)
    assert problem is not None and "co-partitioning" in problem
    assert f"{settings.events_topic} has 4 partitions" in problem and f"{stock_changelog(settings)} has 8" in problem
    fewer_changelog = {**same, stock_changelog(settings): 12}
    problem = co_partitioning_problem(settings, fewer_changelog)
    assert problem is not None and f"{stock_changelog(settings)} has 12" in problem
    assert settings.ledger_topic not in problem  # only the topics that differ are named


def test_too_few_brokers_refuses_with_a_clear_error(monkeypatch):
    class Metadata:
        topics: dict = {}
        brokers = {1: object()}

    class FakeAdmin:
        created: list = []

        def __init__(self, conf):
            pass

        def list_topics(self, timeout):
            return Metadata()

        def create_topics(self, topics, **kwargs):
            FakeAdmin.created.extend(topics)
            return {}

    monkeypatch.setattr(admin, "AdminClient", FakeAdmin)
    with pytest.raises(admin.TopicSetupError) as raised:
        admin.ensure_topics(CLUSTER, topic_specs(CLUSTER), topic_configs(CLUSTER))
    message = str(raised.value)
    assert "BAZAAR_REPLICATION_FACTOR=3 but 1 broker(s) answer" in message and "bazaar kafka --nodes 3" in message
    assert FakeAdmin.created == []
    # with enough brokers each topic is asked for with the settings' replicas and durability
    Metadata.brokers = {1: object(), 2: object(), 3: object()}
    admin.ensure_topics(CLUSTER, {"adhoc": 2}, {"adhoc": {"cleanup.policy": "compact"}})
    (topic,) = FakeAdmin.created
    assert (topic.topic, topic.num_partitions, topic.replication_factor) == ("adhoc", 2, 3)
    assert topic.config == {"min.insync.replicas": "2", "unclean.leader.election.enable": "false", "cleanup.policy": "compact"}


REPLICA_WORDS = {"replication_factor", "topic_replication_factor", "replicas", "replication"}


def literal_replication(path: Path) -> list[str]:
    """Where a file passes a number as a replication factor: a keyword argument (``replication_factor=1``,
    Faust's ``topic_replication_factor=1``, ``replicas=1``), a second positional argument of ``NewTopic``,
    or a ``"...replication.factor": "1"`` entry."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in REPLICA_WORDS and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
                    found.append(f"{path}:{node.lineno}: {kw.arg}={kw.value.value}")
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "NewTopic" and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                found.append(f"{path}:{node.lineno}: NewTopic(..., {node.args[2].value})")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and str(key.value).endswith("replication.factor") and isinstance(value, ast.Constant):
                    found.append(f"{path}:{node.lineno}: {key.value}={value.value}")
    return found


def test_no_code_creates_a_topic_with_a_literal_replication_factor():
    files = [p for top in CODE for p in (ROOT / top).rglob("*.py")]
    assert len(files) > 100
    assert [hit for path in files for hit in literal_replication(path)] == []


def test_the_scan_sees_each_way_of_writing_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "faust.App('x', topic_replication_factor=1)\n"
        "NewTopic('t', 8, 1)\n"
        "NewTopic('t', num_partitions=8, replication_factor=3)\n"
        "app.topic('t', replicas=2)\n"
        "props = {'offsets.topic.replication.factor': '1'}\n"
        "ok = NewTopic('t', 8, replication_factor=settings.replication_factor)\n"
    )
    assert len(literal_replication(sample)) == 5
