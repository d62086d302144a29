"""The recovery and scale stages' pure parts: scale flatness over equal windows, the paced writer, and
how the report states both stages and their issue-31 targets."""

from __future__ import annotations

import pytest

from bench import report
from bench.stages import scale

pytestmark = pytest.mark.unit


def _point(stores: int, eps: float, cpu: float | None, **extra) -> dict:
    return {"stores": stores, "events_per_s": eps, "cpu_us_per_event": cpu, **extra}


def test_flatness_is_the_smaller_of_the_rate_and_the_cpu_ratios():
    out = scale.flatness([_point(100, 4000.0, 200.0), _point(1000, 3600.0, 250.0), _point(10000, 3000.0, 400.0)])
    assert out == {"flatness": 0.5, "rate_flatness": 0.75, "cpu_flatness": 0.5}
    # a point that kept up with the offered rate makes the events/s ratio 1: the CPU ratio still judges it
    out = scale.flatness([_point(100, 6000.0, 300.0), _point(10000, 6000.0, 330.0)])
    assert out == {"flatness": 0.909, "rate_flatness": 1.0, "cpu_flatness": 0.909}


def test_flatness_without_a_cpu_figure_is_not_made_up():
    assert scale.flatness([_point(100, 4000.0, None), _point(1000, 3000.0, 250.0)])["flatness"] is None
    assert scale.flatness([])["flatness"] is None


class FakeProducer:
    """Records what is produced; each flush acknowledges everything produced so far."""

    def __init__(self, full_every: int = 0) -> None:
        self.sent: list[tuple] = []
        self.pending: list = []
        self.full_every, self.calls = full_every, 0

    def produce(self, topic, value, key, headers, on_delivery) -> None:
        self.calls += 1
        if self.full_every and self.calls % self.full_every == 0:
            raise BufferError  # the local queue full once in a while: the message must be offered again
        self.sent.append((topic, key, value, headers))
        self.pending.append(on_delivery)

    def poll(self, timeout) -> int:
        return 0

    def flush(self, timeout) -> int:
        for callback in self.pending:
            callback(None, None)
        self.pending.clear()
        return 0


def test_paced_produce_writes_every_message_once_in_order_and_counts_the_acks():
    items = [(f"k{i}".encode(), f"v{i}".encode(), []) for i in range(200)]
    producer = FakeProducer(full_every=7)
    out = scale.paced_produce(producer, "events", items, 0.05, "test")
    assert [(k, v) for _, k, v, _ in producer.sent] == [(k, v) for k, v, _ in items]
    assert {t for t, *_ in producer.sent} == {"events"}
    assert out["messages"] == out["acked"] == 200 and out["failed"] == 0
    assert out["written_s"] >= 0 and out["behind_max_s"] >= 0


def _recovery(keys: int, intact: float, empty: float) -> dict:
    restarts = [
        {
            "disk": "intact",
            "health_s": 1.0,
            "correct_s": intact,
            "cpu_s": 3.0,
            "cpu_share": 0.75,
            "rss_mb_after": 200.0,
            "checked_keys": keys,
            "verify_s": 30.0,
            "exact": True,
        },
        {
            "disk": "empty",
            "health_s": empty - 0.5,
            "correct_s": empty,
            "cpu_s": 44.0,
            "cpu_share": 0.8,
            "rss_mb_after": 300.0,
            "checked_keys": keys,
            "verify_s": 30.0,
            "exact": True,
        },
    ]
    return {
        "name": "recovery",
        "status": "ok",
        "exact": True,
        "kind": "recovery",
        "keys": keys,
        "events_per_s": 1500.0,
        "key_writes_per_s": 90_000.0,
        "restart_to_health_s": 1.0,
        "restart_to_correct_s": intact,
        "empty_restart_to_health_s": empty - 0.5,
        "empty_restart_to_correct_s": empty,
        "restarts": restarts,
        "stock_changelog_records": keys + 5,
        "sample_keys": 200,
        "rss_mb_before_kill": 800.0,
        "rss_mb_after_recovery": 200.0,
        "rocksdb_bytes_per_key": 190.0,
    }


def _targets(*stages: dict) -> dict[str, dict]:
    return {t["target"]: t for t in report.targets(list(stages))}


