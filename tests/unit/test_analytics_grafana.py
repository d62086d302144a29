"""The analysts' dashboard: generated from the report SQL files, and every panel's SQL runs on the
migrated schema (embedded chDB, with a small history loaded) once Grafana's macros are expanded."""

from __future__ import annotations

import json
import re

import pytest

from bazaar_core.loadgen.generator import GenConfig, Generator
from clickhouse import grafana
from clickhouse.migrate import migrate
from clickhouse.reports import PLACEHOLDER, REPORTS
from tests.chdb_databases import fresh_database
from tests.unit.test_analytics_reports import load

pytestmark = pytest.mark.unit


def expand(sql: str, store: str, start_s: int, end_s: int) -> str:
    """What the ClickHouse plugin sends: $__fromTime/$__toTime as toDateTime(seconds), variables substituted."""
    sql = sql.replace("$__fromTime", f"toDateTime({start_s})").replace("$__toTime", f"toDateTime({end_s})")
    sql = sql.replace("${store}", store)
    assert "$" not in sql, re.findall(r"\$\S+", sql)
    return sql


def test_dashboard_file_is_generated_from_the_sql_files():
    committed = json.loads(grafana.DASHBOARD.read_text())
    assert committed == grafana.dashboard(), "stale: run python -m clickhouse.grafana"
    titles = {p["title"] for p in committed["panels"]}
    assert any("Revenue" in t for t in titles) and any("Top products" in t for t in titles)
    assert any("Stock-outs" in t for t in titles) and any("Low stock by store" in t for t in titles)
    for panel in committed["panels"]:
        name = panel["description"].removeprefix("clickhouse/sql/").removesuffix(".sql")
        raw = panel["targets"][0]["rawSql"]
        assert panel["datasource"]["type"] == "grafana-clickhouse-datasource"
        assert not PLACEHOLDER.search(raw)
        # the panel's SQL is the file's, parameter by parameter
        pattern = "".join(
            "(.+?)" if i % 3 == 1 else "" if i % 3 == 2 else re.escape(part) for i, part in enumerate(PLACEHOLDER.split(REPORTS[name].sql))
        )
        assert re.fullmatch(pattern, raw, re.S), panel["title"]


def test_every_panel_query_runs_on_the_migrated_schema():
    db = fresh_database()
    migrate(db)
    gen = Generator(GenConfig(stores=3, skus=15, days=2, events_per_store_day=25, seed=3))
    model, _ = load(db, gen)
    start_s = min(r.at for r in model.rows) // 1_000_000 - 86_400
    end_s = max(r.at for r in model.rows) // 1_000_000 + 86_400
    answered = {}
    for panel in grafana.dashboard()["panels"]:
        for store in ("", gen.stores[0]):
            rows = db.query(expand(panel["targets"][0]["rawSql"], store, start_s, end_s)).result_rows  # runs, or raises
            answered[(panel["title"], store)] = len(rows)
    assert len(answered) == 2 * len(grafana.PANELS)
    for title in (
        "Revenue per store per local day",
        "Top products by revenue",
        "Stock value at cost per store",
        "Days of cover (14-day sales)",
    ):
        assert answered[(title, "")] and answered[(title, gen.stores[0])], title
