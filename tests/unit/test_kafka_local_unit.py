"""LocalKafka's checks and rendering, without Java or a broker."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bazaar_core.kafka import local as kafka_local
from bazaar_core.kafka.local import KafkaSetupError, LocalKafka
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit


def make_kafka(tmp_path, **overrides) -> LocalKafka:
    return LocalKafka(Settings(data_dir=tmp_path / "data", kafka_cache_dir=tmp_path / "cache", **overrides))


def only_missing(tool):
    return lambda name: None if name == tool else f"/usr/bin/{name}"


@pytest.mark.parametrize(("tool", "words"), [("java", "Java 17+"), ("mvn", "Maven")])
def test_missing_tool_message_is_one_clear_line(tmp_path, monkeypatch, tool, words):
    monkeypatch.setattr(shutil, "which", only_missing(tool))
    with pytest.raises(KafkaSetupError) as raised:
        make_kafka(tmp_path).ensure_jars()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("bazaar kafka: ")
    assert words in message and f"{tool} not found on PATH" in message


def test_failed_fetch_leaves_no_stamp_so_it_is_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    failed = subprocess.CompletedProcess(args=[], returncode=1, stdout="", stderr="network down\n")
    monkeypatch.setattr(kafka_local.subprocess, "run", lambda *args, **kwargs: failed)
    kafka = make_kafka(tmp_path)
    with pytest.raises(KafkaSetupError, match="exit 1"):
        kafka.ensure_jars()
    assert not (kafka.version_dir / "libs.complete").exists()


def test_server_properties_bind_only_loopback(tmp_path):
    kafka = make_kafka(tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    props = dict(line.split("=", 1) for line in kafka.render_server_properties().splitlines())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert "0.0.0.0" not in kafka.render_server_properties()


def test_jvm_options_reach_the_broker_but_not_the_storage_tool(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    started: list[list[str]] = []

    class Started:
        pid = 0

        def __init__(self, args, **_kwargs):
            started.append(args)

    monkeypatch.setattr(subprocess, "Popen", Started)
    kafka = make_kafka(tmp_path, kafka_heap="256m", kafka_jvm_opts="-XX:+UseSerialGC  -XX:CICompilerCount=2")
    kafka.kafka_dir.mkdir(parents=True)
    kafka.start()
    (broker,) = started
    assert broker[:4] == ["/usr/bin/java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:CICompilerCount=2"]
    assert broker[-2:] == ["kafka.Kafka", str(kafka.server_properties)]
    assert kafka.pid == 0
    tool = kafka._java("kafka.tools.StorageTool", "format")
    assert not any(arg.startswith(("-XX:", "-Xmx")) for arg in tool)
