"""Stores and skus seen in accepted events without catalog entries (this API instance, since it
started), for ``GET /v1/catalog/uncatalogued`` and the metric ``bazaar_api_uncatalogued_events_total``."""
from __future__ import annotations

import threading
from datetime import datetime

from prometheus_client import Counter

from domain.catalog_refs import Uncatalogued

UNCATALOGUED = Counter(
    "bazaar_api_uncatalogued_events_total",
    "Accepted events naming a store that is not registered (so their skus were not checked)",
)


class UncataloguedLog:
    """Per unregistered store, and per (store, unknown sku): ``[events, first_seen, last_seen]``.

    Plain lists updated in place: a 500-event request of an unregistered store names a few thousand
    (store, sku) pairs, and recording them runs on the request's path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stores: dict[str, list] = {}
        self._skus: dict[tuple[str, str], list] = {}

    def record(self, counted: Uncatalogued, at: datetime) -> None:
        """Add one request's counts: each event once per unregistered store it names, and per unknown
        sku of that store."""
        if not counted:
            return
        UNCATALOGUED.inc(counted.events)
        with self._lock:
            _add(self._stores, counted.stores, at)
            _add(self._skus, counted.skus, at)

    def listing(self, registered, known_sku) -> list[dict]:
        """Stores still unregistered, each with the skus still missing from the catalog."""
        with self._lock:
            stores = sorted((store_id, list(seen)) for store_id, seen in self._stores.items() if not registered(store_id))
            by_store: dict[str, list[tuple[str, list]]] = {}
            for (store_id, sku), seen in self._skus.items():
                by_store.setdefault(store_id, []).append((sku, list(seen)))
        out = []
        for store_id, seen in stores:
            skus = [{"sku": sku, **_seen(s)} for sku, s in sorted(by_store.get(store_id, ())) if not known_sku(sku)]
            out.append({"store_id": store_id, **_seen(seen), "unknown_skus": skus})
        return out


def _add(seen: dict, counts: dict, at: datetime) -> None:
    for key, n in counts.items():
        entry = seen.get(key)
        if entry is None:
            seen[key] = [n, at, at]
        else:
            entry[0] += n
            entry[2] = at


def _seen(entry: list) -> dict:
    events, first, last = entry  # an entry is made at its first sighting: both times are always set
    return {"events": events, "first_seen": first.isoformat(), "last_seen": last.isoformat()}
