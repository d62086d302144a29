"""``POST /v1/events`` through ``api.main.IngestLane`` answers exactly as FastAPI's route does: the
same status, body and headers for every kind of answer (accepted, each refusal, a broker failure),
and the same messages produced. Two apps alike but for the lane, fed the same requests."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.authz import unauthorized
from api.main import IngestLane, create_app
from api.producer import DeliveryResult
from api.services import Services
from bazaar_core.settings import Settings
from domain.access import ALL_STORES, Principal, Role
from schemas.catalog import Product, Store

pytestmark = pytest.mark.unit

STORE, OTHER, SKU = "lahore-007", "karachi-001", "tapal-190g"
CALLERS = {
    "admin": Principal("a00000000001", "head office", Role.ADMIN, ALL_STORES),
    "cashier": Principal("c00000000001", "till 1", Role.CASHIER, (STORE,)),
    "analyst": Principal("d00000000001", "numbers", Role.ANALYST, (STORE,)),
}


class StubAuth:
    async def authenticate(self, request, *, query_token: bool = False) -> Principal:
        header = request.headers.get("authorization", "")
        who = CALLERS.get(header.removeprefix("Bearer "))
        if who is None:
            raise unauthorized("no or an unknown token")
        return who


class Producer:
    """Acks at once with offsets counted from 0, or fails every message while ``down``."""

    is_down = False

    def __init__(self) -> None:
        self.sent: list = []
        self.offsets = itertools.count()
        self.down = False

    async def check(self) -> bool:
        return True

    async def send_many(self, items, timeout: float) -> list[DeliveryResult]:
        if self.down:
            return [DeliveryResult(error="broker unavailable")] * len(items)
        self.sent.extend(items)
        return [DeliveryResult(i % 3, next(self.offsets)) for i, _ in enumerate(items)]


def app_with(lane: bool) -> tuple[TestClient, Producer, FastAPI]:
    settings = Settings(kafka_bootstrap="127.0.0.1:1")
    app = create_app(settings)
    if not lane:  # (the middleware stack is built on the first request)
        app.user_middleware = [m for m in app.user_middleware if m.cls is not IngestLane]
    services = Services.create(settings)
    for follower in services.followers.values():
        follower._ready.set()
    services.catalog.put_store(0, Store(store_id=STORE, name=STORE))
    services.catalog.put_product(0, Product(sku=SKU, name="Tapal Danedar 190g", price="450.00"))
    producer = Producer()
    app.state.services, app.state.producer, app.state.auth = services, producer, StubAuth()
    return TestClient(app), producer, app


def sale(**extra) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": STORE,
        "terminal_id": "pos-1",
        "occurred_at": "2026-11-22T18:04:11+05:00",
        "lines": [{"sku": SKU, "quantity": "2", "unit_price": "450.00"}],
        **extra,
    }


def requests() -> list[tuple[str, dict, bytes | None, dict]]:
    """(who, headers, body, json) of every kind of answer the route gives."""
    one, two, three = sale(), sale(), sale(store_id="shop-9")
    return [
        ("admin", {}, None, one),  # 202, one event
        ("admin", {}, None, {"events": [two, three, sale(type="transfer", to_store_id=OTHER, lines=[{"sku": SKU, "quantity": 1}])]}),
        ("cashier", {}, None, sale(actor="mallory")),  # the actor from the token
        ("nobody", {}, None, sale()),  # 401
        ("analyst", {}, None, sale()),  # 403 at the route's own check
        ("cashier", {}, None, {"events": [sale(), sale(store_id=OTHER)]}),  # 403 naming index 1
        ("admin", {"content-type": "application/json"}, b"{not json", None),  # 400
        ("admin", {}, None, {"events": []}),  # 422
        ("admin", {}, None, {"events": [sale()] * 501}),  # 413 batch_too_large
        ("admin", {}, None, sale(lines=[{"sku": "no-such-sku", "quantity": 1, "unit_price": "1"}])),  # 422 catalog
        ("admin", {"content-type": "text/plain"}, b"{}", None),  # 415 from the guard
        ("admin", {}, None, {"events": [sale(quantity="x"), sale(occurred_at="yesterday")]}),  # 422 by index
    ]


def answer(client: TestClient, who: str, headers: dict, body: bytes | None, json: dict | None):
    hdrs = {"Authorization": f"Bearer {who}", **headers}
    r = client.post("/v1/events", content=body, headers=hdrs) if body is not None else client.post("/v1/events", json=json, headers=hdrs)
    return r.status_code, r.content, sorted((k, v) for k, v in r.headers.items() if k != "date")


def test_the_lane_answers_every_request_as_the_route_does():
    lane, lane_producer, lane_app = app_with(lane=True)
    route, route_producer, _ = app_with(lane=False)
    assert any(m.cls is IngestLane for m in lane_app.user_middleware)
    statuses = set()
    for who, headers, body, json in requests():
        got, want = answer(lane, who, headers, body, json), answer(route, who, headers, body, json)
        assert got == want, (who, json if body is None else body)
        statuses.add(got[0])
    assert statuses == {202, 400, 401, 403, 413, 415, 422}
    # the same messages, but for the server's receive time
    assert [(k, h) for k, _, h in lane_producer.sent] == [(k, h) for k, _, h in route_producer.sent]
    assert len(lane_producer.sent) == 6  # 1, then 3 events (a transfer: 2 legs), then the cashier's 1


def test_a_broker_failure_answers_alike():
    lane, lane_producer, _ = app_with(lane=True)
    route, route_producer, _ = app_with(lane=False)
    lane_producer.down = route_producer.down = True
    body = sale()
    got, want = answer(lane, "admin", {}, None, body), answer(route, "admin", {}, None, body)
    assert got == want and got[0] == 503 and ("retry-after", "1") in got[2]


def test_only_posts_to_the_exact_path_take_the_lane():
    taken = []
    lane = IngestLane(None, endpoint=None, on_error=None)

    async def endpoint(request):
        taken.append(request.url.path)
        raise RuntimeError("taken")

    lane.endpoint = endpoint
    scope = {"type": "http", "method": "GET", "path": "/v1/events", "headers": [], "query_string": b""}
    for changed in ({"method": "GET"}, {"path": "/v1/events/"}, {"root_path": "/api", "path": "/api/v1/events"}):
        passed = []

        async def app_(scope, receive, send, passed=passed):
            passed.append(scope["path"])

        lane.app = app_
        asyncio.run(lane({**scope, "method": "POST", **changed}, None, None))
        assert passed and not taken
    with pytest.raises(RuntimeError, match="taken"):
        asyncio.run(lane({**scope, "method": "POST"}, None, None))
    assert taken == ["/v1/events"]
