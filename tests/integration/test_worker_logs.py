"""A worker's log, from start to stop: JSON lines only, no terminal escapes, its group's offsets
seeded without a crash, no librdkafka connection errors when it stops (tests/unit/test_logs.py:
none either while it stops after its broker)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.local import LocalKafka
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from bazaar_core.supervisor import Child
from tests.conftest import free_ports

pytestmark = pytest.mark.integration


def start_worker(settings: Settings) -> Child:
    env = {**os.environ, **settings.to_env()}
    worker = Child.bazaar(
        "worker",
        ["worker", "--port", str(settings.worker_port)],
        env,
        Path(settings.data_dir) / "logs",
        f"http://127.0.0.1:{settings.worker_port}/health",
    )
    worker.start()
    worker.wait_healthy(timeout=120)
    return worker


def check_log(path: Path) -> list[dict]:
    """The log's lines, each a JSON object; fails on a terminal escape or on a crashed seeding."""
    raw = path.read_bytes()
    assert b"\x1b" not in raw, "a terminal escape sequence in the log"
    lines = raw.decode().splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line of the log is not JSON (librdkafka's own format?): {line!r}")
    assert not [r for r in records if r.get("code") == -signal.SIGSEGV or "seeding group offsets failed" in r["msg"]]
    return records


def refused(records: list[dict]) -> list[str]:
    return [r["msg"] for r in records if "Connection refused" in r["msg"]]


def test_a_worker_on_a_fresh_group_logs_plain_json_and_stops_quietly(settings_factory):
    settings = settings_factory()
    ensure_topics(settings, topic_specs(settings), topic_configs(settings))
    worker = start_worker(settings)
    worker.stop()
    assert worker.proc.returncode == 0

    records = check_log(worker.log_path)
    seeded = [r for r in records if r["msg"] == "group offsets seeded at the low watermark"]
    assert seeded and seeded[0]["group"] == settings.group_id
    assert seeded[0]["offsets"] == {str(p): 0 for p in range(settings.partitions)}
    assert not refused(records)


def test_a_worker_on_a_fresh_broker_seeds_its_group_without_crashing(tmp_path):
    """A broker's first start (no offsets topic yet) is where the admin client's seeding crashed
    (``bazaar up``, ``bazaar demo``): the worker starts on it at once, as ``up`` starts it."""
    kafka_port, controller, worker_port = free_ports(3)
    settings = Settings(
        data_dir=tmp_path / "data",
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        kafka_controller_port=controller,
        worker_port=worker_port,
        worker_urls=[f"http://127.0.0.1:{worker_port}"],
        topic_prefix="fresh",
    )
    with LocalKafka(settings):
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
        worker = start_worker(settings)
        worker.stop()
    assert worker.proc.returncode == 0

    records = check_log(worker.log_path)
    assert [r["offsets"] for r in records if r["msg"] == "group offsets seeded at the low watermark"] == [
        {str(p): 0 for p in range(settings.partitions)}
    ]
    assert not refused(records)
