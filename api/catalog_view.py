"""The API's in-memory catalog: stores, products and per-store overrides, from their compacted topics.

Built by a ``TopicFollower`` that reads the three topics from the beginning at start-up and keeps
following them, so every API instance converges on the same catalog. A PUT writes the record
(acks=all), waits for the ack, then applies it here with its offset: a read on the same instance
sees it at once, and the follower applying the same record later changes nothing (a record is
applied only when its offset is at least the one already held for its key).

A product is held as its JSON (as the API writes it) and its search keys (``domain.catalog_search``
index), not as a model: a model costs several times the memory, and a catalog may hold 100,000
products. The products the API has lately needed as models (the catalog rule of every POST) are
kept parsed in a small cache.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from bazaar_core.kafka.catalog_topics import catalog_entry
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from domain.catalog_search import Entry, SearchIndex
from schemas.catalog import Product, Store, StoreProduct

log = logging.getLogger("bazaar.api.catalog")

PARSED_PRODUCTS = 4096  # products kept as models, most recently used


def override_key(store_id: str, sku: str) -> str:
    return f"{store_id}|{sku}"


class CatalogView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._products: dict[str, tuple[int, bytes]] = {}  # sku -> (offset, product JSON)
        self._parsed: OrderedDict[str, tuple[int, Product]] = OrderedDict()
        self._parsed_lock = threading.Lock()
        self.index = SearchIndex()
        self._stores: dict[str, tuple[int, Store]] = {}
        self._overrides: dict[str, tuple[int, StoreProduct]] = {}
        specs, configs = topic_specs(settings), topic_configs(settings)
        names = (settings.products_topic, settings.stores_topic, settings.store_products_topic)
        self._tables: dict[str, tuple[dict, Callable[[bytes], Any]]] = {  # (each table its model)
            settings.products_topic: (self._products, Product.model_validate_json),
            settings.stores_topic: (self._stores, Store.model_validate_json),
            settings.store_products_topic: (self._overrides, StoreProduct.model_validate_json),
        }
        self.follower = TopicFollower(
            settings,
            {n: specs[n] for n in names},
            self._on_record,
            configs=configs,
            name="catalog",
        )

    # ---- writes (follower thread, and PUTs after their ack) ----------------------------------------

    def _on_record(self, rec: Record) -> None:
        entry = catalog_entry(rec)  # (the one rule of every catalog follower: a tombstone sets nothing)
        if entry is None:
            return
        key, raw = entry
        table, decode = self._tables[rec.topic]
        if table is self._products and (held := table.get(key)) is not None and rec.offset <= held[0]:
            return  # this instance wrote it (a PUT, an import) and applied it already: not parsed and indexed again
        try:
            value = decode(raw)
        except ValidationError as exc:
            log.error("catalog record breaks the contract", extra={"topic": rec.topic, "offset": rec.offset, "error": str(exc)})
            return
        if table is self._products:
            self.put_product(rec.offset, value)
        else:
            self._put(table, key, rec.offset, value)

    def _put(self, table: dict, key: str, offset: int, value) -> None:
        with self._lock:
            held = table.get(key)
            if held is None or offset >= held[0]:
                table[key] = (offset, value)

    def put_product(self, offset: int, product: Product, raw: bytes | None = None, entry: Entry | None = None) -> None:
        """``raw``, ``entry``: the product's ``model_dump_json()`` and search keys when the caller has them."""
        entry = entry or Entry.of(product)
        with self._lock:  # the index changes with the table, in the same order
            held = self._products.get(product.sku)
            if held is not None and offset <= held[0]:
                return  # an older record, or this one again
            self._products[product.sku] = (offset, raw or product.model_dump_json().encode())
            self.index.put(entry)

    def put_store(self, offset: int, store: Store) -> None:
        self._put(self._stores, store.store_id, offset, store)

    def put_override(self, offset: int, override: StoreProduct) -> None:
        self._put(self._overrides, override_key(override.store_id, override.sku), offset, override)

    # ---- reads -------------------------------------------------------------------------------------

    def product(self, sku: str) -> Product | None:
        held = self._products.get(sku)
        if held is None:
            return None
        offset, raw = held
        with self._parsed_lock:
            parsed = self._parsed.get(sku)
            if parsed is not None and parsed[0] == offset:
                self._parsed.move_to_end(sku)
                return parsed[1]
        product = Product.model_validate_json(raw)
        with self._parsed_lock:
            self._parsed[sku] = (offset, product)
            self._parsed.move_to_end(sku)
            if len(self._parsed) > PARSED_PRODUCTS:
                self._parsed.popitem(last=False)
        return product

    def product_json(self, sku: str) -> bytes | None:
        held = self._products.get(sku)
        return held[1] if held else None

    def has_product(self, sku: str) -> bool:
        return sku in self._products

    def search(self, query: str, limit: int, cursor: str | None = None) -> tuple[list[bytes], str | None]:
        """One page of matching products as JSON, and the next page's cursor (``domain.catalog_search``).
        It can rank many products: call it off the event loop."""
        skus, next_cursor = self.index.search(query, limit, cursor)
        return [raw for sku in skus if (raw := self.product_json(sku)) is not None], next_cursor

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
