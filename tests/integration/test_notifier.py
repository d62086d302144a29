"""Webhooks end to end on the real broker: the API registers them (in-process), ``bazaar notifier``
runs as a subprocess, alerts are written onto the alerts topic as the stream writes them, and a
receiver started here checks every signature and counts every delivery."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.conftest import free_ports
from tests.integration.alerting import Receiver, all_topics, make_alert, notifier, produce_alerts, wait_until

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
    )
    all_topics(settings)
    receiver = Receiver(receiver_port, {"/a": SECRET_A, "/b": SECRET_B}).start()
    child = notifier(settings)
    try:
        with TestClient(create_app(settings)) as client:
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
    settings = settings_factory(notifier_port=notifier_port, webhook_backoff_base_s=0.1, webhook_backoff_max_s=0.2, webhook_max_attempts=3)
    all_topics(settings)
    receiver = Receiver(receiver_port, {"/down": SECRET_A}, statuses={"/down": 500}).start()
    child = notifier(settings)
    try:
        with TestClient(create_app(settings)) as client:
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
        import httpx

        metrics = httpx.get(f"http://127.0.0.1:{notifier_port}/metrics").text
        assert "bazaar_notifier_deliveries_total" in metrics
    finally:
        child.stop()
        receiver.stop()


def test_webhook_body_validation(settings_factory):
    settings = settings_factory()
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/webhooks", json={"url": "ftp://x", "secret": "short"})
        assert r.status_code == 422
        assert {d["field"] for d in r.json()["detail"]} == {"url", "secret"}
        r = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:1/x", "secret": "x" * 16, "kinds": ["nope"]})
        assert r.status_code == 422 and r.json()["detail"][0]["field"].startswith("kinds")
        assert client.get("/v1/webhooks/6f1c7c9e-1d5b-4a53-9a3c-2b1f0f6f4a10").status_code == 404
