"""The central product catalog.

* ``PUT /v1/products/{sku}``: body = a Product (schemas/catalog.py), ``sku`` optional (must match the
  path); 201 when new, 200 when replaced, with the stored product. Written to the products topic
  (acks=all) before the answer, so a following GET on this instance sees it.
* ``GET /v1/products/{sku}``: 404 ``not_found`` when unknown.
* ``GET /v1/products?q=&limit=&cursor=``: search by exact sku or barcode, name in any language
  (Roman Urdu too, by sound and with one typo), then sku or barcode prefix: the counter's rules
  (see ``domain.catalog_search``), best first; ``next_cursor`` for the next page.
* ``POST /v1/products:import``: a ``text/csv`` body (``domain.catalog_csv``), read as it arrives
  (``api.catalog_import``); loads the good rows and answers ``{"imported": n, "errors": [{"line",
  "sku", "reason"}]}`` (the first 1,000 errors; ``more_errors``: how many more); 400 ``invalid_csv``
  when the file as a whole cannot be read (header). Its body may be up to ``max_import_bytes``.

Searching ranks products in a worker thread: a broad query over a large catalog must not hold the
event loop (every other request waits on it).

Access: ``catalog:read`` to read; the central catalog is written (``PUT``, import) with
``catalog:write``, which only ``admin`` holds (a store's own prices and reorder points are its
overrides: ``api.routes.store_products``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from api import bodies, catalog_import
from api.authz import requires
from api.deps import CatalogDep, ServicesDep
from api.errors import ApiError, issue
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body, text_body
from api.services import unavailable
from domain import catalog_csv
from domain.access import Permission
from schemas.answers import ImportReport, ProductPage
from schemas.catalog import Product
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["catalog"])

Sku = Annotated[str, Path(pattern=ID_PATTERN, description="Stock keeping unit")]


WRITE = ("invalid_request", "invalid_json", "invalid_body", "broker_unavailable", *AUTHED, *WITH_BODY, *VIEWS, *GUARDED)
READ_ACCESS = [requires(Permission.CATALOG_READ)]
WRITE_ACCESS = [requires(Permission.CATALOG_WRITE)]


@router.put(
    "/products/{sku}",
    status_code=201,
    response_model=Product,
    response_description="Created",
    responses={200: {"model": Product, "description": "Replaced"}, **errors(*WRITE)},
    openapi_extra=json_body(Product, optional=["sku"], description="The product; `sku` may be left out (else it must match the path)"),
    dependencies=WRITE_ACCESS,
)
async def put_product(sku: Sku, request: Request, response: Response, services: ServicesDep, catalog: CatalogDep) -> Product:
    product = bodies.validate(Product, bodies.same_as_path(await bodies.json_object(request), "sku", sku))
    existed = catalog.has_product(sku)
    raw = product.model_dump_json().encode()
    written = await services.write(services.settings.products_topic, sku.encode(), raw)
    catalog.put_product(written.offset, product, raw)
    response.status_code = 200 if existed else 201
    return product


@router.get(
    "/products/{sku}",
    response_model=Product,
    responses=errors("invalid_request", "not_found", *AUTHED, *VIEWS, *GUARDED),
    dependencies=READ_ACCESS,
)
async def get_product(sku: Sku, catalog: CatalogDep) -> Response:
    raw = catalog.product_json(sku)
    if raw is None:
        raise bodies.not_found("sku", f"unknown sku {sku!r}")
    return Response(raw, media_type="application/json")  # the stored JSON of a Product, as it is


@router.get(
    "/products",
    response_model=ProductPage,
    responses=errors("invalid_request", "invalid_cursor", *AUTHED, *VIEWS, *GUARDED),
    dependencies=READ_ACCESS,
)
async def search_products(
    catalog: CatalogDep,
    q: Annotated[str, Query(max_length=200, description="Name in any language, sku prefix or barcode prefix")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    try:
        items, next_cursor = await asyncio.to_thread(catalog.search, q, limit, cursor)
    except ValueError as exc:
        raise ApiError(400, "invalid_cursor", [issue("cursor", str(exc))]) from None
    body = b'{"items":[' + b",".join(items) + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"
    return Response(body, media_type="application/json")


@router.post(
    "/products:import",
    response_model=ImportReport,
    response_model_exclude_unset=True,
    responses=errors("invalid_csv", "broker_unavailable", *AUTHED, *WITH_BODY, *VIEWS, *GUARDED),
    openapi_extra=text_body(
        "text/csv",
        "A header row naming the columns (sku, name, ...: domain/catalog_csv.py), then a product a row",
        "sku,name,unit,price\nbasmati-rice-loose,Basmati rice,kg,380.00\n",
    ),
    dependencies=WRITE_ACCESS,
)
async def import_products(request: Request, services: ServicesDep, catalog: CatalogDep) -> dict:
    if services.broker_down():
        raise unavailable("broker unavailable")
    topic = services.settings.products_topic

    async def store(batch: list[catalog_import.Ready]) -> list[catalog_csv.RowError]:
        results = await services.writer.write_many([(topic, r.row.product.sku.encode(), r.raw) for r in batch])
        failed = []
        for ready, written in zip(batch, results):
            if written.ok and written.offset is not None:  # (an acked record has its offset)
                catalog.put_product(written.offset, ready.row.product, ready.raw, ready.entry)
            else:
                failed.append(
                    catalog_csv.RowError(ready.row.line, ready.row.product.sku, f"not stored ({written.error}); import the file again")
                )
        return failed

    try:
        report = await catalog_import.run(request.stream(), store)
    except catalog_csv.CsvFileError as exc:
        raise ApiError(400, "invalid_csv", [issue(None, str(exc))]) from None
    return report.as_dict()
