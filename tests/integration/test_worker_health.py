"""A worker's /health says ok only once it owns its partitions and has recovered them."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.harness import Running

pytestmark = pytest.mark.integration


def _first_ok(port: int, timeout: float = 120.0) -> list[dict]:
    """Poll /health from the moment the process starts; every answer until the first 200."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
        except httpx.HTTPError:
            time.sleep(0.05)
            continue
        seen.append({"code": resp.status_code, **resp.json()})
        if resp.status_code == 200:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"worker never healthy: {seen[-3:]}")


def test_a_started_and_a_restarted_worker_are_healthy_only_with_their_partitions(settings_factory):
    settings = settings_factory()
    running = Running(settings, [settings.worker_port])
    port = settings.worker_port
    everything = list(range(settings.partitions))
    try:
        running.start(workers=[])
        running.workers[port].start()
        seen = _first_ok(port)
        assert seen[-1]["assigned"] == everything and seen[-1]["status"] == "ok"
        assert all(s["code"] == 503 and s["status"] in ("starting", "recovering") for s in seen[:-1])

        running.workers[port].kill()  # a crash: the restarted worker must not say ok before it owns them again
        running.workers[port] = running._worker(port)
        running.workers[port].start()
        seen = _first_ok(port)
        assert seen[-1]["assigned"] == everything
        assert all(s["code"] == 503 for s in seen[:-1])
    finally:
        running.close()
