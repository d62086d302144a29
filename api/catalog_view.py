"""The API's in-memory catalog: stores, products and per-store overrides, from their compacted topics.

Built by a ``TopicFollower`` that reads the three topics from the beginning at start-up and keeps
following them, so every API instance converges on the same catalog. A PUT writes the record
(acks=all), waits for the ack, then applies it here with its offset: a read on the same instance
sees it at once, and the follower applying the same record later changes nothing (a record is
applied only when its offset is at least the one already held for its key).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from pydantic import ValidationError

from bazaar.settings import Settings
from domain.catalog_search import Entry
from schemas.catalog import Product, Store, StoreProduct
from streams.follow import Record, TopicFollower
from streams.topics import topic_configs, topic_specs

log = logging.getLogger("bazaar.api.catalog")


def override_key(store_id: str, sku: str) -> str:
    return f"{store_id}|{sku}"


class CatalogView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._products: dict[str, tuple[int, Entry]] = {}
        self._stores: dict[str, tuple[int, Store]] = {}
        self._overrides: dict[str, tuple[int, StoreProduct]] = {}
        specs, configs = topic_specs(settings), topic_configs(settings)
        names = (settings.products_topic, settings.stores_topic, settings.store_products_topic)
        self._tables: dict[str, tuple[dict, Callable[[bytes], object]]] = {
            settings.products_topic: (self._products, lambda v: Entry.of(Product.model_validate_json(v))),
            settings.stores_topic: (self._stores, Store.model_validate_json),
            settings.store_products_topic: (self._overrides, StoreProduct.model_validate_json),
        }
        self.follower = TopicFollower(
            settings.kafka_bootstrap, {n: specs[n] for n in names}, self._on_record,
            configs=configs, name="catalog",
        )

    # ---- writes (follower thread, and PUTs after their ack) ----------------------------------------

    def _on_record(self, rec: Record) -> None:
        table, decode = self._tables[rec.topic]
        if rec.key is None or rec.value is None:
            return  # the catalog never deletes; a tombstone would be a mistake upstream
        try:
            value = decode(rec.value)
        except ValidationError as exc:
            log.error("catalog record breaks the contract", extra={"topic": rec.topic, "offset": rec.offset, "error": str(exc)})
            return
        self._put(table, rec.key.decode(), rec.offset, value)

    def _put(self, table: dict, key: str, offset: int, value) -> None:
        with self._lock:
            held = table.get(key)
            if held is None or offset >= held[0]:
                table[key] = (offset, value)

    def put_product(self, offset: int, product: Product) -> None:
        self._put(self._products, product.sku, offset, Entry.of(product))

    def put_store(self, offset: int, store: Store) -> None:
        self._put(self._stores, store.store_id, offset, store)

    def put_override(self, offset: int, override: StoreProduct) -> None:
        self._put(self._overrides, override_key(override.store_id, override.sku), offset, override)

    # ---- reads -------------------------------------------------------------------------------------

    def product(self, sku: str) -> Product | None:
        held = self._products.get(sku)
        return held[1].product if held else None

    def entries(self) -> list[Entry]:
        with self._lock:
            return [e for _, e in self._products.values()]

    def has_store(self, store_id: str) -> bool:
        return store_id in self._stores

    def store(self, store_id: str) -> Store | None:
        held = self._stores.get(store_id)
        return held[1] if held else None

    def stores(self) -> list[Store]:
        with self._lock:
            return sorted((s for _, s in self._stores.values()), key=lambda s: s.store_id)

    def override(self, store_id: str, sku: str) -> StoreProduct | None:
        held = self._overrides.get(override_key(store_id, sku))
        return held[1] if held else None

    def counts(self) -> dict[str, int]:
        return {"products": len(self._products), "stores": len(self._stores), "overrides": len(self._overrides)}
