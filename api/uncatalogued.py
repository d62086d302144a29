"""Stores and skus seen in accepted events without catalog entries (this API instance, since it
started), for ``GET /v1/catalog/uncatalogued`` and the metric ``bazaar_api_uncatalogued_events_total``."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter

from domain.catalog_refs import Uncatalogued

UNCATALOGUED = Counter(
    "bazaar_api_uncatalogued_events_total",
    "Accepted events naming a store that is not registered (so their skus were not checked)",
)


@dataclass
class Seen:
    events: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def add(self, at: datetime, events: int = 1) -> None:
        self.events += events
        self.first_seen = self.first_seen or at
        self.last_seen = at

    def as_dict(self) -> dict:
        return {"events": self.events, "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen)}


@dataclass
class StoreSeen(Seen):
    skus: dict[str, Seen] = field(default_factory=dict)


class UncataloguedLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stores: dict[str, StoreSeen] = {}

    def record(self, counted: Uncatalogued, at: datetime) -> None:
        """Add one request's counts: each event once per unregistered store it names, and per unknown
        sku of that store."""
        if not counted:
            return
        UNCATALOGUED.inc(counted.events)
        with self._lock:
            for store_id, n in counted.stores.items():
                self._stores.setdefault(store_id, StoreSeen()).add(at, n)
            for (store_id, sku), n in counted.skus.items():
                self._stores[store_id].skus.setdefault(sku, Seen()).add(at, n)

    def listing(self, registered, known_sku) -> list[dict]:
        """Stores still unregistered, each with the skus still missing from the catalog."""
        with self._lock:
            items = sorted(self._stores.items())
            out = []
            for store_id, seen in items:
                if registered(store_id):
                    continue
                skus = [{"sku": s, **v.as_dict()} for s, v in sorted(seen.skus.items()) if not known_sku(s)]
                out.append({"store_id": store_id, **seen.as_dict(), "unknown_skus": skus})
        return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