def test_recovery_targets_are_an_empty_disk_under_60_s_and_an_intact_one_under_5_s():
    rows = _targets(_recovery(1_000_000, intact=4.0, empty=70.0))
    empty = next(t for name, t in rows.items() if "from an empty disk < 60 s" in name)
    intact = next(t for name, t in rows.items() if "from an intact disk < 5 s" in name)
    assert (empty["measured"], empty["met"]) == ("70.0 s", False)
    assert (intact["measured"], intact["met"]) == ("4.0 s", True)
    assert not [name for name in rows if "< 10 s" in name]  # issue 7's row is gone
    small = _targets(_recovery(10_000, intact=1.0, empty=2.0))  # a quick run: too few keys to meet anything
    assert [t["met"] for name, t in small.items() if name.startswith("recovery")] == [False, False]
    assert [t["met"] for name, t in _targets().items() if name.startswith("recovery")] == [None, None]


def _scale(points: list[dict]) -> dict:
    points = [{"rocksdb_bytes_per_key": 300.0, **p} for p in points]
    return {
        "name": "scale",
        "status": "ok",
        "exact": True,
        "kind": "throughput",
        "window_s": 40.0,
        "points": points,
        **scale.flatness(points),
    }


def test_scale_target_row_reads_the_equal_window_flatness():
    points = [_point(100, 4000.0, 200.0, saturated=True), _point(10000, 3800.0, 230.0, saturated=True)]
    row = next(t for name, t in _targets(_scale(points)).items() if name.startswith("scale flatness >= 0.8"))
    assert row["met"] is True and row["measured"].startswith("0.87 (events/s 0.95, CPU per event 0.87)")
    points = [_point(100, 4000.0, 200.0), _point(10000, 3000.0, 400.0)]
    row = next(t for name, t in _targets(_scale(points)).items() if name.startswith("scale flatness >= 0.8"))
    assert row["met"] is False


def test_markdown_shows_both_restarts_and_each_scale_window():
    points = [
        _point(
            stores,
            eps,
            cpu,
            keys=stores * 200,
            events_per_store=2400 // (stores // 100),
            warm_s=3.0,
            window_s=40.1,
            offered_events_per_s=6000.0,
            backlog_at_window_end=50_000,
            drain_s=12.0,
            rss_mb=rss,
            peak_rss_mb=rss + 10,
            rocksdb_bytes=stores * 200 * 300,
            rocksdb_bytes_per_key=300.0,
            counts_compacted_bytes_per_key=70.0,
            compacted_bytes_per_key=75.0,
        )
        for stores, eps, cpu, rss in ((100, 4000.0, 200.0, 250.0), (10000, 3000.0, 300.0, 900.0))
    ]
    run = {
        "mode": "full",
        "started_at": "2026-12-06T03:00:00+00:00",
        "ok": True,
        "seconds": 600.0,
        "machine": {"cores": 2, "cpu_model": "Test CPU", "memory_gb": 8.0, "kernel": "6", "loadavg_start": [0.5], "stream_core": "rust"},
        "versions": {},
        "stages": [_recovery(1_000_000, 4.0, 55.0), _scale(points)],
    }
    run["targets"] = report.targets(run["stages"])
    text = report.markdown(run)
    assert "stream core rust" in text
    assert "| intact | 1.00 s | 4.00 s | < 5 s | 3.0 s (0.75) | 200.0 | 1,000,000 in 30.0 s | yes |" in text
    assert "| empty | 54.50 s | 55.00 s | < 60 s | 44.0 s (0.80) | 300.0 | 1,000,000 in 30.0 s | yes |" in text
    assert "Flatness 0.67: events/s 0.75 (slowest/fastest), CPU per event 0.67 (cheapest/costliest); windows of 40.0 s" in text
    assert "| 10,000 | 2,000,000 | 24 | 3.0 | 40.1 | 6,000 | 3,000 | 300 | 50,000 | 12.0 |" in text
    assert "| 300 | 70 / 75 |" in text  # compacted bytes per key: after the counts / after the window


def test_memory_flatness_reads_the_states_after_the_counts_not_after_the_window():
    points = [
        {"counts_compacted_bytes_per_key": 80.0, "compacted_bytes_per_key": 2000.0},
        {"counts_compacted_bytes_per_key": 72.0, "compacted_bytes_per_key": 75.0},
    ]
    out = scale.compacted_flatness(points)
    assert out == {
        "compacted_bytes_per_key": [80.0, 72.0],
        "compacted_flatness": 0.9,
        "compacted_bytes_per_key_after_traffic": [2000.0, 75.0],
    }
    assert scale.compacted_flatness([{"compacted_bytes_per_key": 75.0}]) == {}
