"""The API's catalog view and the worker's catalog cache follow the catalog topics with the same
follower and one record rule (bazaar_core/kafka/catalog_topics.py): fed the same records, including a
tombstone, a keyless record and one that breaks the contract, they hold the same catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.catalog_view import CatalogView
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.settings import Settings
from schemas.catalog import Product, Store, StoreProduct
from streams.catalog import CatalogCache

pytestmark = pytest.mark.unit

SETTINGS = Settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="t")
S = SETTINGS


def records() -> list[Record]:
    rice = Product(sku="rice", name="Rice", reorder_point=Decimal("5"))
    rice_v2 = Product(sku="rice", name="Rice", reorder_point=Decimal("8"))
    soap = Product(sku="soap", name="Soap")
    store = Store(store_id="lahore-007", name="Corner")
    override = StoreProduct(store_id="lahore-007", sku="rice", reorder_point=Decimal("2"), active=False)
    rows = [
        (S.products_topic, b"rice", rice.model_dump_json().encode()),
        (S.products_topic, b"soap", soap.model_dump_json().encode()),
        (S.stores_topic, b"lahore-007", store.model_dump_json().encode()),
        (S.store_products_topic, b"lahore-007|rice", override.model_dump_json().encode()),
        (S.products_topic, b"soap", None),  # a tombstone: the catalog never deletes
        (S.stores_topic, b"lahore-007", None),
        (S.products_topic, None, soap.model_dump_json().encode()),  # no key: sets nothing
        (S.products_topic, b"salt", b'{"sku": "salt"}'),  # breaks the contract (no name): sets nothing
        (S.products_topic, b"rice", rice_v2.model_dump_json().encode()),
    ]
    return [Record(topic, 0, offset, key, value) for offset, (topic, key, value) in enumerate(rows)]


def test_both_catalog_followers_hold_the_same_catalog_from_the_same_records():
    view, cache = CatalogView(SETTINGS), CatalogCache(SETTINGS)
    assert isinstance(view.follower, TopicFollower) and isinstance(cache.follower, TopicFollower)
    assert set(view.follower.topics) == set(cache.follower.topics) == {S.products_topic, S.stores_topic, S.store_products_topic}
    for rec in records():
        view.follower.on_record(rec)
        cache.follower.on_record(rec)

    assert sorted(cache.products) == ["rice", "soap"]  # the tombstone left soap; salt never arrived
    assert [s for s in ("rice", "soap", "salt") if view.has_product(s)] == ["rice", "soap"]
    assert view.product("rice") == cache.products["rice"] and cache.products["rice"].reorder_point == Decimal("8")
    assert view.store("lahore-007") == cache.stores["lahore-007"] is not None
    assert view.override("lahore-007", "rice") == cache.overrides["lahore-007|rice"]


def test_the_worker_cache_forgets_its_thresholds_when_the_catalog_changes():
    cache = CatalogCache(SETTINGS)
    rice, rice_v2 = records()[0], records()[-1]
    cache.follower.on_record(rice)
    assert cache.thresholds("karachi-001", "rice").reorder_point == 5000
    cache.follower.on_record(Record(S.products_topic, 0, 50, b"rice", None))  # ignored: the threshold holds
    assert cache.thresholds("karachi-001", "rice").reorder_point == 5000
    cache.follower.on_record(rice_v2)
    assert cache.thresholds("karachi-001", "rice").reorder_point == 8000
    assert cache.active("karachi-001", "rice") is True and cache.active("karachi-001", "ghee") is None


def test_the_worker_cache_follows_under_a_group_of_its_own():
    cache = CatalogCache(SETTINGS)
    assert cache.follower.group_prefix == "t-follow-worker-catalog-"
