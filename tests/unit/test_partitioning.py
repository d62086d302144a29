"""A store stays on one partition whatever the partition count: every key layout of the stock
changelog (stock, a busy key's movements, the sale book) maps to its store's partition, the one
the events of that store go to. The producer's half, librdkafka's partitioner on a real topic of
a new partition count, is tests/integration/test_partition_rule.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import partitioning, tokens
from domain.events import stock_key
from domain.voids import book_key
from streams.codec import MOVES_PREFIX, moves_prefix

pytestmark = pytest.mark.unit

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,39}\Z")


@given(store=ids, sku=ids, event_id=st.uuids(), day=st.integers(0, 999_999), partitions=st.integers(1, 256))
def test_every_changelog_key_of_a_store_maps_to_the_stores_partition(store, sku, event_id, day, partitions):
    want = partitioning.store_partition(store, partitions)
    assert want == tokens.partition_for(store.encode(), partitions)
    stock = stock_key(store, sku).encode()
    keys = [stock, moves_prefix(stock) + str(event_id).encode(), book_key(store, day).encode()]
    assert [partitioning.changelog_partition(k, partitions) for k in keys] == [want] * 3


def test_the_key_prefixes_are_the_codecs():
    assert MOVES_PREFIX in partitioning.KEY_PREFIXES and book_key("s", 0).encode()[:1] in partitioning.KEY_PREFIXES


@pytest.mark.parametrize("key", [b"", b"no-separator", b"|sku", b"\x00|sku|id"])
def test_a_key_naming_no_store_is_refused(key):
    with pytest.raises(partitioning.NotAStoreKey):
        partitioning.changelog_partition(key, 8)


def test_more_partitions_move_most_stores():
    """Why a topic's partitions cannot simply be raised: most stores' events would land on a
    partition whose worker does not hold their stock."""
    stores = [f"store-{i:05d}" for i in range(2000)]
    moved = sum(partitioning.store_partition(s, 8) != partitioning.store_partition(s, 32) for s in stores)
    assert moved > len(stores) // 2
