"""Stores: ``PUT /v1/stores/{store_id}`` (registers it: the store becomes *managed*, so its events
may name only catalogued skus), ``GET /v1/stores/{store_id}``, ``GET /v1/stores?limit=&cursor=``.

Access: registering a store is the central catalog's (``catalog:write``: ``admin``); reading one
takes ``catalog:read`` at that store, and the list holds only the stores in the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api import bodies
from api.authz import principal_of, requires
from api.deps import CatalogDep, ServicesDep
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body
from domain.access import Permission
from schemas.answers import StorePage
from schemas.catalog import Store
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1/stores", tags=["catalog"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
WRITE = ("invalid_request", "invalid_json", "invalid_body", "broker_unavailable", *AUTHED, *WITH_BODY, *VIEWS, *GUARDED)


@router.put(
    "/{store_id}",
    status_code=201,
    response_model=Store,
    response_description="Registered",
    responses={200: {"model": Store, "description": "Replaced"}, **errors(*WRITE)},
    openapi_extra=json_body(
        Store, optional=["store_id"], description="The store; `store_id` may be left out (else it must match the path)"
    ),
    dependencies=[requires(Permission.CATALOG_WRITE, store="path:store_id")],
)
async def put_store(store_id: StoreId, request: Request, response: Response, services: ServicesDep, catalog: CatalogDep) -> Store:
    store = bodies.validate(Store, bodies.same_as_path(await bodies.json_object(request), "store_id", store_id))
    existed = catalog.has_store(store_id)
    written = await services.write(services.settings.stores_topic, store_id.encode(), store.model_dump_json().encode())
    catalog.put_store(written.offset, store)
    response.status_code = 200 if existed else 201
    return store


@router.get(
    "/{store_id}",
    response_model=Store,
    responses=errors("invalid_request", "not_found", *AUTHED, *VIEWS, *GUARDED),
    dependencies=[requires(Permission.CATALOG_READ, store="path:store_id")],
)
async def get_store(store_id: StoreId, catalog: CatalogDep) -> Store:
    store = catalog.store(store_id)
    if store is None:
        raise bodies.not_found("store_id", f"unknown store {store_id!r}")
    return store


@router.get(
    "",
    response_model=StorePage,
    responses=errors("invalid_request", *AUTHED, *VIEWS, *GUARDED),
    dependencies=[requires(Permission.CATALOG_READ)],
)
async def list_stores(
    request: Request,
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=ID_PATTERN, description="next_cursor of the previous page")] = None,
) -> StorePage:
    who = principal_of(request)
    stores = [s for s in catalog.stores() if (cursor is None or s.store_id > cursor) and who.covers(s.store_id)]
    page = stores[:limit]
    more = len(stores) > limit
    return StorePage(items=page, next_cursor=page[-1].store_id if more else None)
