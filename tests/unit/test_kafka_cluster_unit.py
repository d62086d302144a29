"""A local cluster's layout and each node's configuration, without Java or a broker."""

from __future__ import annotations

import pytest

from bazaar_core.kafka.local import LocalCluster, LocalKafka, cluster_nodes, cluster_settings, local_kafka
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit


def props(kafka: LocalKafka) -> dict[str, str]:
    return dict(line.split("=", 1) for line in kafka.render_server_properties().splitlines())


def test_three_nodes_on_ports_and_directories_of_their_own(tmp_path):
    settings = Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    nodes = cluster_nodes(settings, 3)
    assert [(n.node_id, n.port, n.controller_port) for n in nodes] == [(1, 19092, 19093), (2, 19094, 19095), (3, 19096, 19097)]
    assert [n.kafka_dir.name for n in nodes] == ["node-1", "node-2", "node-3"]
    assert len({n.kafka_dir for n in nodes}) == 3
    # a bootstrap that lists one address per node names each node's port
    listed = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:31000,127.0.0.1:31007,127.0.0.1:31003"})
    assert [n.port for n in cluster_nodes(listed, 3)] == [31000, 31007, 31003]
    # one node is the embedded broker, where it always was
    (single,) = cluster_nodes(settings, 1)
    assert (single.port, single.controller_port, single.kafka_dir) == (19092, 19093, (tmp_path / "kafka").resolve())


def test_cluster_settings_replicate_three_times_two_in_sync(tmp_path):
    settings = cluster_settings(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092"), 3)
    assert settings.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert (settings.kafka_nodes, settings.replication_factor, settings.min_insync_replicas) == (3, 3, 2)
    assert cluster_settings(settings, 3) == settings  # idempotent: the listed bootstrap names the same nodes
    chosen = cluster_settings(Settings(data_dir=tmp_path, replication_factor=2, min_insync_replicas=2), 3)
    assert (chosen.replication_factor, chosen.min_insync_replicas) == (2, 2)  # what the user set stays
    assert isinstance(local_kafka(settings), LocalCluster) and isinstance(local_kafka(Settings(data_dir=tmp_path)), LocalKafka)


def test_each_node_is_a_voter_and_a_broker_of_the_same_cluster(tmp_path):
    cluster = LocalCluster(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093), 3)
    rendered = [props(node) for node in cluster.nodes]
    assert [p["node.id"] for p in rendered] == ["1", "2", "3"]
    assert {p["controller.quorum.voters"] for p in rendered} == {"1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"}
    assert [p["listeners"] for p in rendered][1] == "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert len({p["log.dirs"] for p in rendered}) == 3
    for p in rendered:
        assert p["process.roles"] == "broker,controller"
        assert (p["offsets.topic.replication.factor"], p["transaction.state.log.min.isr"], p["min.insync.replicas"]) == ("3", "2", "2")
        assert p["unclean.leader.election.enable"] == "false"
        assert "0.0.0.0" not in "".join(p.values())
    assert len({node.cluster_id_file for node in cluster.nodes}) == 1  # one cluster id, formatted into each node
    single = props(LocalKafka(Settings(data_dir=tmp_path)))
    assert (single["offsets.topic.replication.factor"], single["min.insync.replicas"], single["node.id"]) == ("1", "1", "1")
