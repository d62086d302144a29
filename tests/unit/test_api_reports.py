"""The API's report routes pass the analytics process's answers through, and say 503 when it is gone."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import errors
from api.analytics import AnalyticsClient
from api.errors import ApiError
from api.http import HttpAnswer, Unreachable
from api.routes import reports
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit


def analytics_app(seen: list[tuple[str, dict]]):
    """An ``HttpGet`` standing in for the analytics process: (url, query) recorded, answers by path."""

    async def get(url: str, params: dict[str, str], timeout_s: float) -> HttpAnswer:
        seen.append((url, params))
        path = url.split("analytics.test", 1)[-1]
        if path == "/reports/daily_sales" and params.get("format") == "csv":
            return HttpAnswer(
                200,
                b"store_id,day\ns1,2026-11-22\n",
                {"content-type": "text/csv", "content-disposition": 'attachment; filename="daily_sales.csv"'},
            )
        if path == "/reports/nope":
            return HttpAnswer(404, b'{"error": "unknown_report", "detail": []}', {"content-type": "application/json"})
        body = {"report": path.rsplit("/", 1)[-1], "params": params, "columns": [], "rows": []}
        return HttpAnswer(200, json.dumps(body).encode(), {"content-type": "application/json"})

    return get


def client(get) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(analytics_url="http://analytics.test", auth_required=False)  # access: test_route_scoping.py
    app.state.http_get = get
    errors.install(app)
    app.include_router(reports.router)
    return TestClient(app)


def test_reports_are_passed_through_with_the_store_of_the_path():
    seen: list[tuple[str, dict]] = []
    c = client(analytics_app(seen))
    body = c.get("/v1/stores/lahore-007/reports/stock_as_of", params={"store_id": "karachi-1", "at": "2026-11-22T18:00:00+05:00"}).json()
    assert body["params"] == {"store_id": "lahore-007", "at": "2026-11-22T18:00:00+05:00"}
    assert seen[-1][0] == "http://analytics.test/reports/stock_as_of"
    csv = c.get("/v1/reports/daily_sales", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.startswith("store_id,day") and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="daily_sales.csv"'
    assert c.get("/v1/reports/nope").status_code == 404
    assert c.get("/v1/reports/Bad-Name").status_code == 422


def test_unreachable_analytics_is_503():
    async def down(url: str, params: dict[str, str], timeout_s: float) -> HttpAnswer:
        raise Unreachable("ClientConnectorError connection refused")

    resp = client(down).get("/v1/reports/daily_sales")
    assert resp.status_code == 503 and resp.json()["error"] == "analytics_unavailable"
    with pytest.raises(ApiError):
        asyncio.run(AnalyticsClient(down, "http://x").get("/reports", {}))
