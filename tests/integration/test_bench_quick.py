"""`bazaar bench --quick` keeps working: every stage runs on its own broker and its stock is exact.

A smoke test only: speeds are never asserted (targets are judged by reading the full run's results).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
THROUGHPUT = (
    "raw-producer",
    "raw-consumer",
    "peer-quix",
    "peer-quix-like",
    "peer-quix-work",
    "stream-1-worker",
    "stream-2-workers",
    "api-ingest",
    "end-to-end",
    "end-to-end-2-workers",
    "recovery",
    "scale",
    "clickhouse-sink",
)


@pytest.mark.slow  # every bench stage once; `bazaar bench --quick` by hand
@pytest.mark.timeout(280)
def test_bench_quick_runs_every_stage_exactly(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bazaar.cli", "bench", "--quick", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=270
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    run = json.loads((out / "latest-quick.json").read_text())
    assert (out / "latest-quick.md").read_text().startswith("# bazaar bench: quick run")
    assert run["mode"] == "quick" and run["ok"] is True
    stages = {s["name"]: s for s in run["stages"]}
    for name in THROUGHPUT:
        stage = stages[name]
        assert stage["status"] == "ok", stage
        assert stage["exact"] is True, stage
        assert stage["checked_keys"] > 0, stage
        assert stage["events_per_s"] > 0, stage
    assert stages["memory"]["status"] == "ok" and stages["memory"]["exact"] is True
    assert stages["peer-quix-like"]["commits"] > stages["peer-quix"]["commits"]  # a checkpoint per batch, not per 5 s
    assert stages["peer-quix-work"]["output_records"] > 0  # its ledger entries and alerts, through its producer
    sink = stages["clickhouse-sink"]
    assert sink["ledger_source"].startswith("the stream-1-worker stage's ledger")  # reused, not written again
    assert sink["checks"]["after_load"]["ledger_distinct"] == sink["ledger_keys"] > 0
    assert sink["load"]["messages"] > 0 and sink["load"]["backlog"]["samples"] > 0
    assert stages["end-to-end"]["samples"] > 0 and stages["end-to-end"]["p99_ms"] > 0
    assert stages["end-to-end"]["capacity_events_per_s"] > 0  # C measured in the same run
    assert stages["end-to-end-2-workers"]["samples"] > 0 and stages["end-to-end-2-workers"]["workers"] == 2
    assert stages["api-ingest"]["p99_ms"] > 0
    cost = stages["api-auth-cost"]  # with auth and without, in the same run (the full run's figure is the one read)
    assert cost["status"] == "ok" and cost["exact"] is True, cost
    assert cost["with_auth_cpu_us_per_event"] > 0 and cost["without_auth_cpu_us_per_event"] > 0 and cost["ratio"] > 0
    recovery = stages["recovery"]  # restarted on its intact data dir, then on an empty one: exact both times
    assert [r["disk"] for r in recovery["restarts"]] == ["intact", "empty"], recovery
    for restart in recovery["restarts"]:
        assert restart["exact"] is True and restart["checked_keys"] == recovery["keys"] > 0, restart
        assert restart["correct_s"] > 0 and restart["health_s"] is not None, restart
    assert recovery["restart_to_correct_s"] > 0 and recovery["empty_restart_to_correct_s"] > 0
    assert recovery["deleted_bytes"] > 0 and recovery["stock_changelog_records"] >= recovery["keys"], recovery
    moved = stages["repartition"]  # the changelog copied to more partitions, a new worker recovered from it
    assert moved["status"] == "ok" and moved["exact"] is True and moved["checked_keys"] == moved["changelog_records"] > 0, moved
    assert moved["recovery_to_correct_s"] > 0 and moved["final_pass_records"] == 0, moved
    scale = stages["scale"]
    assert len(scale["points"]) == 2
    assert scale["flatness"] == min(scale["rate_flatness"], scale["cpu_flatness"]) > 0, scale
    for point in stages["scale"]["points"]:  # the same day per store: every sku counted, then the events
        assert point["keys"] == point["opening_count_keys"] == point["stores"] * 200, point
        assert point["timed_events"] == point["events"] - point["stores"] > 0, point
        assert point["warm_s"] > 0, point
        # the same paced window at every point, start-up and the counts outside it
        assert point["window_s"] >= 0.9 * scale["window_s"] and point["window_events"] > 0 and point["cpu_us_per_event"] > 0, point
        assert 0 < point["compacted_sst_bytes"] < point["rocksdb_bytes"] * 10, point
