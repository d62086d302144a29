"""``GET /v1/catalog/uncatalogued``: stores not registered that sent events (accepted, unchecked),
with the skus they named that the catalog does not hold; counts and first/last seen over every API
instance (each publishes its totals every few seconds: api/uncatalogued.py). Register the store
and add the skus to make them managed.

Access: ``catalog:read``; a store-scoped caller sees its own stores only."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.authz import principal_of, requires
from api.deps import CatalogDep, ServicesDep
from api.openapi import AUTHED, GUARDED, VIEWS, errors
from domain.access import Permission
from schemas.answers import Uncatalogued

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])


@router.get(
    "/uncatalogued",
    response_model=Uncatalogued,
    responses=errors(*AUTHED, *VIEWS, *GUARDED),
    dependencies=[requires(Permission.CATALOG_READ)],
)
async def uncatalogued(request: Request, services: ServicesDep, catalog: CatalogDep) -> dict:
    await services.require("uncatalogued")
    who = principal_of(request)
    stores = [s for s in services.uncatalogued.listing(catalog.has_store, catalog.has_product) if who.covers(s["store_id"])]
    return {"stores": stores, "counts": catalog.counts()}
