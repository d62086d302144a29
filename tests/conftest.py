"""Shared fixtures: one real Kafka broker per test session, and settings with per-test topics."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bazaar_core.kafka.local import LocalKafka
from bazaar_core.settings import Settings


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free on 127.0.0.1, distinct from each other."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def stack_settings(kafka_bootstrap: str, base: Path, name: str, *, auth: bool = True, **overrides) -> Settings:
    """Settings for a stack of its own on the session broker (module-scoped fixtures): topics and app
    id unique to ``name``, free ports for the worker, the API and the analytics process. Access is
    required, as in production: tests authenticate like any client (tests/authclient.py; only a
    benchmark's deliberate without-auth half passes ``auth=False``)."""
    prefix = f"t-{name}-{uuid.uuid4().hex[:8]}"
    worker_port, api_port, analytics_port = free_ports(3)
    values = {
        "data_dir": base / "data",
        "kafka_bootstrap": kafka_bootstrap,
        "topic_prefix": prefix,
        "app_id": f"{prefix}-app",
        "worker_port": worker_port,
        "api_port": api_port,
        "worker_urls": [f"http://127.0.0.1:{worker_port}"],
        "analytics_port": analytics_port,
        "auth_required": auth,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local broker on free ports for the whole session; fails (never skips) if it cannot start."""
    port, controller_port = free_ports(2)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("broker"),
        kafka_bootstrap=f"127.0.0.1:{port}",
        kafka_controller_port=controller_port,
    )
    with LocalKafka(settings):
        yield settings.kafka_bootstrap


@pytest.fixture
def settings_factory(kafka_bootstrap: str, tmp_path, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Build Settings on the session broker with a topic prefix and app id unique to this test; the
    API requires tokens, as in production (tests/authclient.py)."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:40].strip("-")
    prefix = f"t-{name}-{uuid.uuid4().hex[:8]}"

    def make(*, auth: bool = True, **overrides) -> Settings:
        worker_port, api_port = free_ports(2)
        values = {
            "data_dir": tmp_path / "data",
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": prefix,
            "app_id": f"{prefix}-app",
            "worker_port": worker_port,
            "api_port": api_port,
            "auth_required": auth,
            **overrides,
        }
        values.setdefault("worker_urls", [f"http://127.0.0.1:{values['worker_port']}"])
        return Settings(**values)

    return make
