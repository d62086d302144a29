"""Which partition holds a store, under any partition count: one rule for the events the API
writes (librdkafka's ``murmur2_random``, Kafka's Java default), the workers' routing and tokens,
and a migration that replays the stock changelog onto topics with more partitions.

A store stays on one partition: every changelog record belongs to the store its key names, so a
migration sends each record to its store's partition under the new count, and the events the API
writes after the switch land there too (docs/deploy.md, "Growing past the partition count").
"""

from __future__ import annotations

from domain.tokens import partition_for

# Changelog keys: ``store|sku`` (stock), ``\x00store|sku|<event id>`` (a busy key's movements,
# streams/codec.py), ``\x01store|<day>`` (the sale book, domain/voids.py). Store ids hold no ``|``
# and start with a letter or digit.
KEY_PREFIXES = (b"\x00", b"\x01")


class NotAStoreKey(ValueError):
    pass


def store_of(key: bytes) -> bytes:
    """The store a changelog record's key belongs to."""
    body = key[1:] if key[:1] in KEY_PREFIXES else key
    store, sep, _ = body.partition(b"|")
    if not sep or not store:
        raise NotAStoreKey(f"not a stock or sale-book key: {key[:80]!r}")
    return store


def store_partition(store_id: str, partitions: int) -> int:
    """The partition of ``store_id``'s events, stock and sales among ``partitions``."""
    return partition_for(store_id.encode(), partitions)


def changelog_partition(key: bytes, partitions: int) -> int:
    """Where a migration puts a changelog record among ``partitions``: its store's partition."""
    return partition_for(store_of(key), partitions)
