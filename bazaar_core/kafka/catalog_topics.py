"""The catalog's three compacted topics as every process follows them (the API's ``CatalogView``, the
worker's ``CatalogCache``): which model each holds, under which key, and the one tombstone rule.

The catalog never deletes: a product or an override leaves by ``active: false``, and a store stays
registered. No process writes a tombstone to these topics, so one found there is a mistake
upstream; every follower ignores it the same way (logged), and every follower therefore holds the
same catalog, whatever record it started reading from.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from bazaar_core.kafka.follow import Record
from bazaar_core.settings import Settings
from schemas.catalog import Product, Store, StoreProduct

log = logging.getLogger("bazaar.kafka.catalog")


def catalog_models(settings: Settings) -> dict[str, type[BaseModel]]:
    """Topic -> the model of its records (keys: sku, store_id, "store_id|sku")."""
    return {settings.products_topic: Product, settings.stores_topic: Store, settings.store_products_topic: StoreProduct}


def catalog_entry(rec: Record) -> tuple[str, bytes] | None:
    """The key a catalog record sets and its value (JSON of the topic's model), or None when it sets
    nothing: no key, or a tombstone."""
    if rec.key is None:
        return None
    key = rec.key.decode(errors="replace")
    if rec.value is None:
        log.warning("tombstone on a catalog topic ignored: the catalog never deletes", extra={"topic": rec.topic, "key": key})
        return None
    return key, rec.value
