"""Stock lookups, answered by the stream workers (see ``api.workers`` for failover).

``after`` is the token of a ``POST /v1/events``; the lookup then waits up to ``timeout_ms`` for the
owning worker to apply it (504 ``not_caught_up`` if it could not). A worker's answer is passed
through as it is (200 ``StockItem`` or ``StockPage``), its errors (404 ``not_found``, 504
``not_caught_up``) in the API's error shape.

Access: ``stock:read`` at the path's store. The workers are asked with the API's own service token
(``api.workers``), not the caller's.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response

from api.authz import requires
from api.deps import WorkersDep
from api.errors import issue
from api.openapi import AUTHED, GUARDED, errors
from api.workers import WorkerAnswer, lookup_params
from domain.access import Permission
from schemas.answers import StockItem, StockPage
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1/stores", tags=["stock"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
Sku = Annotated[str, Path(pattern=ID_PATTERN, description="Stock keeping unit")]
After = Annotated[str | None, Query(description="Token from POST /v1/events: read your own writes")]
TimeoutMs = Annotated[int, Query(ge=0, le=30_000, description="How long to wait for `after` to be applied")]
SkuPrefix = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]

LOOKUP_ERRORS = ("invalid_request", "invalid_token", "not_caught_up", "worker_unavailable", *AUTHED, *GUARDED)
READ = [requires(Permission.STOCK_READ, store="path:store_id")]


def _answer(a: WorkerAnswer) -> Response:
    body = a.body if a.status == 200 else worker_error(a.status, a.body)
    return Response(body, status_code=a.status, media_type="application/json")


def worker_error(status: int, body: bytes) -> bytes:
    """A worker's error (``{"error", "detail": "text"}``) in the API's error shape: detail a list of issues."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        text = body.decode("utf-8", "replace").strip()[:500]
        return orjson.dumps({"error": f"worker_http_{status}", "detail": [issue(None, text or f"HTTP {status} from a stream worker")]})
    detail = data.get("detail")
    if isinstance(detail, list):
        return body
    return orjson.dumps({"error": data["error"], "detail": [issue(None, str(detail) if detail is not None else data["error"])]})


@router.get("/{store_id}/stock/{sku}", response_model=StockItem, responses=errors("not_found", *LOOKUP_ERRORS), dependencies=READ)
async def stock_item(store_id: StoreId, sku: Sku, workers: WorkersDep, after: After = None, timeout_ms: TimeoutMs = 2000) -> Response:
    return _answer(await workers.get(f"/stock/{store_id}/{sku}", lookup_params(after), timeout_ms))


@router.get("/{store_id}/stock", response_model=StockPage, responses=errors(*LOOKUP_ERRORS), dependencies=READ)
async def stock_list(
    store_id: StoreId,
    workers: WorkersDep,
    after: After = None,
    timeout_ms: TimeoutMs = 2000,
    sku_prefix: SkuPrefix = None,
    negative: bool | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    params = lookup_params(after, sku_prefix=sku_prefix, negative=negative, limit=limit, cursor=cursor)
    return _answer(await workers.get(f"/stock/{store_id}", params, timeout_ms))
