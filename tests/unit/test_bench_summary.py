"""`python -m bench.summary`: medians and spreads of the headline figures over the last full runs."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from bench import summary
from bench.plan import FULL, QUICK

pytestmark = pytest.mark.unit

STREAM = "stream stage, 1 worker (`stream-1-worker`), events/s"
STREAM_CPU = "stream stage, 1 worker (`stream-1-worker`), CPU µs/event"
EMPTY = "recovery, empty disk: restart -> correct lookups, s"
INTACT = "recovery, intact disk: restart -> correct lookups, s"


def _run(day: int, *, plan=FULL, mode: str = "full", load=(0.5, 1.5), **stages) -> dict:
    """A run as bench.cli writes it, with the named stage results (name -> fields)."""
    return {
        "mode": mode,
        "started_at": f"2026-12-{day:02d}T01:00:00+00:00",
        "plan": json.loads(json.dumps(asdict(plan))),
        "machine": {
            "cores": 2,
            "cpu_model": "Test CPU 9000",
            "loadavg_start": [load[0], 0.1, 0.1],
            "loadavg_end": [load[1], 0.1, 0.1],
            "stream_core": "rust",
        },
        "git": {"commit": f"c0ffee{day}", "uncommitted_changes": 0},
        "stages": [{"name": name.replace("_", "-"), "status": "ok", "exact": True, **fields} for name, fields in stages.items()],
    }


def _write(tmp_path, runs: list[dict]) -> None:
    for run in runs:
        stamp = run["started_at"].replace(":", "").replace("-", "")[:15]
        (tmp_path / f"{stamp}-{run['mode']}.json").write_text(json.dumps(run))


def test_a_run_of_some_stages_of_the_full_plan_counts_and_custom_or_quick_runs_do_not(tmp_path):
    _write(
        tmp_path,
        [
            _run(1, mode="full-recovery", recovery={"restart_to_correct_s": 4.0}),
            _run(2, mode="full-recovery+scale", recovery={"restart_to_correct_s": 6.0}),
            _run(3, mode="custom", plan=replace(FULL, mode="custom"), recovery={"restart_to_correct_s": 50.0}),
            _run(4, mode="custom-recovery", plan=replace(FULL, mode="custom"), recovery={"restart_to_correct_s": 50.0}),
            _run(5, mode="quick", plan=QUICK, recovery={"restart_to_correct_s": 0.5}),
        ],
    )
    row = _rows(tmp_path)[INTACT]
    assert (row["median"], row["runs"]) == (5.0, 2)
    assert _rows(tmp_path, mode="quick")[INTACT]["median"] == 0.5


def _rows(tmp_path, last: int = 5, stages=None, mode: str = "full") -> dict[str, dict]:
    plan = FULL if mode == "full" else QUICK
    return {r["figure"]: r for r in summary.summarize(summary.load_runs(tmp_path, mode), plan, last, stages)}


def test_median_of_an_odd_count_is_the_middle_run_and_the_spread_is_min_to_max(tmp_path):
    _write(tmp_path, [_run(d, stream_1_worker={"events_per_s": v}) for d, v in ((1, 4000.0), (2, 1000.0), (3, 3000.0))])
    row = _rows(tmp_path)[STREAM]
    assert (row["median"], row["min"], row["max"], row["runs"]) == (3000.0, 1000.0, 4000.0, 3)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two(tmp_path):
    _write(tmp_path, [_run(d, stream_1_worker={"events_per_s": v}) for d, v in ((1, 1000.0), (2, 4000.0), (3, 2000.0), (4, 3000.0))])
    row = _rows(tmp_path)[STREAM]
    assert (row["median"], row["min"], row["max"], row["runs"]) == (2500.0, 1000.0, 4000.0, 4)


def test_last_n_takes_the_newest_runs_that_measured_the_figure(tmp_path):
    values = {1: 100.0, 2: 200.0, 3: 300.0, 4: 400.0, 5: 500.0}
    _write(tmp_path, [_run(d, stream_1_worker={"events_per_s": v}) for d, v in values.items()])
    row = _rows(tmp_path, last=3)[STREAM]
    assert (row["median"], row["min"], row["max"], row["runs"]) == (400.0, 300.0, 500.0, 3)
    assert row["files"] == ["20261205T010000-full.json", "20261204T010000-full.json", "20261203T010000-full.json"]


def test_a_figure_missing_from_some_runs_is_taken_over_the_runs_that_have_it(tmp_path):
    _write(
        tmp_path,
        [
            _run(1, stream_1_worker={"events_per_s": 1000.0, "cpu_us_per_event": 200.0}),
            _run(2, recovery={"restart_to_correct_s": 4.0}),  # a recovery-only run: no stream figures
            _run(3, stream_1_worker={"events_per_s": 3000.0}),  # no CPU figure in this one
            _run(4, recovery={"restart_to_correct_s": 6.0, "empty_restart_to_correct_s": 40.0}),
        ],
    )
    rows = _rows(tmp_path)
    assert (rows[STREAM]["median"], rows[STREAM]["runs"]) == (2000.0, 2)
    assert (rows[STREAM_CPU]["median"], rows[STREAM_CPU]["runs"]) == (200.0, 1)
    assert (rows[INTACT]["median"], rows[INTACT]["runs"]) == (5.0, 2)
    assert (rows[EMPTY]["median"], rows[EMPTY]["runs"]) == (40.0, 1)  # older runs did not measure it
    assert rows["scale flatness"]["runs"] == 0 and rows["scale flatness"]["median"] is None


def test_runs_of_a_different_plan_are_left_out_for_the_figures_that_plan_changes(tmp_path):
    smaller = replace(FULL, main_stores=20)
    _write(
        tmp_path,
        [
            _run(1, stream_1_worker={"events_per_s": 1000.0}, recovery={"restart_to_correct_s": 5.0}),
            _run(2, plan=smaller, stream_1_worker={"events_per_s": 9999.0}, recovery={"restart_to_correct_s": 7.0}),
        ],
    )
    rows = _rows(tmp_path)
    assert (rows[STREAM]["median"], rows[STREAM]["runs"]) == (1000.0, 1)  # main_stores differs: not the same stream stage
    assert (rows[INTACT]["median"], rows[INTACT]["runs"]) == (6.0, 2)  # recovery's own sizes are the same


def test_a_run_whose_plan_lacks_a_field_the_figure_depends_on_is_left_out(tmp_path):
    old = _run(1, scale={"flatness": 0.5})
    del old["plan"]["scale_stores"]  # a plan from before that field: the scale stage measured something else
    _write(tmp_path, [old, _run(2, scale={"flatness": 0.9})])
    row = _rows(tmp_path)["scale flatness"]
    assert (row["median"], row["runs"]) == (0.9, 1)


def test_other_modes_latest_copies_failed_and_inexact_stages_are_left_out(tmp_path):
    good = _run(1, stream_1_worker={"events_per_s": 1000.0})
    custom = _run(2, mode="custom", plan=replace(FULL, mode="custom"), stream_1_worker={"events_per_s": 5000.0})
    failed = _run(3, stream_1_worker={"events_per_s": 6000.0})
    failed["stages"][0]["status"] = "failed"
    inexact = _run(4, stream_1_worker={"events_per_s": 7000.0})
    inexact["stages"][0]["exact"] = False
    _write(tmp_path, [good, custom, failed, inexact])
    (tmp_path / "latest-full.json").write_text(json.dumps(_run(9, stream_1_worker={"events_per_s": 8000.0})))
    (tmp_path / "20261210T000000-full.json").write_text("{not json")
    row = _rows(tmp_path)[STREAM]
    assert (row["median"], row["runs"]) == (1000.0, 1)


def test_e2e_shares_scale_points_and_rss_at_two_million_keys(tmp_path):
    steps = [
        {"workers": 1, "share": 0.25, "p99_ms": 20.0},
        {"workers": 1, "share": 0.5, "p99_ms": 40.0, "p999_ms": 90.0},
        {"workers": 2, "share": 0.5, "p99_ms": 999.0},  # the 2-worker step is its own row
    ]
    points = [
        {"stores": 100, "keys": 20_000, "events_per_s": 3000.0, "rss_mb": 300.0},
        {"stores": 10_000, "keys": 2_000_000, "rss_mb": 900.0},
    ]
    _write(
        tmp_path,
        [
            _run(1, end_to_end={"capacity_events_per_s": 2000, "steps": steps}, scale={"points": points}),
            _run(2, raw_producer={"events_per_s": 50_000.0}, api_ingest={"cells": [{"batch": 500, "events_per_s": 20_000.0}]}),
        ],
    )
    rows = _rows(tmp_path)
    assert rows["end to end, capacity C, events/s"]["median"] == 2000.0
    assert rows["end to end at 25% of C, p99 ms"]["median"] == 20.0
    assert rows["end to end at 50% of C, p99 ms"]["median"] == 40.0
    assert rows["end to end at 50% of C, p99.9 ms"]["median"] == 90.0
    assert rows["end to end at 75% of C, p99 ms"]["runs"] == 0
    assert rows["scale, 100 stores: events/s"]["median"] == 3000.0
    assert rows["worker RSS at 2 M keys, MB"]["median"] == 900.0
    assert rows["API ingest, 500 events per POST / bare producer"]["median"] == pytest.approx(0.4)


def test_stage_filter_keeps_only_those_figures(tmp_path):
    _write(tmp_path, [_run(1, stream_1_worker={"events_per_s": 1.0}, recovery={"restart_to_correct_s": 5.0})])
    rows = _rows(tmp_path, stages={"recovery"})
    assert rows and all(r["stage"] == "recovery" for r in rows.values())
    assert rows[INTACT]["median"] == 5.0


def test_main_prints_and_writes_the_table_with_the_hosts(tmp_path, capsys):
    _write(
        tmp_path, [_run(1, load=(0.25, 1.75), stream_1_worker={"events_per_s": 1234.0}), _run(2, recovery={"restart_to_correct_s": 5.0})]
    )
    out = tmp_path / "summary.md"
    assert summary.main(["--results", str(tmp_path), "--last", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text()
    assert f"| {STREAM} | 1,234 | 1,234 - 1,234 | 1 |" in printed
    assert "| 20261201T010000-full.json | c0ffee1 | Test CPU 9000 | 2 | 0.25 -> 1.75 | rust |" in printed
    assert "the last 3 full runs" in printed


def test_since_keeps_only_the_runs_started_from_then(tmp_path):
    _write(tmp_path, [_run(d, stream_1_worker={"events_per_s": 1000.0 * d}) for d in (1, 2, 3, 4)])
    rows = {r["figure"]: r for r in summary.summarize(summary.load_runs(tmp_path, "full"), FULL, 5, since="2026-12-03T00:00")}
    assert (rows[STREAM]["median"], rows[STREAM]["runs"]) == (3500.0, 2)


def test_bytes_per_key_flatness_counts_only_runs_that_measured_it_after_the_counts(tmp_path):
    before = [{"stores": 100, "compacted_bytes_per_key": 2000.0}, {"stores": 10_000, "compacted_bytes_per_key": 73.0}]
    after = [{"stores": s, "counts_compacted_bytes_per_key": 30.0} for s in (100, 10_000)]
    _write(
        tmp_path,
        [_run(1, scale={"points": before, "compacted_flatness": 0.04}), _run(2, scale={"points": after, "compacted_flatness": 0.98})],
    )
    row = _rows(tmp_path)["RocksDB bytes per key flatness (compacted, after the counts)"]
    assert (row["median"], row["runs"]) == (0.98, 1)
