"""Hostile text a client sent comes out inert, through the real stack (API -> worker -> ledger ->
ClickHouse -> reports): a CSV export does not hand a spreadsheet a formula, and ``bazaar report``
does not hand the operator's terminal an escape sequence. (The actor is the server's, from the
posting key's name: a key named like a formula is the hostile text here.)"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bazaar_core.client_auth import KeyAuth
from tests.authclient import make_key
from tests.conftest import stack_settings
from tests.integration.analytics_harness import Analytics
from tests.integration.harness import Running

pytestmark = pytest.mark.integration

ACTOR = '=HYPERLINK("http://x","click")'
TERMINAL = "\x1b]0;owned\x07\x1b[2J\x1b[31mpos-1"
STORE, SKU = "hostile-1", "rice"


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory):
    base = tmp_path_factory.mktemp("safe-output")
    settings = stack_settings(
        kafka_bootstrap,
        base,
        "safe",
        analytics_batch_seconds=0.2,
    )
    running = Running(settings, [settings.worker_port]).start()
    analytics = Analytics(running).start()
    hostile = httpx.Client(
        base_url=running.api_url, timeout=60, auth=KeyAuth(running.api_url, make_key(settings, "manager", [STORE], ACTOR))
    )
    try:
        when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        for quantity in ("5", "-2"):  # a count of 5, then a sale of 2 (a negative quantity in the report)
            body = {"event_id": str(uuid.uuid4()), "store_id": STORE, "terminal_id": TERMINAL, "actor": "not me", "occurred_at": when}
            if quantity == "5":
                body.update(type="count", lines=[{"sku": SKU, "quantity": "5"}])
            else:
                body.update(type="sale", lines=[{"sku": SKU, "quantity": "2", "unit_price": "10.00"}])
            r = hostile.post("/v1/events", json=body)
            assert r.status_code == 202, r.text
        analytics.wait_rows(2, timeout=90)
        yield running, analytics
    finally:
        hostile.close()
        analytics.close()
        running.close()


def test_a_csv_export_of_a_hostile_actor_is_inert(stack):
    running, _ = stack
    r = running.http.get(f"/v1/stores/{STORE}/reports/movement_history", params={"sku": SKU, "format": "csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert len(rows) == 2
    # the key's name, not what the client sent; as text: a spreadsheet shows it, does not run it
    assert all(row["actor"].startswith("'" + ACTOR + " (") for row in rows)
    assert sorted(row["quantity"] for row in rows) == ["-2", "5"]  # a number column's -2 stays a number


def test_bazaar_report_prints_no_escape_sequence_from_a_terminal_id(stack):
    running, analytics = stack
    env = {**running.env, "BAZAAR_ANALYTICS_URL": analytics.url}
    done = subprocess.run(
        [sys.executable, "-m", "bazaar.cli", "report", "movement_history", "--store", STORE, "--sku", SKU],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "pos-1" in done.stdout and ACTOR in done.stdout and "(2 rows)" in done.stdout
