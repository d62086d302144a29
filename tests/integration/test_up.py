"""`bazaar up` brings the stack up on its own broker, and SIGTERM stops every child cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bazaar_core.client_auth import KeyAuth
from bazaar_core.settings import Settings
from tests.conftest import free_ports

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow  # the fault round runs `up` too and stops it with SIGTERM
def test_up_serves_and_stops_on_sigterm(tmp_path):
    kafka, controller, api, worker, analytics, notifier = free_ports(6)
    settings = Settings(
        data_dir=tmp_path / "data",
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        kafka_controller_port=controller,
        api_port=api,
        worker_port=worker,
        topic_prefix="up",
        worker_urls=[f"http://127.0.0.1:{worker}"],
    )
    env = {
        **os.environ,
        **settings.to_env(),
        "BAZAAR_ANALYTICS_PORT": str(analytics),
        "BAZAAR_NOTIFIER_PORT": str(notifier),
        "BAZAAR_ANALYTICS_URL": f"http://127.0.0.1:{analytics}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bazaar.cli", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{api}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "bazaar up did not become healthy"
            time.sleep(0.5)
        # `up` ran `bazaar auth init`: a client takes the admin key it wrote (0600, under the data dir)
        key_file = settings.auth_path / "admin.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        http = httpx.Client(auth=KeyAuth(f"http://127.0.0.1:{api}", key_file.read_text().strip()))
        assert httpx.post(f"http://127.0.0.1:{api}/v1/events", json={}, timeout=30).status_code == 401  # and none works without
        at = (datetime.now(timezone(timedelta(hours=5))) - timedelta(minutes=1)).isoformat()
        body = {
            "event_id": str(uuid.uuid4()),
            "type": "purchase",
            "supplier": "Metro",
            "store_id": "s1",
            "terminal_id": "t1",
            "occurred_at": at,
            "lines": [{"sku": "sugar", "quantity": "2.5", "unit_cost": "150.00"}],
        }
        posted = http.post(f"http://127.0.0.1:{api}/v1/events", json=body, timeout=30)
        assert posted.status_code == 202, posted.text
        got = http.get(
            f"http://127.0.0.1:{api}/v1/stores/s1/stock/sugar", params={"after": posted.json()["token"], "timeout_ms": 20000}, timeout=30
        )
        assert got.status_code == 200 and got.json()["on_hand"] == "2.5", got.text
        assert listening(worker) and listening(kafka)

        # a broker that dies is restarted like any other child, and the stack serves again
        broker_pid = int((settings.data_dir / "kafka" / "broker.pid").read_text().split()[0])
        os.killpg(broker_pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while True:
            body = {**body, "event_id": str(uuid.uuid4())}
            try:
                posted = http.post(f"http://127.0.0.1:{api}/v1/events", json=body, timeout=10)
                if posted.status_code == 202:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the stack did not recover from a killed broker"
            time.sleep(1)
        new_pid = int((settings.data_dir / "kafka" / "broker.pid").read_text().split()[0])
        assert new_pid != broker_pid
        got = http.get(
            f"http://127.0.0.1:{api}/v1/stores/s1/stock/sugar", params={"after": posted.json()["token"], "timeout_ms": 30000}, timeout=60
        )
        assert got.status_code == 200 and got.json()["on_hand"] == "5", got.text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "stopped" in out
    for port in (api, worker, kafka):
        assert not listening(port), f"port {port} still open after bazaar up stopped"
