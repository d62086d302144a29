"""The central product catalog.

* ``PUT /v1/products/{sku}``: body = a Product (schemas/catalog.py), ``sku`` optional (must match the
  path); 201 when new, 200 when replaced, with the stored product. Written to the products topic
  (acks=all) before the answer, so a following GET on this instance sees it.
* ``GET /v1/products/{sku}``: 404 ``not_found`` when unknown.
* ``GET /v1/products?q=&limit=&cursor=``: search by name in any language, sku or barcode prefix
  (see ``domain.catalog_search``), best first; ``next_cursor`` for the next page.
* ``POST /v1/products:import``: a CSV body (``domain.catalog_csv``); loads the good rows and answers
  ``{"imported": n, "errors": [{"line", "sku", "reason"}]}``; 400 ``invalid_csv`` when the file as a
  whole cannot be read (header).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api import bodies
from api.errors import ApiError, issue
from api.services import CatalogDep, ServicesDep, unavailable
from domain import catalog_csv
from domain.catalog_search import search
from schemas.catalog import Product
from schemas.types import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["catalog"])

Sku = Annotated[str, Path(pattern=ID_PATTERN, description="Stock keeping unit")]
MAX_CSV_BYTES = 20 * 1024 * 1024


@router.put("/products/{sku}")
async def put_product(sku: Sku, request: Request, response: Response, services: ServicesDep, catalog: CatalogDep) -> dict:
    product = bodies.validate(Product, bodies.same_as_path(await bodies.json_object(request), "sku", sku))
    existed = catalog.product(sku) is not None
    written = await services.write(services.settings.products_topic, sku.encode(), product.model_dump_json().encode())
    catalog.put_product(written.offset, product)
    response.status_code = 200 if existed else 201
    return product.model_dump(mode="json")


@router.get("/products/{sku}")
async def get_product(sku: Sku, catalog: CatalogDep) -> dict:
    product = catalog.product(sku)
    if product is None:
        raise bodies.not_found("sku", f"unknown sku {sku!r}")
    return product.model_dump(mode="json")


@router.get("/products")
async def search_products(
    catalog: CatalogDep,
    q: Annotated[str, Query(max_length=200, description="Name in any language, sku prefix or barcode prefix")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict:
    try:
        items, next_cursor = search(catalog.entries(), q, limit, cursor)
    except ValueError as exc:
        raise ApiError(400, "invalid_cursor", [issue("cursor", str(exc))]) from None
    return {"items": [p.model_dump(mode="json") for p in items], "next_cursor": next_cursor}


@router.post("/products:import")
async def import_products(request: Request, services: ServicesDep, catalog: CatalogDep) -> dict:
    raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise ApiError(413, "too_large", [issue(None, f"at most {MAX_CSV_BYTES // (1024 * 1024)} MB; split the file")])
    try:
        rows, errors = catalog_csv.parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_csv", [issue(None, "the file is not UTF-8 text")]) from None
    except catalog_csv.CsvFileError as exc:
        raise ApiError(400, "invalid_csv", [issue(None, str(exc))]) from None
    if rows and services.broker_down():
        raise unavailable("broker unavailable")
    topic = services.settings.products_topic
    results = await services.writer.write_many([(topic, r.product.sku.encode(), r.product.model_dump_json().encode()) for r in rows])
    imported = 0
    for row, written in zip(rows, results):
        if written.ok:
            catalog.put_product(written.offset, row.product)
            imported += 1
        else:
            errors.append(catalog_csv.RowError(row.line, row.product.sku, f"not stored ({written.error}); import the file again"))
    errors.sort(key=lambda e: e.line)
    return {"imported": imported, "errors": [e.as_dict() for e in errors]}
