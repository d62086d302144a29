"""The catalog as a worker sees it: a cache following the compacted catalog topics.

Alert thresholds, pack sizes, store time zones and the active flag come from here. The cache is
eventually consistent with the catalog API: it follows the same topics a few ms behind, with the
same follower and the same record rule (``bazaar_core.kafka.catalog_topics``) as the API's view.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from bazaar_core.kafka.catalog_topics import catalog_entry, catalog_models
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
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
        tables: dict[type[BaseModel], dict[str, Any]] = {Product: self.products, Store: self.stores, StoreProduct: self.overrides}
        models = catalog_models(settings)
        self._models: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {t: (m, tables[m]) for t, m in models.items()}
        self._zones: dict[str, ZoneInfo] = {}
        self._limits: dict[tuple[str, str], Thresholds] = {}  # cached thresholds, emptied on any catalog change
        self._version = 0  # bumped by every applied catalog record
        specs = topic_specs(settings)
        self.follower = TopicFollower(
            settings, {t: specs[t] for t in models}, self._on_record, configs=topic_configs(settings), name="worker-catalog"
        )

    def start(self) -> CatalogCache:
        self.follower.start()
        return self

    def stop(self) -> None:
        self.follower.stop()

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

    @property
    def version(self) -> int:
        """Bumped by every catalog record applied (a view built from an older one is stale)."""
        return self._version

    def core_tables(self) -> tuple[list[tuple], list[tuple], list[tuple[str, str]]]:
        """The catalog as the compiled core takes it (``streams.core``): products (sku, reorder point,
        lead time, reorder min, reorder max, pack size, pack unit, active; quantities in milli-units,
        as ``thresholds`` gives them), store overrides ("store|sku", reorder point, active) and
        stores (store, time zone)."""
        # copies first: the follower's thread adds records meanwhile (a dict copy is atomic)
        products, overrides, stores = dict(self.products), dict(self.overrides), dict(self.stores)
        rows = []
        for sku, product in products.items():
            pack = max(product.packs, key=lambda p: p.size, default=None)
            rows.append(
                (
                    sku,
                    _milli(product.reorder_point),
                    product.lead_time_days,
                    _milli(product.reorder_min),
                    _milli(product.reorder_max),
                    _milli(pack.size) if pack else None,
                    pack.unit if pack else None,
                    product.active,
                )
            )
        changes = [(key, _milli(o.reorder_point), o.active) for key, o in overrides.items()]
        return rows, changes, [(store_id, store.timezone) for store_id, store in stores.items()]

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

    def _on_record(self, rec: Record) -> None:  # (the follower's thread)
        entry = catalog_entry(rec)
        if entry is None:
            return
        key, value = entry
        model, target = self._models[rec.topic]
        try:
            target[key] = model.model_validate_json(value)
        except ValidationError as exc:
            log.error("catalog record breaks its contract", extra={"topic": rec.topic, "key": key, "error": str(exc)})
            return
        self._changed()


def _milli(value) -> int | None:
    return None if value is None else to_milli(value)
