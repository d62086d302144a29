"""Webhooks end to end on the real broker: the API registers them (in-process), ``bazaar notifier``
runs as a subprocess, alerts are written onto the alerts topic as the stream writes them, and a
receiver started here (on 127.0.0.1, so these settings allow http and private receivers) checks
every signature and counts every delivery. Also: with the default settings a loopback receiver is
refused at registration, the webhooks topic holds no secret in clear, and a receiver the notifier's
rules refuse is dead-lettered without a request."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from fastapi.testclient import TestClient

from schemas.webhooks import Webhook
from tests.conftest import free_ports
from tests.integration.alerting import LOCAL_RECEIVERS, Receiver, all_topics, make_alert, notifier, produce_alerts, wait_until
from tests.integration.apps import api

pytestmark = pytest.mark.integration

SECRET_A = "secret-of-receiver-a"
SECRET_B = "secret-of-receiver-b"


def register(client: TestClient, url: str, secret: str, **more) -> str:
    r = client.post("/v1/webhooks", json={"url": url, "secret": secret, **more})
    assert r.status_code == 201, r.text
    body = r.json()
    assert "secret" not in body
    return body["webhook_id"]


def test_every_alert_once_through_receiver_outage_duplicates_and_sigkill(settings_factory):
    notifier_port, receiver_port = free_ports(2)
    settings = settings_factory(
        notifier_port=notifier_port,
        webhook_backoff_base_s=0.2,
        webhook_backoff_max_s=1.0,
        webhook_max_attempts=60,
        webhook_breaker_cool_off_s=1.0,
        **LOCAL_RECEIVERS,
    )
    all_topics(settings)
    receiver = Receiver(receiver_port, {"/a": SECRET_A, "/b": SECRET_B}).start()
    child = notifier(settings)
    try:
        with api(settings) as client:
            register(client, receiver.url("/a"), SECRET_A)
            register(client, receiver.url("/b"), SECRET_B, store_ids=["other-store"], kinds=["out_of_stock"])
            assert len(client.get("/v1/webhooks").json()["items"]) == 2
        child.start()
        child.wait_healthy(timeout=60)

        # 1. delivered once each, a replayed alert (same alert_id) included
        first = [make_alert(sku=f"sku-{i}") for i in range(3)]
        produce_alerts(settings, *first, first[0])
        wait_until(lambda: len(receiver.delivered("/a")) == 3, what="the first three alerts")

        # 2. receiver down: alerts raised meanwhile are retried; the notifier is killed mid-retry
        receiver.stop()
        during = [make_alert(sku=f"down-{i}") for i in range(3)]
        produce_alerts(settings, *during)
        time.sleep(1.5)  # a few failed attempts
        child.kill()
        while_dead = make_alert(sku="while-dead")
        produce_alerts(settings, while_dead, during[1])  # and a replay of one under way
        child = notifier(settings, "notifier-2")
        child.start()
        child.wait_healthy(timeout=60)
        time.sleep(1.0)
        receiver.start()
        wait_until(lambda: len(receiver.delivered("/a")) == 7, timeout=60, what="the alerts raised while the receiver was down")

        # 3. a filtered webhook gets only what it asked for
        unwanted, wanted = make_alert(store="other-store", kind="low_stock"), make_alert(store="other-store", kind="out_of_stock")
        produce_alerts(settings, unwanted, wanted)
        wait_until(lambda: len(receiver.delivered("/b")) == 1, what="the filtered webhook's alert")
        wait_until(lambda: len(receiver.delivered("/a")) == 9, what="both other-store alerts on the catch-all webhook")

        time.sleep(2.0)  # anything that would be sent twice has had time to arrive
        counts = receiver.delivered("/a")
        assert counts == {str(a.alert_id): 1 for a in [*first, *during, while_dead, unwanted, wanted]}
        assert dict(receiver.delivered("/b")) == {str(wanted.alert_id): 1}
        assert all(r.valid for r in receiver.received), "every request carries a valid, fresh signature"
        # the body is the alert JSON as on the topic
        body = next(r.body for r in receiver.received if r.alert_id == str(first[1].alert_id))
        assert body == first[1].model_dump_json().encode()
    finally:
        child.stop()
        receiver.stop()


def test_dead_letter_after_the_last_attempt_then_retry(settings_factory):
    notifier_port, receiver_port = free_ports(2)
    settings = settings_factory(
        notifier_port=notifier_port, webhook_backoff_base_s=0.1, webhook_backoff_max_s=0.2, webhook_max_attempts=3, **LOCAL_RECEIVERS
    )
    all_topics(settings)
    receiver = Receiver(receiver_port, {"/down": SECRET_A}, statuses={"/down": 500}).start()
    child = notifier(settings)
    try:
        with api(settings) as client:
            hook = register(client, receiver.url("/down"), SECRET_A)
            child.start()
            child.wait_healthy(timeout=60)
            alert = make_alert()
            produce_alerts(settings, alert)

            def dead():
                items = client.get(f"/v1/webhooks/{hook}/dead-letters").json()["items"]
                return items if items and items[0]["state"] == "dead" else None

            [item] = wait_until(dead, what="the dead letter")
            assert (item["alert_id"], item["attempts"], item["last_error"]) == (str(alert.alert_id), 3, "HTTP 500")
            assert receiver.attempts("/down")[str(alert.alert_id)] == 3

            receiver.statuses["/down"] = 200
            r = client.post(f"/v1/webhooks/{hook}/dead-letters/{alert.alert_id}/retry")
            assert r.status_code == 202 and r.json()["state"] == "retry_requested"
            wait_until(lambda: receiver.delivered("/down")[str(alert.alert_id)] == 1, what="the retried delivery")
            wait_until(lambda: client.get(f"/v1/webhooks/{hook}/dead-letters").json()["items"] == [], what="the dead letter to go")
            assert client.post(f"/v1/webhooks/{hook}/dead-letters/{alert.alert_id}/retry").status_code == 404

            # a clean restart replays nothing
            child.stop()
            child = notifier(settings, "notifier-2")
            child.start()
            child.wait_healthy(timeout=60)
            produce_alerts(settings, alert)  # the stream replays the alert too
            time.sleep(2.0)
            assert receiver.delivered("/down")[str(alert.alert_id)] == 1

            # deleting the webhook stops deliveries to it
            assert client.delete(f"/v1/webhooks/{hook}").status_code == 204
            assert client.get(f"/v1/webhooks/{hook}").status_code == 404
            assert client.delete(f"/v1/webhooks/{hook}").status_code == 404
            before = len(receiver.received)
            produce_alerts(settings, make_alert(sku="after-delete"))
            time.sleep(2.0)
            assert len(receiver.received) == before

            m = client.get("/metrics")  # the API's metrics; the notifier has its own
            assert m.status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{notifier_port}/metrics").text
        assert "bazaar_notifier_deliveries_total" in metrics
    finally:
        child.stop()
        receiver.stop()


def test_webhook_body_validation(settings_factory):
    settings = settings_factory(**LOCAL_RECEIVERS)
    with api(settings) as client:
        r = client.post("/v1/webhooks", json={"url": "ftp://x", "secret": "short"})
        assert r.status_code == 422
        assert {d["field"] for d in r.json()["detail"]} == {"url", "secret"}
        r = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:1/x", "secret": "x" * 16, "kinds": ["nope"]})
        assert r.status_code == 422 and r.json()["detail"][0]["field"].startswith("kinds")
        assert client.get("/v1/webhooks/6f1c7c9e-1d5b-4a53-9a3c-2b1f0f6f4a10").status_code == 404


def test_with_the_default_settings_a_loopback_receiver_is_refused_at_registration(settings_factory):
    """Nothing is sent anywhere: the only names resolved are 127.0.0.1 and localhost (loopback)."""
    settings = settings_factory()  # webhook_allow_http and webhook_allow_private: false
    with api(settings) as client:
        for url, why in [
            ("http://127.0.0.1:9/hook", "must be https (http only with BAZAAR_WEBHOOK_ALLOW_HTTP=true)"),
            ("https://127.0.0.1:9/hook", "resolves to 127.0.0.1 is a loopback address"),
            ("https://localhost:9/hook", "is a loopback address"),
            ("https://[::1]:9/hook", "resolves to ::1 is a loopback address"),
        ]:
            r = client.post("/v1/webhooks", json={"url": url, "secret": SECRET_A})
            assert r.status_code == 422, (url, r.text)
            [issue] = r.json()["detail"]
            assert issue["field"] == "url" and why in issue["reason"], (url, issue)
        assert client.get("/v1/webhooks").json()["items"] == []  # nothing registered


def raw_values(settings) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of every record on the webhooks topic, as any consumer of it reads them."""
    topic = settings.webhooks_topic
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "test-raw-reader", "enable.auto.commit": False})
    try:
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out: list[tuple[bytes, bytes | None]] = []
        deadline = time.monotonic() + 30
        while len(out) < end:
            assert time.monotonic() < deadline, "could not read the webhooks topic to its end"
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                out.append((msg.key(), msg.value()))
        return out
    finally:
        consumer.close()


