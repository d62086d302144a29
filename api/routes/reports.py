"""Reports from the analytics process: cross-store for analysts, one store for its owner.

* ``GET /v1/reports``: the reports and their parameters.
* ``GET /v1/reports/{name}?store_id=&from=&to=&at=&days=&limit=&format=json|csv``: any store or all.
* ``GET /v1/stores/{store_id}/reports/{name}?...``: one store (reports with a ``store_id`` parameter).

Parameters and answers are those of the analytics process (``clickhouse/reports.py``): local days
are the store's, instants RFC 3339; ``format=csv`` exports any report. 422 ``invalid_parameter``,
404 ``unknown_report``, 503 ``analytics_unavailable``.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.analytics import AnalyticsAnswer, AnalyticsDep
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["reports"])

ReportName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Report name (GET /v1/reports)")]
StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]


def _answer(a: AnalyticsAnswer) -> Response:
    return Response(a.body, status_code=a.status, media_type=a.content_type, headers=a.headers)


@router.get("/reports")
async def list_reports(analytics: AnalyticsDep) -> Response:
    return _answer(await analytics.get("/reports", {}))


@router.get("/reports/{name}")
async def report(name: ReportName, request: Request, analytics: AnalyticsDep) -> Response:
    return _answer(await analytics.get(f"/reports/{name}", dict(request.query_params)))


@router.get("/stores/{store_id}/reports/{name}")
async def store_report(store_id: StoreId, name: ReportName, request: Request, analytics: AnalyticsDep) -> Response:
    params = {**dict(request.query_params), "store_id": store_id}  # the path's store, whatever the query says
    return _answer(await analytics.get(f"/reports/{name}", params))
