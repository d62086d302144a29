"""Every Prometheus metric the alert rules and the operations dashboard query is one the code exports
(a renamed metric would otherwise leave an alert that can never fire and a panel that stays empty)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEFINED = re.compile(r'\b(Counter|Gauge|Histogram|Summary)\(\s*"([a-z_][a-z0-9_]*)"')
QUERIED = re.compile(r"\bbazaar_[a-z0-9_]+")
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": (),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("_sum", "_count", "_created"),
}


def exported() -> set[str]:
    """The series names the code's metrics produce (a counter's ``_total`` is added when not in its name)."""
    names: set[str] = set()
    for package in ("api", "streams", "bazaar", "bazaar_core", "clickhouse", "agents"):
        for path in (ROOT / package).rglob("*.py"):
            for kind, name in DEFINED.findall(path.read_text()):
                base = name.removesuffix("_total") if kind == "Counter" else name
                names.add(name)
                names.update(base + suffix for suffix in SUFFIXES[kind])
    return names


def queried() -> dict[str, set[str]]:
    files = [*(ROOT / "deploy" / "prometheus").glob("*.yml"), ROOT / "deploy" / "grafana" / "operations.json"]
    return {path.relative_to(ROOT).as_posix(): set(QUERIED.findall(path.read_text())) for path in files}


def test_rules_and_dashboard_query_only_exported_metrics():
    names = exported()
    assert {"bazaar_stream_events_total", "bazaar_stream_batch_seconds_bucket", "bazaar_stream_lookup_waits"} <= names
    used = queried()
    assert used["deploy/prometheus/rules.yml"] and used["deploy/grafana/operations.json"]
    unknown = {path: sorted(metrics - names) for path, metrics in used.items() if metrics - names}
    assert not unknown, f"queried but not exported by the code: {unknown}"
