"""The catalog as a worker sees it: a cache following the compacted catalog topics.

Alert thresholds, pack sizes, store time zones and the active flag come from here. The cache is
eventually consistent with the catalog API (it follows the same topics a few ms behind).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from pydantic import BaseModel, ValidationError

from bazaar_core.kafka.config import consumer_config
from bazaar_core.settings import Settings
from domain.alerts import Thresholds
from domain.quantities import to_milli
from schemas.catalog import Product, Store, StoreProduct

log = logging.getLogger("bazaar.streams.catalog")
UTC = ZoneInfo("UTC")


class CatalogCache:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.products: dict[str, Product] = {}
        self.stores: dict[str, Store] = {}
        self.overrides: dict[str, StoreProduct] = {}
        self._models: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
            settings.products_topic: (Product, self.products),
            settings.stores_topic: (Store, self.stores),
            settings.store_products_topic: (StoreProduct, self.overrides),
        }
        self._zones: dict[str, ZoneInfo] = {}
        self._limits: dict[tuple[str, str], Thresholds] = {}  # cached thresholds, emptied on any catalog change
        self._version = 0  # bumped by every applied catalog record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="catalog-cache", daemon=True)

    def start(self) -> CatalogCache:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # ---- what the stock agent asks ---------------------------------------------------------

    def thresholds(self, store_id: str, sku: str) -> Thresholds:
        cached = self._limits.get((store_id, sku))
        if cached is not None:
            return cached
        version = self._version
        limits = self._thresholds(store_id, sku)
        if version == self._version:  # no catalog record landed meanwhile (it would be stale)
            self._limits[(store_id, sku)] = limits
        return limits

    def _thresholds(self, store_id: str, sku: str) -> Thresholds:
        product = self.products.get(sku)
        if product is None:
            return Thresholds()
        override = self.overrides.get(f"{store_id}|{sku}")
        point = override.reorder_point if override and override.reorder_point is not None else product.reorder_point
        pack = max(product.packs, key=lambda p: p.size, default=None)
        return Thresholds(
            reorder_point=_milli(point),
            lead_time_days=product.lead_time_days,
            reorder_min=_milli(product.reorder_min),
            reorder_max=_milli(product.reorder_max),
            pack_size=_milli(pack.size) if pack else None,
            pack_unit=pack.unit if pack else None,
        )

    def active(self, store_id: str, sku: str) -> bool | None:
        """Is the product active at this store (None: not in the catalog)."""
        product = self.products.get(sku)
        if product is None:
            return None
        override = self.overrides.get(f"{store_id}|{sku}")
        return override.active if override and override.active is not None else product.active

    def local_day(self, store_id: str, at: datetime) -> int:
        """The store's local calendar day of an instant (UTC for stores not in the catalog)."""
        return at.astimezone(self._zone(store_id)).date().toordinal()

    def _zone(self, store_id: str) -> ZoneInfo:
        store = self.stores.get(store_id)
        if store is None:
            return UTC
        zone = self._zones.get(store.timezone)
        if zone is None:
            zone = self._zones[store.timezone] = ZoneInfo(store.timezone)
        return zone

    def _changed(self) -> None:
        self._version += 1
        self._limits = {}

    # ---- following the topics ----------------------------------------------------------------

    def _follow(self) -> None:
        consumer = Consumer(consumer_config(self.settings, f"{self.settings.group_id}-catalog-cache"))
        consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in self._models])
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("catalog topic error", extra={"error": str(msg.error())})
                    continue
                self._apply(msg.topic(), msg.key(), msg.value())
        finally:
            consumer.close()

    def _apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        model, target = self._models[topic]
        if key is None:
            return
        if value is None:
            target.pop(key.decode(), None)
            self._changed()
            return
        try:
            target[key.decode()] = model.model_validate_json(value)
            self._changed()
        except ValidationError as exc:
            log.error("catalog record breaks its contract", extra={"topic": topic, "key": key.decode(errors="replace"), "error": str(exc)})


def _milli(value) -> int | None:
    return None if value is None else to_milli(value)
