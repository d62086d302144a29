"""Stores and skus seen in accepted events without catalog entries, for ``GET /v1/catalog/uncatalogued``
and the metric ``bazaar_api_uncatalogued_events_total``: what every API instance saw, not only this one.

Each instance counts what it accepted (``record``, at once, so its own answers include a request
the moment it is acknowledged) and publishes, every few seconds (``uncatalogued_publish_s``), the
totals of every store whose counts changed to a compacted topic, keyed ``instance|store`` (``take_changes``). Every instance
follows that topic (``apply_record``) and a listing adds its own totals to the other instances'
latest ones. A restarted instance gets a new id; the totals of its earlier life stay on the topic
and are read back, so the listing survives restarts and does not depend on which replica answers.
A store's record carries at most ``MAX_SKUS_PUBLISHED`` unknown skus (the ones named most).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import orjson
from prometheus_client import Counter

from domain.catalog_refs import Uncatalogued

UNCATALOGUED = Counter(
    "bazaar_api_uncatalogued_events_total",
    "Accepted events naming a store that is not registered (so their skus were not checked)",
)

Seen = list  # [events, first_seen, last_seen] (datetimes)
# Unknown skus of one store in one published record (~90 bytes each): the other instances list the
# ones named most; the instance that saw them lists every one.
MAX_SKUS_PUBLISHED = 5_000


class UncataloguedLog:
    """Per unregistered store: ``[events, first_seen, last_seen]`` and the same per unknown sku of
    it, for this instance (``_local``) and for each other instance that published (``_remote``).

    Plain lists updated in place: a 500-event request of an unregistered store names a few thousand
    (store, sku) pairs, and recording them runs on the request's path."""

    def __init__(self, instance: str | None = None) -> None:
        self.instance = instance or uuid.uuid4().hex
        self._own_key = f"{self.instance}|".encode()
        self._lock = threading.Lock()
        self._local: dict[str, tuple[Seen, dict[str, Seen]]] = {}
        self._remote: dict[tuple[str, str], tuple[Seen, dict[str, Seen]]] = {}  # (instance, store) -> totals
        self._changed: set[str] = set()  # stores whose local totals are not published yet

    # ---- this instance -------------------------------------------------------------------------

    def record(self, counted: Uncatalogued, at: datetime) -> None:
        """Add one request's counts: each event once per unregistered store it names, and per unknown
        sku of that store."""
        if not counted:
            return
        UNCATALOGUED.inc(counted.events)
        local = self._local
        with self._lock:
            for store_id, n in counted.stores.items():
                entry = local.get(store_id)
                if entry is None:
                    entry = local[store_id] = ([0, at, at], {})
                _count(entry[0], n, at)
            for (store_id, sku), n in counted.skus.items():
                skus = local[store_id][1]  # every sku's store was counted just above
                seen = skus.get(sku)
                if seen is None:
                    seen = skus[sku] = [0, at, at]
                _count(seen, n, at)
            self._changed.update(counted.stores)

    def take_changes(self) -> list[tuple[str, bytes, bytes]]:
        """(store, key, value) of this instance's totals for every store changed since the last call,
        to publish; ``requeue`` the stores whose record the broker did not take."""
        with self._lock:
            changed, self._changed = self._changed, set()
            return [
                (store_id, self._own_key + store_id.encode(), _encode(self.instance, store_id, *self._local[store_id]))
                for store_id in sorted(changed)
            ]

    def requeue(self, stores) -> None:
        with self._lock:
            self._changed.update(stores)

    # ---- the other instances ---------------------------------------------------------------------

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        """A published total (the latest per instance and store wins); this instance's own (its key
        starts with its id) are already counted. Raises ValueError for a record that breaks the format."""
        if value is None or (key is not None and key.startswith(self._own_key)):
            return
        data = orjson.loads(value)
        instance, store_id = data["instance"], data["store_id"]
        totals = (_seen(data["seen"]), {sku: _seen(seen) for sku, seen in data["skus"].items()})
        with self._lock:
            self._remote[(instance, store_id)] = totals

    # ---- reads -----------------------------------------------------------------------------------

    def listing(self, registered, known_sku) -> list[dict]:
        """Stores still unregistered, each with the skus still missing from the catalog, over every instance."""
        with self._lock:
            merged: dict[str, tuple[Seen, dict[str, Seen]]] = {}
            for store_id, totals in [*self._local.items(), *((s, t) for (_, s), t in self._remote.items())]:
                if registered(store_id):
                    continue
                seen, skus = totals
                into = merged.get(store_id)
                if into is None:
                    merged[store_id] = (list(seen), {sku: list(s) for sku, s in skus.items()})
                    continue
                _merge(into[0], seen)
                for sku, s in skus.items():
                    mine = into[1].get(sku)
                    if mine is None:
                        into[1][sku] = list(s)
                    else:
                        _merge(mine, s)
        out = []
        for store_id in sorted(merged):
            seen, skus = merged[store_id]
            unknown = [{"sku": sku, **_json(s)} for sku, s in sorted(skus.items()) if not known_sku(sku)]
            out.append({"store_id": store_id, **_json(seen), "unknown_skus": unknown})
        return out


def _count(seen: Seen, n: int, at: datetime) -> None:
    """``n`` more events, the latest at ``at``."""
    seen[0] += n
    seen[2] = at


def _merge(into: Seen, other: Seen) -> None:
    into[0] += other[0]
    into[1] = min(into[1], other[1])
    into[2] = max(into[2], other[2])


def _json(entry: Seen) -> dict:
    events, first, last = entry  # an entry is made at its first sighting: both times are always set
    return {"events": events, "first_seen": first.isoformat(), "last_seen": last.isoformat()}


def _encode(instance: str, store_id: str, seen: Seen, skus: dict[str, Seen]) -> bytes:
    if len(skus) > MAX_SKUS_PUBLISHED:  # the most named: a record stays far below Kafka's 1 MB limit
        skus = dict(sorted(skus.items(), key=lambda item: (-item[1][0], item[0]))[:MAX_SKUS_PUBLISHED])
    return orjson.dumps(
        {"v": 1, "instance": instance, "store_id": store_id, "seen": seen, "skus": skus}
    )  # orjson writes datetimes as RFC 3339


def _seen(raw: list) -> Seen:
    events, first, last = raw
    if not isinstance(events, int) or isinstance(events, bool):
        raise ValueError("events: not an integer")
    return [events, datetime.fromisoformat(first), datetime.fromisoformat(last)]
