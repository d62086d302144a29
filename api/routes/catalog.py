"""``GET /v1/catalog/uncatalogued``: stores not registered that sent events (accepted, unchecked),
with the skus they named that the catalog does not hold; counts and first/last seen over every API
instance (each publishes its totals every few seconds: api/uncatalogued.py). Register the store
and add the skus to make them managed."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CatalogDep, ServicesDep
from api.openapi import GUARDED, VIEWS, errors
from schemas.answers import Uncatalogued

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])


@router.get("/uncatalogued", response_model=Uncatalogued, responses=errors(*VIEWS, *GUARDED))
async def uncatalogued(services: ServicesDep, catalog: CatalogDep) -> dict:
    await services.require("uncatalogued")
    stores = services.uncatalogued.listing(catalog.has_store, catalog.has_product)
    return {"stores": stores, "counts": catalog.counts()}
