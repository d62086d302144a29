"""Per-store overrides of a product, and the product as a store sees it.

* ``PUT /v1/stores/{store_id}/products/{sku}``: body ``{"price", "reorder_point", "active"}`` (each
  optional; null or absent = use the product's). The store must be registered and the sku in the
  catalog (404 otherwise). 201 when new, 200 when replaced, with the stored override.
* ``GET /v1/stores/{store_id}/products/{sku}``: the product with the store's overrides applied, plus
  ``store_id`` and ``overridden`` (the fields that came from the store).

Access: ``store-catalog:write`` at the path's store to write (an owner sets their own prices),
``catalog:read`` there to read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api import bodies
from api.authz import requires
from api.catalog_view import override_key
from api.deps import CatalogDep, ServicesDep
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body
from domain.access import Permission
from domain.catalog import effective
from schemas.answers import EffectiveProduct
from schemas.catalog import StoreProduct
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1/stores", tags=["catalog"])

StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
Sku = Annotated[str, Path(pattern=ID_PATTERN, description="Stock keeping unit")]
WRITE = ("invalid_request", "invalid_json", "invalid_body", "not_found", "broker_unavailable", *AUTHED, *WITH_BODY, *VIEWS, *GUARDED)


def _known(catalog, store_id: str, sku: str):
    if not catalog.has_store(store_id):
        raise bodies.not_found("store_id", f"unknown store {store_id!r}: register it with PUT /v1/stores/{store_id}")
    product = catalog.product(sku)
    if product is None:
        raise bodies.not_found("sku", f"unknown sku {sku!r}: add it with PUT /v1/products/{sku}")
    return product


@router.put(
    "/{store_id}/products/{sku}",
    status_code=201,
    response_model=StoreProduct,
    response_description="Created",
    responses={200: {"model": StoreProduct, "description": "Replaced"}, **errors(*WRITE)},
    openapi_extra=json_body(
        StoreProduct,
        optional=["store_id", "sku"],
        description="The overrides; `store_id` and `sku` may be left out (else they must match the path)",
    ),
    dependencies=[requires(Permission.STORE_CATALOG_WRITE, store="path:store_id")],
)
async def put_override(
    store_id: StoreId, sku: Sku, request: Request, response: Response, services: ServicesDep, catalog: CatalogDep
) -> StoreProduct:
    body = bodies.same_as_path(bodies.same_as_path(await bodies.json_object(request), "store_id", store_id), "sku", sku)
    override = bodies.validate(StoreProduct, body)
    _known(catalog, store_id, sku)
    existed = catalog.override(store_id, sku) is not None
    written = await services.write(
        services.settings.store_products_topic, override_key(store_id, sku).encode(), override.model_dump_json().encode()
    )
    catalog.put_override(written.offset, override)
    response.status_code = 200 if existed else 201
    return override


@router.get(
    "/{store_id}/products/{sku}",
    response_model=EffectiveProduct,
    responses=errors("invalid_request", "not_found", *AUTHED, *VIEWS, *GUARDED),
    dependencies=[requires(Permission.CATALOG_READ, store="path:store_id")],
)
async def get_effective(store_id: StoreId, sku: Sku, catalog: CatalogDep) -> dict:
    product = _known(catalog, store_id, sku)
    return effective(product, catalog.override(store_id, sku), store_id)
