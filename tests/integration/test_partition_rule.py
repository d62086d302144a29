"""The producer's half of the partition rule (domain/partitioning.py): on a real topic with more
partitions than today's, the API's producer configuration puts each store's events on the
partition a migration puts that store's changelog records, so after a move to more partitions a
store's new events meet its migrated stock on one worker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bazaar_core.kafka.config import admin_config, producer_config
from bazaar_core.settings import Settings
from domain import partitioning
from domain.events import stock_key

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("partitions", [12, 32])
def test_the_producer_and_a_migration_agree_on_a_stores_partition(kafka_bootstrap: str, partitions: int):
    settings = Settings(kafka_bootstrap=kafka_bootstrap)
    topic = f"t-partition-rule-{partitions}-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(admin_config(settings))
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)
    stores = [f"store-{i:05d}" for i in range(300)] + ["lahore-007", "k:1.2_x-Y"]
    placed: dict[str, int] = {}

    def delivered(err, msg) -> None:
        assert err is None, err
        placed[msg.key().decode()] = msg.partition()

    producer = Producer(producer_config(settings))  # the API's: murmur2_random, idempotent, acks=all
    for store in stores:
        producer.produce(topic, key=store.encode(), value=b"{}", on_delivery=delivered)
    assert producer.flush(30) == 0
    assert len(placed) == len(stores) and len(set(placed.values())) == partitions
    for store, partition in placed.items():
        assert partition == partitioning.store_partition(store, partitions), store
        assert partition == partitioning.changelog_partition(stock_key(store, "rice-5kg").encode(), partitions), store
    admin.delete_topics([topic])
