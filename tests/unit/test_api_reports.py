"""The API's report routes pass the analytics process's answers through, and say 503 when it is gone."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import errors
from api.analytics import AnalyticsClient
from api.errors import ApiError
from api.routes import reports
from bazaar.settings import Settings

pytestmark = pytest.mark.unit


def analytics_app(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/reports/daily_sales" and request.url.params.get("format") == "csv":
            return httpx.Response(200, content=b"store_id,day\ns1,2026-11-22\n", headers={
                "content-type": "text/csv", "content-disposition": 'attachment; filename="daily_sales.csv"'})
        if request.url.path == "/reports/nope":
            return httpx.Response(404, json={"error": "unknown_report", "detail": []})
        return httpx.Response(200, json={"report": request.url.path.rsplit("/", 1)[-1], "params": dict(request.url.params), "columns": [], "rows": []})
    return httpx.MockTransport(handle)


def client(transport: httpx.BaseTransport) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(analytics_url="http://analytics.test")
    app.state.http = httpx.AsyncClient(transport=transport)
    errors.install(app)
    app.include_router(reports.router)
    return TestClient(app)


def test_reports_are_passed_through_with_the_store_of_the_path():
    seen: list[httpx.Request] = []
    c = client(analytics_app(seen))
    body = c.get("/v1/stores/lahore-007/reports/stock_as_of", params={"store_id": "karachi-1", "at": "2026-11-22T18:00:00+05:00"}).json()
    assert body["params"] == {"store_id": "lahore-007", "at": "2026-11-22T18:00:00+05:00"}
    assert str(seen[-1].url).startswith("http://analytics.test/reports/stock_as_of?")
    csv = c.get("/v1/reports/daily_sales", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.startswith("store_id,day") and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="daily_sales.csv"'
    assert c.get("/v1/reports/nope").status_code == 404
    assert c.get("/v1/reports/Bad-Name").status_code == 422


def test_unreachable_analytics_is_503():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    resp = client(httpx.MockTransport(down)).get("/v1/reports/daily_sales")
    assert resp.status_code == 503 and resp.json()["error"] == "analytics_unavailable"
    with pytest.raises(ApiError):
        asyncio.run(AnalyticsClient(httpx.AsyncClient(transport=httpx.MockTransport(down)), "http://x").get("/reports", {}))
