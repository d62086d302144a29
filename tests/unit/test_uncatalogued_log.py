"""The API's list of what accepted events named without catalog entries (``GET /v1/catalog/uncatalogued``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.uncatalogued import UNCATALOGUED, UncataloguedLog
from domain.catalog_refs import Uncatalogued

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


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
        {
            "store_id": "s1",
            "events": 3,
            "first_seen": first,
            "last_seen": later,
            "unknown_skus": [{"sku": "tea", "events": 2, "first_seen": first, "last_seen": later}],
        },
        {
            "store_id": "s2",
            "events": 2,
            "first_seen": first,
            "last_seen": later,
            "unknown_skus": [
                {"sku": "rice", "events": 1, "first_seen": first, "last_seen": first},
                {"sku": "tea", "events": 2, "first_seen": first, "last_seen": later},
            ],
        },
    ]


def test_listing_leaves_out_stores_registered_and_skus_catalogued_since():
    log = UncataloguedLog()
    log.record(counted((("s1",), {"tea", "rice"}), (("s2",), {"tea"})), T0)
    listing = log.listing(lambda s: s == "s2", lambda sku: sku == "rice")
    assert [(s["store_id"], [k["sku"] for k in s["unknown_skus"]]) for s in listing] == [("s1", ["tea"])]
    # the record itself stays: unregistering is not possible, but a sku deleted from the catalog shows again
    assert [k["sku"] for k in log.listing(lambda s: False, lambda sku: False)[0]["unknown_skus"]] == ["rice", "tea"]


def exchange(source: UncataloguedLog, topic: dict, *targets: UncataloguedLog) -> list[str]:
    """Publish what changed in ``source`` to ``topic`` (compacted: the latest value per key) and to
    every target (and back to itself, as following the topic would)."""
    changes = source.take_changes()
    for _, key, value in changes:
        topic[key] = value
        for target in (*targets, source):
            target.apply_record(key, value)
    return [store for store, _, _ in changes]


def test_instances_list_each_others_totals_summed_with_first_and_last_seen():
    a, b, topic = UncataloguedLog(), UncataloguedLog(), {}
    assert a.instance != b.instance
    a.record(counted((("s1",), {"tea"})), T0 + timedelta(minutes=10))
    b.record(counted((("s1",), {"tea", "rice"}), (("s2",), set())), T0)
    b.record(counted((("s1",), {"tea"})), T0 + timedelta(minutes=20))
    assert exchange(a, topic, b) == ["s1"] and exchange(b, topic, a) == ["s1", "s2"]
    assert exchange(a, topic, b) == [] and exchange(b, topic, a) == []  # nothing changed since
    everyone = lambda s: False  # noqa: E731
    want = [
        {
            "store_id": "s1",
            "events": 3,
            "first_seen": T0.isoformat(),
            "last_seen": (T0 + timedelta(minutes=20)).isoformat(),
            "unknown_skus": [
                {"sku": "rice", "events": 1, "first_seen": T0.isoformat(), "last_seen": T0.isoformat()},
                {"sku": "tea", "events": 3, "first_seen": T0.isoformat(), "last_seen": (T0 + timedelta(minutes=20)).isoformat()},
            ],
        },
        {"store_id": "s2", "events": 1, "first_seen": T0.isoformat(), "last_seen": T0.isoformat(), "unknown_skus": []},
    ]
    assert a.listing(everyone, everyone) == b.listing(everyone, everyone) == want
    # a later total of an instance replaces its earlier one (compacted topic: the latest per key)
    a.record(counted((("s1",), {"tea"})), T0 + timedelta(minutes=30))
    exchange(a, topic, b)
    assert b.listing(everyone, everyone)[0]["events"] == 4
    assert b.listing(everyone, everyone)[0]["unknown_skus"][1]["events"] == 4
    # a restarted instance (a new id) reads every total back, its own earlier life included
    restarted = UncataloguedLog()
    for key, value in topic.items():
        restarted.apply_record(key, value)
    assert restarted.listing(everyone, everyone) == b.listing(everyone, everyone)


def test_a_store_the_broker_did_not_take_is_published_again():
    log = UncataloguedLog()
    log.record(counted((("s1",), {"tea"}), (("s2",), set())), T0)
    assert [store for store, _, _ in log.take_changes()] == ["s1", "s2"]
    log.requeue(["s2"])
    assert [store for store, _, _ in log.take_changes()] == ["s2"]


def test_a_record_that_breaks_the_format_is_refused_and_a_tombstone_ignored():
    log = UncataloguedLog()
    with pytest.raises(ValueError):
        log.apply_record(b"x|s1", b"not json")
    with pytest.raises(ValueError):
        log.apply_record(
            b"x|s1",
            b'{"v":1,"instance":"x","store_id":"s1","seen":["3","2026-11-22T09:30:00+00:00","2026-11-22T09:30:00+00:00"],"skus":{}}',
        )
    with pytest.raises(KeyError):
        log.apply_record(b"x|s1", b'{"v":1,"instance":"x"}')
    log.apply_record(b"x|s1", None)
    assert log.listing(lambda s: False, lambda sku: False) == []


def test_a_published_record_keeps_the_skus_named_most(monkeypatch):
    import api.uncatalogued as module

    monkeypatch.setattr(module, "MAX_SKUS_PUBLISHED", 2)
    source, reader = UncataloguedLog(), UncataloguedLog()
    source.record(counted((("s1",), {"a", "b", "c"}), (("s1",), {"b", "c"}), (("s1",), {"c"})), T0)
    exchange(source, {}, reader)
    listing = reader.listing(lambda s: False, lambda sku: False)
    assert [(k["sku"], k["events"]) for k in listing[0]["unknown_skus"]] == [("b", 2), ("c", 3)]
    assert listing[0]["events"] == 3
    assert len(source.listing(lambda s: False, lambda sku: False)[0]["unknown_skus"]) == 3  # its own: all
