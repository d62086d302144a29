"""The notifier on the real broker (``bazaar notifier`` as a subprocess) with a webhook whose receiver
accepts connections and never answers next to a healthy one: the healthy one's alerts arrive as fast
as without the dead one (a burst past the bound included), the dead one's backlog grows (in memory up
to its bound, then parked on the topic), and ``/health`` and ``/metrics`` name it. And a message on the alerts topic that is not an
alert goes to the shared dead-letter topic while the alerts after it are still delivered."""

from __future__ import annotations

import time

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bazaar_core.kafka import deadletters
from schemas.deadletters import DeadLetter
from tests.conftest import free_ports
from tests.integration.alerting import (
    LOCAL_RECEIVERS,
    Blackhole,
    Receiver,
    all_topics,
    make_alert,
    notifier,
    produce_alerts,
    produce_raw,
    wait_until,
)
from tests.integration.apps import api

pytestmark = pytest.mark.integration

SECRET = "secret-of-the-receivers"


def register(client: TestClient, url: str) -> str:
    r = client.post("/v1/webhooks", json={"url": url, "secret": SECRET})
    assert r.status_code == 201, r.text
    return r.json()["webhook_id"]


def latency(settings, receiver: Receiver, path: str, sku: str) -> float:
    """Seconds from the broker's ack of one alert to its arrival at the receiver."""
    alert = make_alert(sku=sku)
    produce_alerts(settings, alert)
    acked = time.monotonic()
    aid = str(alert.alert_id)
    wait_until(lambda: receiver.delivered(path)[aid] == 1, timeout=20, interval=0.01, what=f"alert {sku}")
    return next(r.at for r in receiver.received if r.alert_id == aid and r.path == path) - acked


def webhook_metrics(port: int) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("bazaar_notifier_webhook_"):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_a_receiver_that_never_answers_delays_only_its_own_webhook(settings_factory):
    notifier_port, ok_port, dead_port = free_ports(3)
    settings = settings_factory(
        notifier_port=notifier_port,
        webhook_timeout_s=2.0,
        webhook_backoff_base_s=0.2,
        webhook_backoff_max_s=1.0,
        webhook_max_attempts=1000,
        webhook_concurrency=2,
        webhook_breaker_failures=3,
        webhook_breaker_cool_off_s=2.0,
        webhook_max_pending=40,
        webhook_degraded_backlog=10,
        webhook_degraded_age_s=3.0,
        **LOCAL_RECEIVERS,
    )
    all_topics(settings)
    receiver = Receiver(ok_port, {"/ok": SECRET}).start()
    blackhole = Blackhole(dead_port)
    child = notifier(settings)
    try:
        with api(settings) as client:
            ok = register(client, receiver.url("/ok"))
            child.start()
            child.wait_healthy(timeout=60)

            # without the dead webhook
            baseline = [latency(settings, receiver, "/ok", f"base-{i}") for i in range(5)]
            assert httpx.get(f"http://127.0.0.1:{notifier_port}/health").json()["status"] == "ok"

            dead = register(client, blackhole.url("/dead"))
            # the registration reaches the notifier on its own topic: alerts it reads before then are not the dead one's
            health_url = f"http://127.0.0.1:{notifier_port}/health"
            wait_until(lambda: httpx.get(health_url).json()["webhooks"] == 2, what="the notifier to follow the registration")
            # past both webhooks' bound of 40 at once: the healthy one parks too, and catches up
            burst = [make_alert(sku=f"burst-{i}") for i in range(60)]
            produce_alerts(settings, *burst)
            wait_until(lambda: len(receiver.delivered("/ok")) == 65, what="the burst at the healthy webhook")
            parked = ("bazaar_notifier_webhook_parked_messages", (("webhook_id", dead),))
            # the per-webhook view behind /metrics is rebuilt every quarter second
            wait_until(lambda: webhook_metrics(notifier_port).get(parked, 0) >= 20, timeout=5, what="the dead webhook's parked backlog")
            parked_before = webhook_metrics(notifier_port)[parked]

            # with it: a backlog at the dead webhook, POSTs hanging there or refused by its open circuit
            with_dead = []
            for i in range(10):
                with_dead.append(latency(settings, receiver, "/ok", f"with-dead-{i}"))
                time.sleep(0.3)
            assert max(with_dead) <= max(baseline) + 1.0, (baseline, with_dead)
            time.sleep(1.0)  # the burst's deliveries to the dead webhook are past the age threshold by now

            health = httpx.get(f"http://127.0.0.1:{notifier_port}/health")
            assert health.status_code == 200  # degraded, not down: a restart would not revive a receiver
            body = health.json()
            assert body["status"] == "degraded", body
            [named] = body["degraded"]
            assert named["webhook_id"] == dead and named["pending"] == 40
            assert named["parked_messages"] >= parked_before + 10  # the backlog grew with every alert
            assert any(r.startswith("backlog of 40 deliveries") for r in named["reasons"]), named
            assert any(" alert messages parked on the topic" in r for r in named["reasons"]), named
            assert any(r.startswith("oldest pending delivery waited") for r in named["reasons"]), named

            m = webhook_metrics(notifier_port)
            assert m[("bazaar_notifier_webhook_pending", (("webhook_id", dead),))] == 40
            assert m[("bazaar_notifier_webhook_parked_messages", (("webhook_id", dead),))] >= parked_before + 10
            assert m[("bazaar_notifier_webhook_oldest_pending_seconds", (("webhook_id", dead),))] >= 3.0
            assert m[("bazaar_notifier_webhook_degraded", (("webhook_id", dead),))] == 1
            assert m[("bazaar_notifier_webhook_breaker_state", (("webhook_id", dead),))] in (1, 2)
            assert m[("bazaar_notifier_webhook_attempts_total", (("result", "refused"), ("webhook_id", dead)))] > 0
            assert m[("bazaar_notifier_webhook_pending", (("webhook_id", ok),))] == 0
            assert m[("bazaar_notifier_webhook_deliveries_total", (("outcome", "delivered"), ("webhook_id", ok)))] == 75
            assert m[("bazaar_notifier_webhook_degraded", (("webhook_id", ok),))] == 0
            # the circuit kept the dead receiver from taking a POST per delivery
            assert 1 <= blackhole.accepted <= 20, blackhole.accepted
            assert m[("bazaar_notifier_webhook_parked_messages", (("webhook_id", ok),))] == 0
            # nothing dead-lettered: the dead webhook's deliveries wait (their retry schedule is long here)
            assert client.get(f"/v1/webhooks/{dead}/dead-letters").json()["items"] == []
            assert client.get(f"/v1/webhooks/{ok}/dead-letters").json()["items"] == []
        assert all(n == 1 for n in receiver.delivered("/ok").values())
        assert all(r.valid for r in receiver.received)
    finally:
        child.stop()
        receiver.stop()
        blackhole.stop()


