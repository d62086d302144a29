"""The worker runs the core it is set to (BAZAAR_STREAM_CORE, streams/core.py) and keeps stock exact
through the real broker either way; with the compiled core, a batch it leaves to the Python rules
(one holding a message that is no event) is counted, and its events applied all the same."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from bazaar_core.loadgen.generator import GenConfig, Generator
from tests.integration.harness import Running
from tests.integration.test_pipeline import assert_matches, event, post_generated
from tests.integration.test_poison import _send

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("core", ["rust", "python"])
def test_the_worker_applies_with_the_core_it_is_set_to(settings_factory, core):
    if core == "rust":
        pytest.importorskip("bazaar_batchcore", reason="the compiled core is not built (./bazaar.sh setup builds it)")
    settings = settings_factory(stream_core=core)
    port = settings.worker_port
    running = Running(settings, [port]).start()
    try:
        assert running.http.get(f"http://127.0.0.1:{port}/status").json()["core"] == core
        gen = Generator(GenConfig(stores=3, events_per_store_day=60, skus=25, seed=8))
        posted = post_generated(running, gen)
        assert assert_matches(running, gen) > 0
        assert running.applied_events(port) >= posted
        assert running.worker_metric(port, "bazaar_stream_core_fallback_total") == 0  # the generated day is the core's alone

        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
        _send(running, producer, b"void-store", b"not an event")  # dead-lettered by the Python rules
        sale = event("sale", store="void-store", lines=[{"sku": "atta", "quantity": "2", "unit_price": "120.00"}], minutes=-3)
        assert running.post(sale).status_code == 202
        void = event(
            "return", store="void-store", reason="void", original_event_id=sale["event_id"], lines=[{"sku": "atta", "quantity": "2"}]
        )
        assert running.post(void).status_code == 202
        resp = running.stock("void-store", "atta", after=running.token, timeout_ms=20_000)
        assert resp.status_code == 200, resp.text
        assert resp.json()["on_hand"] == "0"  # the sale undone
        assert running.worker_metric(port, "bazaar_stream_invalid_messages_total") == 1
        left = running.worker_metric(port, "bazaar_stream_core_fallback_total")
        assert left >= 1 if core == "rust" else left == 0
    finally:
        running.close()
