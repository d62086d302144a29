"""The API's list of what accepted events named without catalog entries (``GET /v1/catalog/uncatalogued``)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api.uncatalogued import UNCATALOGUED, UncataloguedLog
from domain.catalog_refs import Uncatalogued

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)


def counted(*events: tuple[tuple[str, ...], set[str]]) -> Uncatalogued:
    out = Uncatalogued()
    for stores, unknown in events:
        out.add(stores, unknown)
    return out


def test_counts_first_and_last_seen_per_store_and_per_unknown_sku():
    log = UncataloguedLog()
    before = UNCATALOGUED._value.get()
    log.record(counted((("s2",), {"tea", "rice"}), (("s1",), {"tea"})), T0)
    log.record(counted((("s1", "s2"), {"tea"}), (("s1",), set())), T0 + timedelta(minutes=5))
    log.record(Uncatalogued(), T0 + timedelta(hours=1))  # nothing uncatalogued: nothing changes
    assert UNCATALOGUED._value.get() - before == 4

    first, later = T0.isoformat(), (T0 + timedelta(minutes=5)).isoformat()
    assert log.listing(lambda s: False, lambda sku: False) == [
        {"store_id": "s1", "events": 3, "first_seen": first, "last_seen": later,
         "unknown_skus": [{"sku": "tea", "events": 2, "first_seen": first, "last_seen": later}]},
        {"store_id": "s2", "events": 2, "first_seen": first, "last_seen": later,
         "unknown_skus": [{"sku": "rice", "events": 1, "first_seen": first, "last_seen": first},
                          {"sku": "tea", "events": 2, "first_seen": first, "last_seen": later}]},
    ]


def test_listing_leaves_out_stores_registered_and_skus_catalogued_since():
    log = UncataloguedLog()
    log.record(counted((("s1",), {"tea", "rice"}), (("s2",), {"tea"})), T0)
    listing = log.listing(lambda s: s == "s2", lambda sku: sku == "rice")
    assert [(s["store_id"], [k["sku"] for k in s["unknown_skus"]]) for s in listing] == [("s1", ["tea"])]
    # the record itself stays: unregistering is not possible, but a sku deleted from the catalog shows again
    assert [k["sku"] for k in log.listing(lambda s: False, lambda sku: False)[0]["unknown_skus"]] == ["rice", "tea"]