def committed(settings, partition: int) -> int:
    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.notifier_group, "log_level": 3})
    try:
        [tp] = c.committed([TopicPartition(settings.alerts_topic, partition)], timeout=10)
        return tp.offset
    finally:
        c.close()


def test_a_message_that_is_not_an_alert_is_dead_lettered_and_later_alerts_delivered(settings_factory):
    notifier_port, receiver_port = free_ports(2)
    settings = settings_factory(notifier_port=notifier_port, **LOCAL_RECEIVERS)
    all_topics(settings)
    receiver = Receiver(receiver_port, {"/ok": SECRET}).start()
    child = notifier(settings)
    try:
        with api(settings) as client:
            register(client, receiver.url("/ok"))
        child.start()
        child.wait_healthy(timeout=60)
        # keyed by the store of the good alert after them: the same partition, so it must go on past them
        bad = [
            produce_raw(settings, b"s1", b"{not json"),
            produce_raw(settings, b"s1", None),
            produce_raw(settings, b"s1", b'{"type": "alert", "alert_id": "nope"}'),
        ]
        good = make_alert(store="s1")
        produce_alerts(settings, good)
        wait_until(lambda: receiver.delivered("/ok")[str(good.alert_id)] == 1, what="the alert after the bad ones")

        topic, partition = settings.alerts_topic, bad[0][0]
        assert {p for p, _ in bad} == {partition}
        ids = {DeadLetter.id_of(topic, p, o) for p, o in bad}

        def dead_letters():
            found = deadletters.read_all(settings)
            return found if ids <= set(found) else None

        letters = wait_until(dead_letters, what="the dead letters")
        for (p, o), value in zip(bad, [b"{not json", None, b'{"type": "alert", "alert_id": "nope"}']):
            dead = letters[f"{topic}|{p}|{o}"]
            assert (dead.source, dead.topic, dead.partition, dead.offset) == ("notifier", topic, p, o)
            assert dead.raw_value() == value and dead.raw_key() == b"s1" and dead.store_id == "s1"
            assert dead.error_type == "ValidationError"
        # the partition's commit went past all of them
        wait_until(lambda: committed(settings, partition) > bad[-1][1] + 1, what="the commit past the bad messages")
    finally:
        child.stop()
        receiver.stop()