def test_a_reader_of_the_webhooks_topic_sees_no_secret_in_clear(settings_factory):
    notifier_port, receiver_port = free_ports(2)
    settings = settings_factory(notifier_port=notifier_port, **LOCAL_RECEIVERS)
    all_topics(settings)
    receiver = Receiver(receiver_port, {}).start()
    # a registration written before secrets were sealed: its secret in clear on the topic
    legacy_secret = "legacy-secret-in-clear-0123"
    legacy = make_legacy(settings, receiver.url("/legacy"), legacy_secret)
    child = notifier(settings)
    try:
        with api(settings) as client:
            given = client.post("/v1/webhooks", json={"url": receiver.url("/given"), "secret": SECRET_A})
            made = client.post("/v1/webhooks", json={"url": receiver.url("/made")})
            assert given.status_code == made.status_code == 201, (given.text, made.text)
            assert "secret" not in given.json()
            made_secret = made.json()["secret"]  # made by the server: in this answer only
            assert len(made_secret) >= 32
            for hook in (given.json(), made.json()):
                assert "secret" not in client.get(f"/v1/webhooks/{hook['webhook_id']}").json()
            listed = client.get("/v1/webhooks").json()["items"]
            assert len(listed) == 3 and all("secret" not in h and "secret_sealed" not in h for h in listed)

            # the API seals the old record again once it has read the topic
            def resealed():
                latest = dict(raw_values(settings))[str(legacy.webhook_id).encode()]
                return latest if latest is not None and b'"secret_sealed":"v1.' in latest else None

            wait_until(resealed, what="the legacy registration written again, sealed")
            receiver.secrets.update({"/given": SECRET_A, "/made": made_secret, "/legacy": legacy_secret})

        records = raw_values(settings)
        ours = [v for k, v in records if k != str(legacy.webhook_id).encode()]
        assert len(ours) == 2
        for value in ours:
            assert SECRET_A.encode() not in value and made_secret.encode() not in value
            body = json.loads(value)
            assert body["secret"] is None and body["secret_sealed"].startswith("v1.")
        old = [v for k, v in records if k == str(legacy.webhook_id).encode()]
        assert legacy_secret.encode() in old[0] and legacy_secret.encode() not in old[-1]  # until compaction drops the first

        # the notifier opens each secret: every delivery carries a valid signature
        child.start()
        child.wait_healthy(timeout=60)
        alert = make_alert()
        produce_alerts(settings, alert)
        for path in ("/given", "/made", "/legacy"):
            wait_until(lambda path=path: receiver.delivered(path)[str(alert.alert_id)] == 1, what=f"the alert at {path}")
        assert len(receiver.received) == 3 and all(r.valid for r in receiver.received)
    finally:
        child.stop()
        receiver.stop()


