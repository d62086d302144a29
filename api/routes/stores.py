"""Stores: ``PUT /v1/stores/{store_id}`` (registers it: the store becomes *managed*, so its events
may name only catalogued skus), ``GET /v1/stores/{store_id}``, ``GET /v1/stores?limit=&cursor=``."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api import bodies
from api.services import CatalogDep, ServicesDep
from schemas.catalog import Store
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1/stores", tags=["catalog"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]


@router.put("/{store_id}")
async def put_store(store_id: StoreId, request: Request, response: Response, services: ServicesDep, catalog: CatalogDep) -> dict:
    store = bodies.validate(Store, bodies.same_as_path(await bodies.json_object(request), "store_id", store_id))
    existed = catalog.has_store(store_id)
    written = await services.write(services.settings.stores_topic, store_id.encode(), store.model_dump_json().encode())
    catalog.put_store(written.offset, store)
    response.status_code = 200 if existed else 201
    return store.model_dump(mode="json")


@router.get("/{store_id}")
async def get_store(store_id: StoreId, catalog: CatalogDep) -> dict:
    store = catalog.store(store_id)
    if store is None:
        raise bodies.not_found("store_id", f"unknown store {store_id!r}")
    return store.model_dump(mode="json")


@router.get("")
async def list_stores(
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=ID_PATTERN, description="next_cursor of the previous page")] = None,
) -> dict:
    stores = [s for s in catalog.stores() if cursor is None or s.store_id > cursor]
    page = stores[:limit]
    more = len(stores) > limit
    return {"items": [s.model_dump(mode="json") for s in page], "next_cursor": page[-1].store_id if more else None}
