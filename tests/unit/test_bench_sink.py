"""The clickhouse-sink benchmark stage's pure helpers: metrics parsing, backlog flatness, replay order."""

from __future__ import annotations

import pytest

from bench.analytics import Ledger, flatness, parse_metrics, thin
from bench.data import compare

pytestmark = pytest.mark.unit

METRICS = """# HELP bazaar_analytics_inserted_rows_total Rows inserted
# TYPE bazaar_analytics_inserted_rows_total counter
bazaar_analytics_inserted_rows_total{table="ledger"} 1234.0
bazaar_analytics_inserted_rows_total{table="stores"} 7.0
bazaar_analytics_backlog{table="ledger"} 42.0
bazaar_analytics_clickhouse_up 1.0
bazaar_analytics_insert_seconds_bucket{le="0.005",table="ledger"} 3.0
"""


def test_parse_metrics_keeps_the_tables_series_and_unlabelled_ones():
    got = parse_metrics(METRICS, "ledger")
    assert got == {"bazaar_analytics_inserted_rows_total": 1234.0, "bazaar_analytics_backlog": 42.0, "bazaar_analytics_clickhouse_up": 1.0}


def test_a_sawtooth_backlog_is_flat_and_a_growing_one_is_not():
    saw = [(t / 4, (t % 4) * 100.0) for t in range(120)]  # flushes every second, never grows
    assert flatness(saw, offered_per_s=2000)["flat"] is True
    growing = [(t / 4, t / 4 * 500.0) for t in range(120)]  # a quarter of the offered load left behind
    out = flatness(growing, offered_per_s=2000)
    assert out["flat"] is False and out["slope_per_s"] == pytest.approx(500.0)
    assert out["max"] == growing[-1][1] and out["end"] == growing[-1][1]
    assert flatness([], 10)["flat"] is None
    assert len(thin(saw, keep=30)) <= 40


def test_replay_order_interleaves_partitions_by_progress():
    ledger = Ledger(
        items=[
            (0, b"k", b"a0", []),
            (0, b"k", b"a1", []),
            (1, b"k", b"b0", []),
            (1, b"k", b"b1", []),
            (1, b"k", b"b2", []),
            (1, b"k", b"b3", []),
        ]
    )
    order = [v for _p, _k, v, _h in ledger.interleaved()]
    assert order == [b"b0", b"a0", b"b1", b"b2", b"a1", b"b3"]
    assert sorted(order) == sorted(v for _p, _k, v, _h in ledger.items)


def test_the_stock_check_fails_on_a_lost_or_doubled_movement():
    expected = {"s|a": 5_000, "s|b": -250}
    assert compare(expected, dict(expected))["exact"] is True
    assert compare(expected, {"s|a": 5_000})["exact"] is False  # a key lost
    assert compare(expected, {"s|a": 5_000, "s|b": -500})["differences"] == 1  # a movement counted twice