def make_legacy(settings, url: str, secret: str) -> Webhook:
    """Write a registration as the API wrote them before secrets were sealed."""
    hook = Webhook(url=url, secret=secret, webhook_id=uuid.uuid4(), created_at=datetime.now(UTC) - timedelta(minutes=1))
    p = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    p.produce(settings.webhooks_topic, key=str(hook.webhook_id).encode(), value=hook.model_dump_json().encode())
    assert p.flush(20) == 0
    return hook


def test_a_receiver_the_notifiers_rules_refuse_is_dead_lettered_without_a_request(settings_factory):
    """Registered while private receivers were allowed; the notifier runs with the default rules now:
    it refuses 127.0.0.1 before connecting, dead-letters at once with the reason and counts it."""
    notifier_port, receiver_port = free_ports(2)
    loose = settings_factory(notifier_port=notifier_port, **LOCAL_RECEIVERS)
    strict = loose.model_copy(update={"webhook_allow_private": False})
    all_topics(loose)
    receiver = Receiver(receiver_port, {"/hook": SECRET_A}).start()
    child = notifier(strict)
    try:
        with api(loose) as client:
            hook = register(client, receiver.url("/hook"), SECRET_A)
            child.start()
            child.wait_healthy(timeout=60)
            alert = make_alert()
            produce_alerts(loose, alert)

            def dead():
                items = client.get(f"/v1/webhooks/{hook}/dead-letters").json()["items"]
                return items or None

            [item] = wait_until(dead, what="the refused delivery's dead letter")
            assert item["alert_id"] == str(alert.alert_id) and item["attempts"] == 1
            assert item["last_error"].startswith("refused: resolves to 127.0.0.1 is a loopback address"), item
        assert receiver.received == []
        metrics = httpx.get(f"http://127.0.0.1:{notifier_port}/metrics").text
        assert 'bazaar_notifier_deliveries_total{outcome="refused"} 1.0' in metrics
        assert child.log_path.read_text().count("delivery refused by the address rules") == 1
    finally:
        child.stop()
        receiver.stop()


