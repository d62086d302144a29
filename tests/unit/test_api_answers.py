"""The whole app's answers match the models its OpenAPI document declares, route by route: the
catalog, alert and webhook views filled in memory, a writer that acks at once, stub workers and
analytics. (The live contract test, tests/integration/test_api_contract.py, fuzzes the same
document against real processes.)"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.http import HttpAnswer
from api.main import create_app
from api.routes.stock import worker_error
from api.services import Services
from api.workers import WorkerClient
from bazaar_core.kafka.writer import Written
from bazaar_core.settings import Settings
from schemas import answers
from schemas.alerts import Alert
from schemas.catalog import Product, Store, StoreProduct
from schemas.webhooks import DeadLetter

pytestmark = pytest.mark.unit

STORE, SKU = "lahore-007", "tapal-190g"
ALERT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
NOW = datetime(2026, 11, 22, 13, 4, 11, tzinfo=UTC)


class Writer:
    """Acks every record at once (offsets count up), keeping what was written."""

    def __init__(self) -> None:
        self.offsets = itertools.count(1)
        self.written: list[tuple[str, bytes, bytes | None]] = []

    async def write(self, topic: str, key: bytes, value: bytes | None) -> Written:
        self.written.append((topic, key, value))
        return Written(0, next(self.offsets))

    async def write_many(self, items) -> list[Written]:
        return [await self.write(*item) for item in items]


WORKER_ANSWERS = {
    f"/stock/{STORE}/{SKU}": (
        200,
        {
            "store_id": STORE,
            "sku": SKU,
            "on_hand": "-1.5",
            "negative": True,
            "last_count_at": None,
            "last_count_quantity": None,
            "updated_at": "2026-11-22T13:04:11.250000+00:00",
            "movements_since_count": 2,
        },
    ),
    f"/stock/{STORE}/nope": (404, {"error": "not_found", "detail": f"no stock recorded for sku 'nope' at store {STORE!r}"}),
    f"/stock/{STORE}": (200, {"items": [], "next_cursor": None}),
}


async def worker_get(url: str, params: dict[str, str], timeout_s: float) -> HttpAnswer:
    path = url.split("worker.test", 1)[1]
    if path.startswith("/reports"):  # the analytics process shares the stub
        return HttpAnswer(
            200,
            json.dumps(
                {
                    "reports": [
                        {
                            "name": "daily_sales",
                            "title": "Daily sales",
                            "store_scoped": True,
                            "params": [{"name": "store_id", "type": "String", "required": False, "help": "store"}],
                        }
                    ]
                }
            ).encode(),
            {"content-type": "application/json"},
        )
    status, body = WORKER_ANSWERS[path]
    return HttpAnswer(status, json.dumps(body).encode(), {"content-type": "application/json"})


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(
        kafka_bootstrap="127.0.0.1:1",
        worker_urls=["http://worker.test"],
        analytics_url="http://worker.test",
        data_dir=tmp_path_factory.mktemp("answers"),  # the secrets key of webhook registrations
        webhook_allow_http=True,  # the webhook registered below is on 127.0.0.1 (never called)
        webhook_allow_private=True,
        auth_required=False,  # answers' shapes, by a caller who may do anything (no lifespan: no authenticator)
    )
    app = create_app(settings)
    services = Services.create(settings)
    services.writer = Writer()
    for follower in services.followers.values():
        follower._ready.set()  # read up to the end: nothing on these topics
    alert = Alert(
        alert_id=ALERT_ID,
        kind="low_stock",
        store_id=STORE,
        sku=SKU,
        on_hand="2",
        threshold="5",
        velocity="1.25",
        days_of_cover="1.6",
        suggested_reorder="12",
        reorder_unit="carton",
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        raised_at=NOW,
    )
    services.alerts.apply_message(alert.model_dump(mode="json"), 0)
    services.catalog.put_store(0, Store(store_id=STORE, name="Tapal corner"))
    services.catalog.put_product(0, Product(sku=SKU, name="Tapal Danedar 190g", names={"ur": "تپال"}, price="450.00", reorder_point="5"))
    app.state.services, app.state.http_get = services, worker_get
    app.state.workers = WorkerClient(worker_get, settings.worker_urls)
    return TestClient(app)


def check(client: TestClient, resp, model) -> dict:
    """The answer validates against ``model``, and its status is one the document lists for the route."""
    data = resp.json()
    model.model_validate(data)
    method, path = resp.request.method.lower(), resp.request.url.path
    assert str(resp.status_code) in documented(client, method, path), (method, path, resp.status_code)
    return data


def documented(client: TestClient, method: str, path: str) -> set[str]:
    """The statuses the document lists for the route that serves ``path`` (a literal segment wins)."""
    parts = path.strip("/").split("/")
    found = []
    for template, item in client.app.openapi()["paths"].items():
        t = template.strip("/").split("/")
        if method in item and len(t) == len(parts) and all(a == b or a.startswith("{") for a, b in zip(t, parts)):
            found.append((template.count("{"), set(item[method]["responses"])))
    assert found, f"no route documented for {method} {path}"
    return min(found, key=lambda f: f[0])[1]


def test_catalog_answers(client):
    assert check(client, client.get(f"/v1/products/{SKU}"), Product)["sku"] == SKU
    page = check(client, client.get("/v1/products", params={"q": "tapal"}), answers.ProductPage)
    assert [p["sku"] for p in page["items"]] == [SKU]
    created = client.put("/v1/products/rice-1kg", json={"name": "Rice", "price": "300.00", "unit": "kg"})
    assert created.status_code == 201 and check(client, created, Product)["price"] == "300"
    again = client.put("/v1/products/rice-1kg", json={"name": "Rice", "price": 310})
    assert again.status_code == 200 and check(client, again, Product)["price"] == "310"
    assert check(client, client.get(f"/v1/stores/{STORE}"), Store)["name"] == "Tapal corner"
    assert check(client, client.get("/v1/stores"), answers.StorePage)["next_cursor"] is None
    override = client.put(f"/v1/stores/{STORE}/products/{SKU}", json={"price": "440.50"})
    assert override.status_code == 201 and check(client, override, StoreProduct)["price"] == "440.5"
    effective = check(client, client.get(f"/v1/stores/{STORE}/products/{SKU}"), answers.EffectiveProduct)
    assert effective["overridden"] == ["price"] and effective["store_id"] == STORE
    assert check(client, client.get("/v1/catalog/uncatalogued"), answers.Uncatalogued)["counts"]["stores"] == 1
    imported = client.post("/v1/products:import", content=b"sku,name\nsugar-1kg,Sugar\n,nameless\n", headers={"content-type": "text/csv"})
    report = check(client, imported, answers.ImportReport)
    assert report["imported"] == 1 and len(report["errors"]) == 1 and "more_errors" not in report  # absent when none


def test_alert_answers(client):
    page = check(client, client.get(f"/v1/stores/{STORE}/alerts"), answers.AlertPage)
    assert [a["alert_id"] for a in page["items"]] == [str(ALERT_ID)] and page["items"][0]["on_hand"] == "2"
    assert check(client, client.get(f"/v1/stores/{STORE}/alerts", params={"state": "all"}), answers.AlertPage)["next_cursor"] is None
    one = check(client, client.get(f"/v1/stores/{STORE}/alerts/{ALERT_ID}"), answers.AlertWithState)
    assert one["state"] == "active" and one["acknowledged"] is None
    ack = check(client, client.post(f"/v1/stores/{STORE}/alerts/{ALERT_ID}/ack", json={"by": "owner"}), answers.AckAnswer)
    assert ack["already"] is False and ack["acknowledged"]["by"] == "owner"
    again = check(client, client.post(f"/v1/stores/{STORE}/alerts/{ALERT_ID}/ack"), answers.AckAnswer)
    assert again["already"] is True
    missing = client.get(f"/v1/stores/{STORE}/alerts/{uuid.uuid4()}")
    assert missing.status_code == 404 and check(client, missing, answers.ErrorBody)["error"] == "not_found"


def test_webhook_answers(client):
    made = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "secret": "s" * 16})
    hook = check(client, made, answers.WebhookCreated)
    assert made.status_code == 201 and "secret" not in hook  # the client's own: not sent back
    generated = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/other"})
    assert len(check(client, generated, answers.WebhookCreated)["secret"]) >= 32  # made by the server: shown once
    listed = check(client, client.get("/v1/webhooks"), answers.WebhookList)["items"]
    assert [h["webhook_id"] for h in listed] == [hook["webhook_id"], generated.json()["webhook_id"]]
    assert all("secret" not in h for h in listed)
    assert check(client, client.get(f"/v1/webhooks/{hook['webhook_id']}"), answers.WebhookOut) == hook
    services = client.app.state.services
    dead = DeadLetter(
        webhook_id=hook["webhook_id"],
        alert_id=ALERT_ID,
        store_id=STORE,
        kind="low_stock",
        body="{}",
        attempts=12,
        last_error="HTTP 500",
        dead_at=NOW,
    )
    services.webhooks.put_dead_letter(0, dead)
    letters = check(client, client.get(f"/v1/webhooks/{hook['webhook_id']}/dead-letters"), answers.WebhookDeadLetters)
    assert [d["alert_id"] for d in letters["items"]] == [str(ALERT_ID)]
    retried = client.post(f"/v1/webhooks/{hook['webhook_id']}/dead-letters/{ALERT_ID}/retry")
    assert retried.status_code == 202 and check(client, retried, DeadLetter)["state"] == "retry_requested"
    assert client.delete(f"/v1/webhooks/{hook['webhook_id']}").status_code == 204


def test_stock_and_report_answers(client):
    item = check(client, client.get(f"/v1/stores/{STORE}/stock/{SKU}"), answers.StockItem)
    assert item["on_hand"] == "-1.5"
    assert check(client, client.get(f"/v1/stores/{STORE}/stock"), answers.StockPage) == {"items": [], "next_cursor": None}
    assert check(client, client.get("/v1/reports"), answers.ReportList)["reports"][0]["name"] == "daily_sales"


def test_a_workers_error_is_given_in_the_api_error_shape(client):
    missing = client.get(f"/v1/stores/{STORE}/stock/nope")
    body = check(client, missing, answers.ErrorBody)
    assert missing.status_code == 404 and body["error"] == "not_found" and "nope" in body["detail"][0]["reason"]


def test_worker_error_shapes():
    issue = {"index": None, "field": None}
    assert json.loads(worker_error(504, b'{"error": "not_caught_up", "detail": "partition 3 ..."}')) == {
        "error": "not_caught_up",
        "detail": [{**issue, "reason": "partition 3 ..."}],
    }
    assert json.loads(worker_error(504, b'{"error": "not_caught_up"}'))["detail"] == [{**issue, "reason": "not_caught_up"}]
    same = b'{"error": "x", "detail": [{"index": null, "field": null, "reason": "r"}]}'
    assert worker_error(400, same) == same  # already the API's shape
    assert json.loads(worker_error(404, b"404: Not Found")) == {
        "error": "worker_http_404",
        "detail": [{**issue, "reason": "404: Not Found"}],
    }
    assert json.loads(worker_error(418, b""))["detail"][0]["reason"] == "HTTP 418 from a stream worker"


def test_health_is_answered_with_its_model(client):
    class Producer:
        is_down = False

        async def check(self) -> bool:
            return True

    client.app.state.producer = Producer()
    assert check(client, client.get("/health"), answers.Health) == {"status": "ok", "broker": "up"}
