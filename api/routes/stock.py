"""Stock lookups, answered by the stream workers (see ``api.workers`` for failover).

``after`` is the token of a ``POST /v1/events``; the lookup then waits up to ``timeout_ms`` for the
owning worker to apply it (504 ``not_caught_up`` if it could not). Worker answers (200, 404, 504, ...)
are passed through as they are.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import WorkersDep
from api.workers import WorkerAnswer, lookup_params
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1/stores", tags=["stock"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
Sku = Annotated[str, Path(pattern=ID_PATTERN, description="Stock keeping unit")]
After = Annotated[str | None, Query(description="Token from POST /v1/events: read your own writes")]
TimeoutMs = Annotated[int, Query(ge=0, le=30_000, description="How long to wait for `after` to be applied")]
SkuPrefix = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]


def _answer(a: WorkerAnswer) -> Response:
    return Response(a.body, status_code=a.status, media_type="application/json")


@router.get("/{store_id}/stock/{sku}")
async def stock_item(store_id: StoreId, sku: Sku, workers: WorkersDep, after: After = None, timeout_ms: TimeoutMs = 2000) -> Response:
    return _answer(await workers.get(f"/stock/{store_id}/{sku}", lookup_params(after), timeout_ms))


@router.get("/{store_id}/stock")
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
