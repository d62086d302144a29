"""Reports from the analytics process: cross-store for analysts, one store for its owner.

* ``GET /v1/reports``: the reports and their parameters.
* ``GET /v1/reports/{name}?store_id=&from=&to=&at=&days=&limit=&format=json|csv``: any store or all.
* ``GET /v1/stores/{store_id}/reports/{name}?...``: one store (reports with a ``store_id`` parameter).

Parameters and answers are those of the analytics process (``clickhouse/reports.py``): local days
are the store's, instants RFC 3339; ``format=csv`` exports any report. 422 ``invalid_parameter``,
404 ``unknown_report``, 503 ``analytics_unavailable``. The query is passed on as it is; the
parameters are listed in the OpenAPI document (``PARAMS``) without being read here, but for the
caller's scope.

Access: ``reports:read``; at ``store_id`` when one is named (the path's, or the query's). A
store-scoped credential asking for every store gets its own stores only: the API passes its scope
on as ``scope`` (narrowed by a ``scope`` the caller sent, never widened), and the analytics process,
asked with the API's own service token, filters on it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api.analytics import AnalyticsAnswer
from api.authz import check, principal_of, requires
from api.deps import AnalyticsDep
from api.openapi import AUTHED, GUARDED, errors
from domain.access import ALL_STORES, Permission, Principal
from schemas.answers import ReportList, ReportTable
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["reports"])

ReportName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Report name (GET /v1/reports)")]
StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]

# Every parameter some report takes (GET /v1/reports says which, and their types).
PARAMS = {
    "store_id": "Store id ('' or absent: every store in the caller's scope, where the report allows it)",
    "scope": "Only these stores, comma-separated (absent: every store in the caller's scope)",
    "sku": "Stock keeping unit",
    "from": "First local day, or instant (RFC 3339), by report",
    "to": "Last local day, or instant (RFC 3339), by report",
    "at": "As of this instant (RFC 3339; default now)",
    "date": "A local day (YYYY-MM-DD)",
    "days": "A number of days",
    "limit": "How many rows",
    "threshold": "A quantity (decimal)",
    "format": "json (default) or csv",
}
REPORT_ERRORS = errors("invalid_request", "unknown_report", "invalid_parameter", "analytics_unavailable", *AUTHED, *GUARDED)
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


def scoped(who: Principal, params: dict[str, str]) -> dict[str, str]:
    """The query with ``scope`` set to the stores ``who`` may see of those it asks for (every store:
    no scope); 403 when it asks only for stores outside its own."""
    if who.stores == ALL_STORES:
        return params
    asked = [s.strip() for s in params.get("scope", "").split(",") if s.strip()]
    visible = who.visible(asked) if asked else list(who.stores)
    if not visible:
        check(who, Permission.REPORTS_READ, asked[0] if asked else "*")  # raises: names the store refused
    return {**params, "scope": ",".join(visible)}


@router.get(
    "/reports",
    response_model=ReportList,
    responses=errors("analytics_unavailable", *AUTHED, *GUARDED),
    dependencies=[requires(Permission.REPORTS_READ)],
)
async def list_reports(analytics: AnalyticsDep) -> Response:
    return _answer(await analytics.get("/reports", {}))


@router.get(
    "/reports/{name}",
    response_model=ReportTable,
    responses=TABLE | REPORT_ERRORS,
    openapi_extra=_query(),
    dependencies=[requires(Permission.REPORTS_READ, store="query:store_id")],
)
async def report(name: ReportName, request: Request, analytics: AnalyticsDep) -> Response:
    return _answer(await analytics.get(f"/reports/{name}", scoped(principal_of(request), dict(request.query_params))))


@router.get(
    "/stores/{store_id}/reports/{name}",
    response_model=ReportTable,
    responses=TABLE | REPORT_ERRORS,
    openapi_extra=_query("store_id", "scope"),
    dependencies=[requires(Permission.REPORTS_READ, store="path:store_id")],
)
async def store_report(store_id: StoreId, name: ReportName, request: Request, analytics: AnalyticsDep) -> Response:
    query = {k: v for k, v in request.query_params.items() if k != "scope"}
    params = {**query, "store_id": store_id}  # the path's store, whatever the query says
    return _answer(await analytics.get(f"/reports/{name}", params))
