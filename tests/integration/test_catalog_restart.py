"""The catalog, webhooks, acks and delivery records survive a full restart of broker, API and notifier
(a broker of this test's own, stopped and started on the same data, as in test_broker_outage_and_recovery)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from bazaar_core.kafka.local import LocalKafka
from tests.conftest import free_ports
from tests.integration.alerting import LOCAL_RECEIVERS, Receiver, all_topics, make_alert, notifier, produce_alerts, wait_until
from tests.integration.apps import api
from tests.integration.test_catalog_api import CSV, RICE, SOAP, event, sale_line

pytestmark = pytest.mark.integration

SECRET = "restart-secret-123456"


def snapshot(client: TestClient) -> dict:
    return {
        "rice": client.get("/v1/products/rice").json(),
        "tea": client.get("/v1/products/tea-190").json(),
        "stores": client.get("/v1/stores").json(),
        "effective": client.get("/v1/stores/lahore-007/products/soap").json(),
        "search": client.get("/v1/products", params={"q": "چاول"}).json(),
        "webhooks": client.get("/v1/webhooks").json(),
        "alerts": client.get("/v1/stores/lahore-007/alerts", params={"state": "all"}).json(),
    }


def wait_healthy(client: TestClient) -> None:
    wait_until(lambda: client.get("/health").status_code == 200, timeout=60, interval=0.3, what="the API's health")


def test_catalog_survives_a_full_restart(settings_factory, tmp_path):
    bootstrap_port, controller_port, notifier_port, receiver_port = free_ports(4)
    settings = settings_factory(
        kafka_bootstrap=f"127.0.0.1:{bootstrap_port}",
        kafka_controller_port=controller_port,
        data_dir=tmp_path / "own",
        notifier_port=notifier_port,
        webhook_backoff_base_s=0.2,
        webhook_backoff_max_s=1.0,
        **LOCAL_RECEIVERS,
    )
    receiver = Receiver(receiver_port, {"/hook": SECRET}).start()
    broker = LocalKafka(settings)
    child = notifier(settings)
    try:
        with broker:
            all_topics(settings)
            with api(settings) as client:
                wait_healthy(client)
                assert client.put("/v1/products/rice", json=RICE).status_code == 201
                assert client.put("/v1/products/soap", json=SOAP).status_code == 201
                assert client.put("/v1/stores/lahore-007", json={"name": "Lahore 7"}).status_code == 201
                assert client.put("/v1/stores/lahore-007/products/soap", json={"price": "90.00"}).status_code == 201
                assert (
                    client.post("/v1/products:import", content=CSV.encode(), headers={"content-type": "text/csv"}).json()["imported"] == 2
                )
                hook = client.post("/v1/webhooks", json={"url": receiver.url("/hook"), "secret": SECRET}).json()["webhook_id"]
                child.start()
                child.wait_healthy(timeout=60)
                before = make_alert(store="lahore-007", sku="rice")
                produce_alerts(settings, before)
                wait_until(lambda: receiver.delivered("/hook")[str(before.alert_id)] == 1, what="the first alert")
                wait_until(lambda: client.get("/v1/stores/lahore-007/alerts").json()["items"], what="the alert in the view")
                assert client.post(f"/v1/stores/lahore-007/alerts/{before.alert_id}/ack", json={"by": "owner"}).status_code == 200
                saved = snapshot(client)
            child.stop()
            broker.stop()

            broker.start()
            broker.wait_ready()
            with api(settings) as client:
                wait_healthy(client)
                assert snapshot(client) == saved
                assert saved["effective"]["price"] == "90" and [p["sku"] for p in saved["search"]["items"]] == ["rice"]
                assert [h["webhook_id"] for h in saved["webhooks"]["items"]] == [hook]
                assert saved["alerts"]["items"][0]["state"] == "acknowledged"
                # the managed-store rule holds with the catalog read back from Kafka
                r = client.post("/v1/events", json=event("lahore-007", [sale_line("ghee")]))
                assert r.status_code == 422 and r.json()["detail"][0]["field"] == "lines[0].sku"
                assert client.post("/v1/events", json=event("lahore-007", [sale_line("soap", "1", unit="carton")])).status_code == 202

                child = notifier(settings, "notifier-2")
                child.start()
                child.wait_healthy(timeout=60)
                after = make_alert(store="lahore-007", sku="soap")
                produce_alerts(settings, after, before)  # `before` replayed: already delivered
                wait_until(lambda: receiver.delivered("/hook")[str(after.alert_id)] == 1, what="the alert after the restart")
                time.sleep(2.0)
                assert dict(receiver.delivered("/hook")) == {str(before.alert_id): 1, str(after.alert_id): 1}
                assert all(r.valid for r in receiver.received)
    finally:
        child.stop()
        receiver.stop()
        broker.stop()
