"""`bazaar demo` registers a real catalog and a chain of shops, and ends with its verdict in view."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bazaar_core.settings import Settings
from tests.conftest import free_ports

pytestmark = pytest.mark.integration


def test_demo_seeds_a_catalog_and_ends_with_its_verdict(tmp_path):
    kafka, controller, api, worker, analytics, notifier = free_ports(6)
    settings = Settings(
        data_dir=tmp_path / "data",
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        kafka_controller_port=controller,
        api_port=api,
        worker_port=worker,
        analytics_port=analytics,
        notifier_port=notifier,
        worker_urls=[f"http://127.0.0.1:{worker}"],
    )
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run(
        [sys.executable, "-m", "bazaar.cli", "demo", "--stores", "4", "--events-per-store", "60", "--exit-when-done"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "registered 4 stores and 36 products" in out
    tail = out[out.index("bazaar demo: summary") :]
    assert "VERDICT            exact: all" in tail
    assert f"http://127.0.0.1:{api}/?store=lahore-001" in tail and "Madina General Store" in tail
    assert "report daily_sales --store lahore-001" in tail
    # nothing after the summary but the stack stopping: the panel does not print over the verdict
    after = tail.split("=" * 72)[-1].strip().splitlines()
    assert after == ["bazaar up: stopped"], after
    assert "\x1b" not in out  # not a terminal: no escape sequences in the log
