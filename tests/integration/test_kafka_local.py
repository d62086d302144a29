"""The session broker from bazaar_core.kafka.local answers, takes topics idempotently and carries messages."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from bazaar_core.kafka.admin import ensure_topics

pytestmark = pytest.mark.integration


def test_broker_answers(kafka_bootstrap):
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    assert len(metadata.brokers) == 1


def test_ensure_topics_is_idempotent(settings_factory):
    settings = settings_factory()
    prefix, bootstrap = settings.topic_prefix, settings.kafka_bootstrap
    specs = {f"{prefix}.events": 3, f"{prefix}.stock": 2}
    configs = {f"{prefix}.stock": {"cleanup.policy": "compact"}}

    ensure_topics(settings, specs, configs)
    ensure_topics(settings, specs, configs)

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = admin.list_topics(timeout=10).topics
    assert {name: len(topics[name].partitions) for name in specs} == specs
    resource = ConfigResource(ConfigResource.Type.TOPIC, f"{prefix}.stock")
    described = admin.describe_configs([resource])[resource].result(timeout=10)
    assert described["cleanup.policy"].value == "compact"


def test_produce_consume_round_trip(settings_factory):
    settings = settings_factory()
    topic = f"{settings.topic_prefix}.roundtrip"
    ensure_topics(settings, {topic: 1})

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(topic, key=b"store-1", value=b"hello bazaar")
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.app_id}-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        message = _poll_one(consumer, timeout=30)
    finally:
        consumer.close()
    assert (message.key(), message.value()) == (b"store-1", b"hello bazaar")


def _poll_one(consumer: Consumer, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None:
            assert message.error() is None, message.error()
            return message
    pytest.fail(f"no message within {timeout} s")