def test_ready_once_its_alerts_consumer_has_caught_up_and_alive_all_along(settings_factory):
    """The notifier's probes: ``/ready`` says 503 (``unmeasured``, then maybe ``behind``) until its
    alerts consumer is assigned and has read what is on the topic (``notifier_ready_lag=0`` here),
    then 200; ``/livez`` says alive. Neither says a figure."""
    (notifier_port,) = free_ports(1)
    settings = settings_factory(notifier_port=notifier_port, notifier_ready_lag=0)
    all_topics(settings)
    backlog = [make_alert(sku=f"backlog-{i}") for i in range(40)]
    produce_alerts(settings, *backlog)
    base = f"http://127.0.0.1:{notifier_port}"

    def alerts_read() -> int:
        lines = httpx.get(f"{base}/metrics").text.splitlines()
        return int(sum(float(line.split()[-1]) for line in lines if line.startswith("bazaar_notifier_alerts_total{")))

    child = notifier(settings)
    child.start()
    try:
        seen: list[tuple[int, dict]] = []
        deadline = time.monotonic() + 60
        while not seen or seen[-1][0] != 200:
            assert time.monotonic() < deadline, f"not ready within 60 s: {seen[-3:]}\n{child.log_path.read_text()[-2000:]}"
            try:
                r = httpx.get(f"{base}/ready", timeout=5)
            except httpx.TransportError:  # its port is not open yet
                time.sleep(0.05)
                continue
            seen.append((r.status_code, r.json()))
            time.sleep(0.05)
        assert seen[0] == (503, {"status": "unmeasured", "feeds": ["alerts"]}), seen[0]  # the port opens before the consumer
        assert {body["status"] for _, body in seen[:-1]} <= {"unmeasured", "behind"} and seen[-1] == (200, {"status": "ready"})
        # ready: its position was at the topic's end (what it read is counted a moment after)
        wait_until(lambda: alerts_read() == len(backlog), timeout=5, what="the backlog counted as read")
        livez = httpx.get(f"{base}/livez")
        assert (livez.status_code, livez.json()) == (200, {"status": "alive"})
        produce_alerts(settings, *[make_alert(sku=f"later-{i}") for i in range(5)])
        wait_until(lambda: alerts_read() == len(backlog) + 5, what="the later alerts read")
        wait_until(lambda: httpx.get(f"{base}/ready").status_code == 200, what="ready again")
    finally:
        child.stop()
