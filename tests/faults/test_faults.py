"""The fault suite on a three-node cluster of its own (issue 30), one stack for every fault in turn:
a broker SIGKILLed (the leader of the most events partitions) and restarted, a broker paused 20 s
(SIGSTOP/SIGCONT), a worker SIGKILLed with its data directory deleted (it rebuilds from the
changelogs). Clients retry every unacknowledged batch with the same event ids; after each fault
every (store, sku) stock of every day so far equals the generator's totals. The figures go to
test-artifacts/faults/results.json (`bazaar chaos` runs the same by hand with a longer load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bazaar.chaos import FAULTS, run_suite

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RESULTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults" / "results.json"


@pytest.mark.timeout(600)
def test_every_fault_heals_with_every_stock_exact(tmp_path):
    report = run_suite(tmp_path, RESULTS, FAULTS, stores=6, events_per_store=90)
    outcomes = report["faults"]
    assert [o["fault"] for o in outcomes] == list(FAULTS)
    for o in outcomes:
        assert o["events_unacked"] == 0 and o["events_acked"] >= o["events_posted"], o
        assert o["stocks_checked"] > 100, o
        assert (o["stocks_below_expected"], o["stocks_above_expected"]) == (0, 0), o
    assert report["topics_check"] and "as expected" in report["topics_check"][0], report["topics_check"]
    assert json.loads(RESULTS.read_text())["faults"] == outcomes
    print(json.dumps(report, indent=1))
