"""A store's working lists, made from its own history: the counter's quick keys and the reorder list.

* ``GET /v1/stores/{store_id}/quick-keys?limit=12``: the products the store sold most often over
  its last 30 local days (``top_sellers`` of the analytics process, re-ranked by bills: a quick key
  is for what is rung up often, not for what brings the most money), catalogued and active only.
  No analytics answer, or no sales yet: no keys (200, ``items: []``); the counter works without.
* ``GET /v1/stores/{store_id}/reorder``: the products at or under their reorder point, by supplier,
  with whole packs to order (``domain.reorder``); on-hand is the stream workers' (as the stock
  lookups), the supplier the catalog's, else the last purchase's (``last_suppliers`` report; the
  catalog's alone when analytics does not answer: ``suppliers_from_purchases: false``).
  ``format=csv`` (or ``Accept: text/csv``) exports it.

Access: quick keys need ``stock:read`` at the path's store (the counter is paired as a terminal or
a cashier); the reorder list ``reports:read`` (owners, managers and analysts: what to buy, and from
whom, is a buying decision, not a counter's).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Header, Path, Query, Response

from api.analytics import AnalyticsClient
from api.authz import requires
from api.catalog_view import CatalogView
from api.deps import AnalyticsDep, CatalogDep, WorkersDep
from api.errors import ApiError
from api.openapi import AUTHED, GUARDED, VIEWS, errors
from api.routes.stock import worker_error
from api.workers import WorkerClient, lookup_params
from domain import reorder
from domain.access import Permission
from schemas.answers import QuickKeys, ReorderList
from schemas.catalog import Product, StoreProduct
from schemas.types import ID_PATTERN

log = logging.getLogger("bazaar.api.lists")
router = APIRouter(prefix="/v1/stores", tags=["stores"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
QUICK_DAYS = 30
CANDIDATES = 200  # top sellers by revenue re-ranked by bills: a key sold often but cheaply is among them
STOCK_PAGE = 1000
CSV_MEDIA = "text/csv; charset=utf-8"


def store_today(catalog: CatalogView, store_id: str) -> datetime:
    store = catalog.store(store_id)
    return datetime.now(ZoneInfo(store.timezone) if store else ZoneInfo("UTC"))


async def _rows(analytics: AnalyticsClient, name: str, params: dict[str, str]) -> list[dict[str, Any]] | None:
    """A report's rows; None when the analytics process does not answer it."""
    try:
        answer = await analytics.get(f"/reports/{name}", params)
    except ApiError as exc:
        log.info("analytics did not answer", extra={"report": name, "error": str(exc)})
        return None
    if answer.status != 200:
        log.warning("analytics refused a report", extra={"report": name, "status": answer.status})
        return None
    rows = orjson.loads(answer.body).get("rows")
    return rows if isinstance(rows, list) else None


@router.get(
    "/{store_id}/quick-keys",
    response_model=QuickKeys,
    responses=errors("invalid_request", *AUTHED, *VIEWS, *GUARDED),
    dependencies=[requires(Permission.STOCK_READ, store="path:store_id")],
)
async def quick_keys(
    store_id: StoreId, analytics: AnalyticsDep, catalog: CatalogDep, limit: Annotated[int, Query(ge=1, le=60)] = 12
) -> dict:
    today = store_today(catalog, store_id).date()
    params = {"store_id": store_id, "from": str(today - timedelta(days=QUICK_DAYS - 1)), "to": str(today), "limit": str(CANDIDATES)}
    rows = await _rows(analytics, "top_sellers", params) or []
    ranked = sorted(rows, key=lambda r: (-int(r.get("bills") or 0), -Decimal(str(r.get("revenue") or 0)), str(r.get("sku"))))
    items = []
    for r in ranked:
        product = catalog.product(str(r.get("sku")))
        if product is None or int(r.get("bills") or 0) <= 0 or not reorder.is_active(product, catalog.override(store_id, product.sku)):
            continue
        items.append({"sku": product.sku, "name": product.name, "names": product.names, "unit": product.unit, "sold": int(r["bills"])})
        if len(items) == limit:
            break
    return {"store_id": store_id, "items": items}


async def _stock(workers: WorkerClient, store_id: str) -> list[tuple[str, Decimal]] | Response:
    """Every (sku, on-hand) of the store from the workers, page by page; a worker's error as its answer."""
    out: list[tuple[str, Decimal]] = []
    cursor: str | None = None
    while True:
        a = await workers.get(f"/stock/{store_id}", lookup_params(None, limit=STOCK_PAGE, cursor=cursor), 5000)
        if a.status != 200:
            return Response(worker_error(a.status, a.body), status_code=a.status, media_type="application/json")
        page = orjson.loads(a.body)
        out += [(i["sku"], Decimal(i["on_hand"])) for i in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


@router.get(
    "/{store_id}/reorder",
    response_model=ReorderList,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "As JSON, or with format=csv a CSV file"},
        **errors("invalid_request", "worker_unavailable", "not_caught_up", *AUTHED, *VIEWS, *GUARDED),
    },
    dependencies=[requires(Permission.REPORTS_READ, store="path:store_id")],
)
async def reorder_list(
    store_id: StoreId,
    workers: WorkersDep,
    analytics: AnalyticsDep,
    catalog: CatalogDep,
    format: Annotated[Literal["json", "csv"] | None, Query(description="csv: a CSV file (as Accept: text/csv)")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    stock = await _stock(workers, store_id)
    if isinstance(stock, Response):
        return stock
    products: dict[str, Product] = {}
    overrides: dict[str, StoreProduct] = {}
    for sku, _ in stock:
        product = catalog.product(sku)
        if product is not None:
            products[sku] = product
            override = catalog.override(store_id, sku)
            if override is not None:
                overrides[sku] = override
    groups = reorder.build(stock, products, overrides, {})
    from_purchases = True
    if any(source is None for _, source, _ in groups):  # someone's supplier is not in the catalog: ask the purchases
        rows = await _rows(analytics, "last_suppliers", {"store_id": store_id})
        from_purchases = rows is not None
        suppliers = {str(r["sku"]): str(r["supplier"]) for r in rows or () if r.get("supplier")}
        groups = reorder.build(stock, products, overrides, suppliers)
    as_csv = format == "csv" or (format is None and accept is not None and "text/csv" in accept)
    if as_csv:
        return Response(
            reorder.csv_text(groups),
            media_type=CSV_MEDIA,
            headers={"Content-Disposition": f'attachment; filename="reorder-{store_id}.csv"'},
        )
    return {
        "store_id": store_id,
        "groups": [{"supplier": s, "source": src, "lines": [_line(ln) for ln in lines]} for s, src, lines in groups],
        "suppliers_from_purchases": from_purchases,
    }


def _line(ln: reorder.Line) -> dict[str, Any]:
    return {
        "sku": ln.sku,
        "name": ln.name,
        "names": ln.names,
        "unit": ln.unit,
        "on_hand": ln.on_hand,
        "reorder_point": ln.reorder_point,
        "suggested": ln.suggested,
        "pack_unit": ln.pack.unit if ln.pack else None,
        "pack_size": ln.pack.size if ln.pack else None,
        "packs": ln.packs,
    }
