"""Reports from the analytics process: cross-store for analysts, one store for its owner.

* ``GET /v1/reports``: the reports and their parameters.
* ``GET /v1/reports/{name}?store_id=&from=&to=&at=&days=&limit=&format=json|csv``: any store or all.
* ``GET /v1/stores/{store_id}/reports/{name}?...``: one store (reports with a ``store_id`` parameter).

Parameters and answers are those of the analytics process (``clickhouse/reports.py``): local days
are the store's, instants RFC 3339; ``format=csv`` exports any report. 422 ``invalid_parameter``,
404 ``unknown_report``, 503 ``analytics_unavailable``. The query is passed on as it is; the
parameters are listed in the OpenAPI document (``PARAMS``) without being read here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api.analytics import AnalyticsAnswer
from api.deps import AnalyticsDep
from api.openapi import GUARDED, errors
from schemas.answers import ReportList, ReportTable
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["reports"])

ReportName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Report name (GET /v1/reports)")]
StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]

# Every parameter some report takes (GET /v1/reports says which, and their types).
PARAMS = {
    "store_id": "Store id ('' or absent: every store, where the report allows it)",
    "sku": "Stock keeping unit",
    "from": "First local day, or instant (RFC 3339), by report",
    "to": "Last local day, or instant (RFC 3339), by report",
    "at": "As of this instant (RFC 3339; default now)",
    "days": "A number of days",
    "limit": "How many rows",
    "threshold": "A quantity (decimal)",
    "format": "json (default) or csv",
}
REPORT_ERRORS = errors("invalid_request", "unknown_report", "invalid_parameter", "analytics_unavailable", *GUARDED)
TABLE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report as JSON, or with format=csv as a CSV file (a header row, then the rows)",
    }
}


def _query(*skip: str) -> dict[str, Any]:
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
            for n, d in PARAMS.items()
            if n not in skip
        ]
    }


def _answer(a: AnalyticsAnswer) -> Response:
    return Response(a.body, status_code=a.status, media_type=a.content_type, headers=a.headers)


@router.get("/reports", response_model=ReportList, responses=errors("analytics_unavailable", *GUARDED))
async def list_reports(analytics: AnalyticsDep) -> Response:
    return _answer(await analytics.get("/reports", {}))


@router.get("/reports/{name}", response_model=ReportTable, responses=TABLE | REPORT_ERRORS, openapi_extra=_query())
async def report(name: ReportName, request: Request, analytics: AnalyticsDep) -> Response:
    return _answer(await analytics.get(f"/reports/{name}", dict(request.query_params)))


@router.get(
    "/stores/{store_id}/reports/{name}", response_model=ReportTable, responses=TABLE | REPORT_ERRORS, openapi_extra=_query("store_id")
)
async def store_report(store_id: StoreId, name: ReportName, request: Request, analytics: AnalyticsDep) -> Response:
    params = {**dict(request.query_params), "store_id": store_id}  # the path's store, whatever the query says
    return _answer(await analytics.get(f"/reports/{name}", params))
