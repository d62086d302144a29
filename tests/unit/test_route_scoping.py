"""What each route does with who is asking: events checked one by one before anything is produced
(the whole batch refused for one event outside the token's rights), the actor and an ack's ``by``
set from the token, and store-scoped callers given their own stores only (reports, store lists,
uncatalogued stores, stock, alerts). The caller comes from a stub authenticator here; the real one,
the tokens and the whole stack are tests/integration/test_access_matrix.py's."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api import ingest
from api.authz import unauthorized
from api.errors import ApiError
from api.http import HttpAnswer
from api.main import create_app
from api.producer import DeliveryResult
from api.routes.events import authorize
from api.services import Services
from api.workers import WorkerClient
from bazaar_core.kafka.writer import Written
from bazaar_core.settings import Settings
from domain.access import ALL_STORES, EVENT_PERMISSIONS, Principal, Role, decide
from domain.events import digest
from schemas.alerts import Alert
from schemas.catalog import Product, Store
from schemas.events import EventAdapter, from_wire

pytestmark = pytest.mark.unit

LAHORE, KARACHI, QUETTA = "lahore-007", "karachi-001", "quetta-002"
SKU = "tapal-190g"
NOW = datetime(2026, 11, 22, 13, 4, 11, tzinfo=UTC)
CALLERS = {
    "admin": Principal("a00000000001", "head office", Role.ADMIN, ALL_STORES),
    "owner": Principal("b00000000001", "Asif", Role.OWNER, (LAHORE, KARACHI)),
    "cashier": Principal("c00000000001", "till 1", Role.CASHIER, (LAHORE,)),
    "analyst": Principal("d00000000001", "numbers", Role.ANALYST, (LAHORE, KARACHI)),
    "long": Principal("e00000000001", "x" * 100, Role.MANAGER, (LAHORE,)),
}


class StubAuth:
    """``Authorization: Bearer <caller name>`` (or ``?access_token=`` where the route takes it)."""

    async def authenticate(self, request, *, query_token: bool = False) -> Principal:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        if token is None and query_token:
            token = request.query_params.get("access_token")
        if token not in CALLERS:
            raise unauthorized("no or an unknown token")
        return CALLERS[token]


class Producer:
    is_down = False

    def __init__(self) -> None:
        self.sent: list = []
        self.offsets = itertools.count()

    async def check(self) -> bool:
        return True

    async def send_many(self, items, timeout: float) -> list[DeliveryResult]:
        self.sent.extend(items)
        return [Written(0, next(self.offsets)) for _ in items]


class Writer:
    def __init__(self) -> None:
        self.offsets = itertools.count(1)
        self.written: list = []

    async def write(self, topic: str, key: bytes, value: bytes | None) -> Written:
        self.written.append((topic, key, value))
        return Written(0, next(self.offsets))

    async def write_many(self, items) -> list[Written]:
        return [await self.write(*item) for item in items]


ALERT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def stack():
    asked: list[tuple[str, dict]] = []

    async def get(url: str, params: dict[str, str], timeout_s: float) -> HttpAnswer:
        asked.append((url, params))
        if "/reports" in url:
            body = {"report": url.rsplit("/", 1)[-1], "params": params, "columns": [], "rows": []}
        else:
            body = {"items": [], "next_cursor": None}
        return HttpAnswer(200, json.dumps(body).encode(), {"content-type": "application/json"})

    settings = Settings(kafka_bootstrap="127.0.0.1:1", worker_urls=["http://worker.test"], analytics_url="http://analytics.test")
    app = create_app(settings)
    services = Services.create(settings)
    services.writer = Writer()
    for follower in services.followers.values():
        follower._ready.set()
    for store in (LAHORE, KARACHI):
        services.catalog.put_store(0, Store(store_id=store, name=store))
    services.catalog.put_product(0, Product(sku=SKU, name="Tapal Danedar 190g", price="450.00"))
    for store in (LAHORE, KARACHI):
        alert = Alert(
            alert_id=ALERT_ID if store == LAHORE else uuid.uuid4(),
            kind="low_stock",
            store_id=store,
            sku=SKU,
            on_hand="2",
            threshold="5",
            velocity="1.25",
            days_of_cover="1.6",
            suggested_reorder="12",
            event_id=uuid.uuid4(),
            occurred_at=NOW,
            raised_at=NOW,
        )
        services.alerts.apply_message(alert.model_dump(mode="json"), 0)
    producer = Producer()
    app.state.services, app.state.http_get, app.state.producer, app.state.auth = services, get, producer, StubAuth()
    app.state.workers = WorkerClient(get, settings.worker_urls)
    return TestClient(app), producer, asked, services


def as_(caller: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {caller}"}


def event(kind: str = "sale", store: str = LAHORE, **extra) -> dict:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "store_id": store,
        "terminal_id": "pos-1",
        "occurred_at": "2026-11-22T18:04:11+05:00",
        "lines": [{"sku": SKU, "quantity": 1, **({"unit_price": "450.00"} if kind in ("sale", "return") else {})}],
    }
    if kind == "purchase":
        body["supplier"] = "tapal"
        body["lines"][0]["unit_cost"] = "400.00"
    if kind == "transfer":
        body["to_store_id"] = KARACHI if store != KARACHI else LAHORE
    return {**body, **extra}


def test_no_token_is_401_with_the_bearer_challenge(stack):
    client, producer, _, _ = stack
    r = client.post("/v1/events", json=event())
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and r.json()["error"] == "unauthorized"
    assert client.get(f"/v1/stores/{LAHORE}/stock").status_code == 401
    assert not producer.sent


def test_one_event_outside_the_tokens_rights_refuses_the_whole_batch(stack):
    client, producer, _, _ = stack
    r = client.post("/v1/events", json={"events": [event(), event("purchase")]}, headers=as_("cashier"))
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["error"] == "forbidden" and body["permission"] == "events:write:purchase" and body["store_id"] == LAHORE
    assert body["detail"][0]["index"] == 1 and body["detail"][0]["field"] == "type"
    r = client.post("/v1/events", json={"events": [event(), event(store=KARACHI)]}, headers=as_("cashier"))
    assert r.status_code == 403 and r.json()["store_id"] == KARACHI and r.json()["permission"] == "events:write:sale"
    assert r.json()["detail"][0] == {"index": 1, "field": "store_id", "reason": f"store {KARACHI!r} is outside this credential's scope"}
    single = client.post("/v1/events", json=event(store=QUETTA), headers=as_("cashier"))
    assert single.status_code == 403 and single.json()["detail"][0]["index"] is None, single.text
    analyst = client.post("/v1/events", json=event(), headers=as_("analyst"))  # may write no event: the route's own check
    assert analyst.status_code == 403 and analyst.json()["permission"] == "events:write:sale"
    assert not producer.sent  # nothing of any refused request was produced
    assert client.post("/v1/events", json={"events": [event(), event("return"), event("count")]}, headers=as_("cashier")).status_code == 202


def test_a_transfer_needs_the_right_at_the_sending_store(stack):
    client, producer, _, _ = stack
    out = event("transfer", store=LAHORE, to_store_id=QUETTA)  # to a store outside the owner's scope: theirs to send
    assert client.post("/v1/events", json=out, headers=as_("owner")).status_code == 202
    inbound = event("transfer", store=QUETTA, to_store_id=LAHORE)
    r = client.post("/v1/events", json=inbound, headers=as_("owner"))
    assert r.status_code == 403 and r.json()["store_id"] == QUETTA and r.json()["permission"] == "events:write:transfer"
    assert len(producer.sent) == 2  # the two legs of the first transfer only


def test_the_actor_is_the_tokens_and_the_digest_ignores_it(stack):
    client, producer, _, _ = stack
    posted = event(actor="mallory")
    assert client.post("/v1/events", json=posted, headers=as_("cashier")).status_code == 202
    ((_key, value, headers),) = producer.sent
    produced = from_wire(value)
    assert produced.actor == "till 1 (c00000000001)"
    # the digest is the event's without an actor: a re-send under another credential is the same event
    as_sent_without_actor = EventAdapter.validate_python({**posted, "actor": None})
    assert dict(headers)["bazaar-digest"] == digest(as_sent_without_actor).encode()
    assert client.post("/v1/events", json=posted, headers=as_("owner")).status_code == 202
    assert producer.sent[1][2] == producer.sent[0][2]  # the same digest header
    assert from_wire(producer.sent[1][1]).actor == "Asif (b00000000001)"
    assert client.post("/v1/events", json=event(), headers=as_("long")).status_code == 202
    long_actor = from_wire(producer.sent[2][1]).actor
    assert long_actor is not None and len(long_actor) == ingest.ACTOR_MAX and long_actor.endswith(" (e00000000001)")


def test_reports_give_a_scoped_caller_its_own_stores(stack):
    client, _, asked, _ = stack
    assert client.get("/v1/reports/daily_sales", headers=as_("analyst")).status_code == 200
    assert asked[-1][1]["scope"] == f"{LAHORE},{KARACHI}"
    assert client.get("/v1/reports/daily_sales", params={"store_id": ""}, headers=as_("analyst")).status_code == 200
    assert asked[-1][1]["scope"] == f"{LAHORE},{KARACHI}"  # '' is every store too: the caller's
    assert client.get("/v1/reports/daily_sales", params={"scope": f"{QUETTA},{KARACHI}"}, headers=as_("analyst")).status_code == 200
    assert asked[-1][1]["scope"] == KARACHI  # narrowed, never widened
    n = len(asked)
    r = client.get("/v1/reports/daily_sales", params={"scope": QUETTA}, headers=as_("analyst"))
    assert r.status_code == 403 and r.json()["store_id"] == QUETTA
    r = client.get("/v1/reports/daily_sales", params={"store_id": QUETTA}, headers=as_("analyst"))
    assert r.status_code == 403 and r.json()["store_id"] == QUETTA and r.json()["permission"] == "reports:read"
    assert client.get(f"/v1/stores/{QUETTA}/reports/daily_sales", headers=as_("analyst")).status_code == 403
    assert len(asked) == n  # the analytics process was not asked
    assert client.get("/v1/reports/daily_sales", headers=as_("admin")).status_code == 200
    assert "scope" not in asked[-1][1]  # every store
    assert client.get(f"/v1/stores/{LAHORE}/reports/daily_sales", params={"scope": QUETTA}, headers=as_("analyst")).status_code == 200
    assert asked[-1][1] == {"store_id": LAHORE}
    assert client.get("/v1/reports/daily_sales", headers=as_("cashier")).status_code == 403  # no reports:read


def test_lists_hold_the_callers_stores_only(stack):
    client, _, asked, services = stack
    stores = client.get("/v1/stores", headers=as_("cashier")).json()["items"]
    assert [s["store_id"] for s in stores] == [LAHORE]
    assert len(client.get("/v1/stores", headers=as_("admin")).json()["items"]) == 2
    assert client.get(f"/v1/stores/{KARACHI}", headers=as_("cashier")).status_code == 403
    from domain.catalog_refs import Uncatalogued

    seen = Uncatalogued()
    seen.add((QUETTA,), {"nope"})
    seen.add(("lahore-new",), {"nope"})
    services.uncatalogued.record(seen, NOW)
    services.uncatalogued_follower._ready.set()
    owner = client.get("/v1/catalog/uncatalogued", headers=as_("owner")).json()["stores"]
    assert owner == []
    every = client.get("/v1/catalog/uncatalogued", headers=as_("admin")).json()["stores"]
    assert {s["store_id"] for s in every} == {QUETTA, "lahore-new"}
    n = len(asked)
    assert client.get(f"/v1/stores/{KARACHI}/stock", headers=as_("cashier")).status_code == 403
    assert client.get(f"/v1/stores/{KARACHI}/stock/{SKU}", headers=as_("cashier")).status_code == 403
    assert len(asked) == n  # no worker was asked
    assert client.get(f"/v1/stores/{LAHORE}/stock", headers=as_("cashier")).status_code == 200


def test_alerts_and_acks_of_another_store_are_refused(stack):
    client, _, _, services = stack
    assert client.get(f"/v1/stores/{KARACHI}/alerts", headers=as_("cashier")).status_code == 403  # no alerts:read at all
    r = client.post(f"/v1/stores/{LAHORE}/alerts/{ALERT_ID}/ack", json={"by": "someone else"}, headers=as_("cashier"))
    assert r.status_code == 403 and r.json()["permission"] == "alerts:ack"
    r = client.post(f"/v1/stores/{QUETTA}/alerts/{ALERT_ID}/ack", json={}, headers=as_("owner"))
    assert r.status_code == 403 and r.json()["store_id"] == QUETTA
    r = client.post(f"/v1/stores/{KARACHI}/alerts/{ALERT_ID}/ack", json={}, headers=as_("owner"))
    assert r.status_code == 404  # in scope, but the alert is Lahore's: it is not Karachi's to acknowledge
    assert not services.writer.written
    r = client.post(f"/v1/stores/{LAHORE}/alerts/{ALERT_ID}/ack", json={"by": "someone else", "note": "ordered"}, headers=as_("owner"))
    assert r.status_code == 200 and r.json()["acknowledged"]["by"] == "Asif (b00000000001)"
    assert json.loads(services.writer.written[-1][2])["by"] == "Asif (b00000000001)"
    listed = client.get(f"/v1/stores/{LAHORE}/alerts", params={"state": "all"}, headers=as_("owner")).json()
    assert listed["items"][0]["acknowledged"]["note"] == "ordered", listed
    shown = listed["items"][0]
    assert shown["acked_by"] == "Asif (b00000000001)" and shown["acked_at"] == r.json()["acknowledged"]["acked_at"]


def test_the_alert_stream_takes_a_query_token_in_scope_only(stack):
    client, _, _, _ = stack
    assert client.get(f"/v1/stores/{LAHORE}/alerts/stream").status_code == 401
    assert client.get(f"/v1/stores/{QUETTA}/alerts/stream", params={"access_token": "owner"}).status_code == 403
    assert client.get(f"/v1/stores/{LAHORE}/alerts", params={"access_token": "owner"}).status_code == 401  # the stream's only


def test_the_central_catalog_is_admins(stack):
    client, _, _, services = stack
    product = {"name": "Tapal", "price": "450.00"}
    r = client.put(f"/v1/products/{SKU}", json=product, headers=as_("owner"))
    assert r.status_code == 403 and r.json()["permission"] == "catalog:write"
    assert client.put(f"/v1/stores/{QUETTA}", json={"name": "Quetta"}, headers=as_("owner")).status_code == 403
    assert client.put(f"/v1/products/{SKU}", json=product, headers=as_("admin")).status_code == 200
    override = {"price": "455.00"}
    assert client.put(f"/v1/stores/{LAHORE}/products/{SKU}", json=override, headers=as_("owner")).status_code == 201
    assert client.put(f"/v1/stores/{LAHORE}/products/{SKU}", json=override, headers=as_("cashier")).status_code == 403
    assert client.get(f"/v1/stores/{LAHORE}/products/{SKU}", headers=as_("cashier")).status_code == 200
    assert client.get(f"/v1/stores/{KARACHI}/products/{SKU}", headers=as_("cashier")).status_code == 403
    assert client.get("/metrics", headers=as_("analyst")).status_code == 403
    assert client.get("/livez").status_code == 200


@given(
    st.sampled_from(list(Role)),
    st.sampled_from([ALL_STORES, (LAHORE,), (LAHORE, KARACHI)]),
    st.lists(st.tuples(st.sampled_from(list(EVENT_PERMISSIONS)), st.sampled_from([LAHORE, KARACHI, QUETTA])), min_size=1, max_size=12),
)
def test_a_batch_is_refused_at_the_first_event_decide_refuses(role, stores, wanted):
    """``authorize`` asks each event type and store once; what it refuses is exactly what ``decide``
    refuses event by event, named at the first such event."""
    who = Principal("k", "k", role, stores)
    events = [SimpleNamespace(type=t, store_id=s) for t, s in wanted]
    refused = [i for i, (t, s) in enumerate(wanted) if not decide(who, EVENT_PERMISSIONS[t], s).allowed]
    try:
        authorize(who, events, batch=True)  # type: ignore[arg-type]  # only type and store_id are read
    except ApiError as exc:
        assert refused and exc.detail[0]["index"] == refused[0]
        first = wanted[refused[0]]
        assert exc.extra == {"permission": EVENT_PERMISSIONS[first[0]].value, "store_id": first[1]}
    else:
        assert not refused
