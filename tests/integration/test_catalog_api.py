"""The catalog through the API (in-process, real broker): CRUD, search, CSV import (route and
``bazaar catalog import``), the managed-store rule at ingest, and unit conversion on the wire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.main import create_app
from bazaar_core.settings import Settings
from domain.events import digest
from schemas.events import EventAdapter
from tests.authclient import admin_key, make_key
from tests.integration.alerting import all_topics, wait_until
from tests.integration.apps import api
from tests.integration.test_api_ingest import consume, topic_size

pytestmark = pytest.mark.integration

RICE = {
    "name": "Basmati rice",
    "names": {"ur": "باسمتی چاول", "hi": "बासमती चावल"},
    "barcodes": ["8961000000011"],
    "category": "grains",
    "unit": "kg",
    "packs": [{"unit": "bag", "size": "5"}],
    "cost": "180.00",
    "price": "220.00",
    "reorder_point": "10",
    "reorder_min": "5",
    "reorder_max": "50",
    "lead_time_days": 3,
}
SOAP = {"name": "Lifebuoy soap", "names": {"ur": "صابن"}, "unit": "piece", "packs": [{"unit": "carton", "size": "12"}], "price": "95.00"}


@pytest.fixture
def app(settings_factory) -> Iterator[tuple[TestClient, Settings]]:
    settings = settings_factory()
    all_topics(settings)
    topic_size(settings)
    with api(settings) as client:
        yield client, settings


def event(store: str, lines: list[dict], type_: str = "sale", **over) -> dict:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": "2026-11-22T09:30:00+05:00",
        "lines": lines,
    }
    body.update(over)
    return body


def sale_line(sku: str, quantity: str = "1", **more) -> dict:
    return {"sku": sku, "quantity": quantity, "unit_price": "10.00", **more}


# ---- products, stores, overrides ---------------------------------------------------------------------


def test_products_put_get_search(app):
    client, _ = app
    r = client.put("/v1/products/rice-basmati", json=RICE)
    assert r.status_code == 201, r.text
    assert r.json()["sku"] == "rice-basmati" and r.json()["price"] == "220"
    assert client.put("/v1/products/rice-basmati", json={**RICE, "sku": "rice-basmati", "price": "225.50"}).status_code == 200
    assert client.get("/v1/products/rice-basmati").json()["price"] == "225.5"  # read-after-write
    assert client.put("/v1/products/soap", json=SOAP).status_code == 201
    assert client.put("/v1/products/rice-sella", json={"name": "Sella rice", "names": {"ur": "سیلا چاول"}}).status_code == 201

    r = client.get("/v1/products/ghee")
    assert r.status_code == 404 and r.json()["detail"][0]["field"] == "sku"
    r = client.put("/v1/products/soap", json={**SOAP, "sku": "other"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "sku"
    r = client.put("/v1/products/soap", json={**SOAP, "price": "1.234"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "price"
    r = client.put("/v1/products/soap", json={**SOAP, "unit": "bundle"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "unit"

    def search(**params) -> list[str]:
        r = client.get("/v1/products", params=params)
        assert r.status_code == 200, r.text
        return [p["sku"] for p in r.json()["items"]]

    assert search(q="چاول") == ["rice-basmati", "rice-sella"]
    assert search(q="चावल") == ["rice-basmati"]
    assert search(q="صابن") == ["soap"]
    assert search(q="RICE-S") == ["rice-sella"]
    assert search(q="896100") == ["rice-basmati"]
    assert search(q="lifebuoy") == ["soap"]
    page = client.get("/v1/products", params={"q": "rice", "limit": 1}).json()
    assert [p["sku"] for p in page["items"]] == ["rice-basmati"] and page["next_cursor"]
    page2 = client.get("/v1/products", params={"q": "rice", "limit": 1, "cursor": page["next_cursor"]}).json()
    assert [p["sku"] for p in page2["items"]] == ["rice-sella"] and page2["next_cursor"] is None
    assert client.get("/v1/products", params={"cursor": "zzz"}).status_code == 400


def test_stores_and_overrides(app):
    client, _ = app
    assert client.put("/v1/products/soap", json=SOAP).status_code == 201
    r = client.put("/v1/stores/lahore-007", json={"name": "Lahore 7", "timezone": "Asia/Karachi"})
    assert r.status_code == 201 and r.json()["currency"] == "PKR"
    assert client.put("/v1/stores/lahore-007", json={"name": "Lahore seven"}).status_code == 200
    assert client.put("/v1/stores/delhi-1", json={"name": "Delhi 1", "timezone": "Asia/Kolkata", "currency": "INR"}).status_code == 201
    assert client.put("/v1/stores/x", json={"name": "X", "timezone": "Mars/Base"}).json()["detail"][0]["field"] == "timezone"
    assert [s["store_id"] for s in client.get("/v1/stores").json()["items"]] == ["delhi-1", "lahore-007"]
    page = client.get("/v1/stores", params={"limit": 1}).json()
    assert page["next_cursor"] == "delhi-1"
    assert client.get("/v1/stores/lahore-007").json()["name"] == "Lahore seven"
    assert client.get("/v1/stores/nowhere").status_code == 404

    assert client.put("/v1/stores/lahore-007/products/ghee", json={"price": "1.00"}).status_code == 404
    assert client.put("/v1/stores/nowhere/products/soap", json={"price": "1.00"}).status_code == 404
    r = client.put("/v1/stores/lahore-007/products/soap", json={"price": "90.00", "reorder_point": "24", "active": False})
    assert r.status_code == 201, r.text
    view = client.get("/v1/stores/lahore-007/products/soap").json()
    assert (view["price"], view["reorder_point"], view["active"], view["store_id"]) == ("90", "24", False, "lahore-007")
    assert sorted(view["overridden"]) == ["active", "price", "reorder_point"]
    plain = client.get("/v1/stores/delhi-1/products/soap").json()
    assert (plain["price"], plain["overridden"]) == ("95", [])
    assert client.put("/v1/stores/lahore-007/products/soap", json={"price": "91.00"}).status_code == 200
    assert client.get("/v1/stores/lahore-007/products/soap").json()["active"] is True  # override replaced whole


CSV = (
    "sku,name,name_ur,name_hi,barcodes,category,unit,packs,cost,price,active,reorder_point,reorder_min,reorder_max,lead_time_days\n"
    "tea-190,Tapal Danedar 190g,ٹپال دانے دار,,8964000000019,tea,piece,carton:48,400.00,450.00,true,12,,96,2\n"
    "oil-1l,Dalda oil 1L,,,,oil,litres,,,,,,,,\n"
    "sugar,Sugar,چینی,चीनी,,,kg,bag:50,abc,,,,,,\n"
    "tea-190,Again,,,,,,,,,,,,,\n"
    "a:b,Sku with a colon,,,,,piece,,,,,,,,\n"
)


def test_csv_import_route(app):
    client, _ = app
    r = client.post("/v1/products:import", content=CSV.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "imported": 2,
        "errors": [
            {"line": 3, "sku": "oil-1l", "reason": "unit: 'litres' is not one of piece, kg, g, litre, ml"},
            {"line": 4, "sku": "sugar", "reason": "cost: 'abc' is not a decimal number (write it like 12.50)"},
            {"line": 5, "sku": "tea-190", "reason": "duplicate sku 'tea-190' (first on line 2)"},
        ],
    }
    assert client.get("/v1/products/tea-190").json()["packs"] == [{"unit": "carton", "size": "48"}]
    assert client.get("/v1/products/a:b").json()["name"] == "Sku with a colon"
    # the import path is not a product: it is not captured by /v1/products/{sku}
    assert client.get("/v1/products:import").status_code == 405
    assert client.get("/v1/products/import").status_code == 404
    r = client.post("/v1/products:import", content=b"sku,colour\n", headers={"content-type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_csv"


class Server:
    """The app on a real port (uvicorn in a thread), for clients that are other processes."""

    def __init__(self, settings: Settings) -> None:
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.api_port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.api_port}"

    def __enter__(self) -> Server:
        self.thread.start()
        wait_until(lambda: self.server.started, what="uvicorn")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def test_catalog_import_command(settings_factory, tmp_path):
    settings = settings_factory()
    all_topics(settings)
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(CSV)
    good.write_text("sku,name,unit\nflour,Atta,kg\n")
    env = {**os.environ, "BAZAAR_API_KEY": admin_key(settings)}  # as a script holding a key runs it
    with Server(settings) as server:
        cmd = [sys.executable, "-m", "bazaar.cli", "catalog", "import"]
        out = subprocess.run([*cmd, str(bad), "--api", server.url], capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 1, out.stderr
        assert "imported 2 product(s), 3 row(s) with errors" in out.stdout
        assert "line 3: sku oil-1l: unit: 'litres' is not one of piece, kg, g, litre, ml" in out.stdout
        assert "line 5: sku tea-190: duplicate sku 'tea-190' (first on line 2)" in out.stdout
        out = subprocess.run([*cmd, str(good), "--api", server.url], capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0 and "imported 1 product(s), 0 row(s)" in out.stdout
        analyst = {**env, "BAZAAR_API_KEY": make_key(settings, "analyst", ["s1"])}
        out = subprocess.run([*cmd, str(good), "--api", server.url], capture_output=True, text=True, timeout=60, env=analyst)
        assert out.returncode == 2 and "HTTP 403" in out.stderr and "catalog:write" in out.stderr  # the central catalog is admin's
    out = subprocess.run([*cmd, str(good), "--api", "http://127.0.0.1:1"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2


# ---- the unknown-reference rule ---------------------------------------------------------------------


def test_managed_store_refuses_unknown_skus_and_produces_nothing(app):
    client, settings = app
    assert client.put("/v1/products/soap", json=SOAP).status_code == 201
    assert client.put("/v1/stores/managed-1", json={"name": "Managed"}).status_code == 201

    r = client.post("/v1/events", json=event("managed-1", [sale_line("soap"), sale_line("ghee")]))
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {"index": None, "field": "lines[1].sku", "reason": "unknown sku 'ghee': add it with PUT /v1/products/ghee"}
    ]
    batch = {"events": [event("corner-shop", [sale_line("ghee")]), event("managed-1", [sale_line("dal")])]}
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 422 and [(d["index"], d["field"]) for d in r.json()["detail"]] == [(1, "lines[0].sku")]
    transfer = event("corner-shop", [{"sku": "ghee", "quantity": "1"}], "transfer", to_store_id="managed-1")
    r = client.post("/v1/events", json=transfer)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "lines[0].sku"
    assert topic_size(settings) == 0  # all or nothing: not even the good events of the batch

    # an inactive product still sells (it happened); the stream flags it
    assert client.put("/v1/stores/managed-1/products/soap", json={"active": False}).status_code == 201
    assert client.post("/v1/events", json=event("managed-1", [sale_line("soap")])).status_code == 202

    # a store not registered: accepted as before, listed as uncatalogued
    for _ in range(2):
        assert client.post("/v1/events", json=event("corner-shop", [sale_line("ghee"), sale_line("soap")])).status_code == 202
    listing = client.get("/v1/catalog/uncatalogued").json()["stores"]
    assert [(s["store_id"], s["events"], [k["sku"] for k in s["unknown_skus"]]) for s in listing] == [("corner-shop", 2, ["ghee"])]
    assert listing[0]["first_seen"] <= listing[0]["last_seen"]
    assert "bazaar_api_uncatalogued_events_total" in client.get("/metrics").text
    assert topic_size(settings) == 3
    # once the product exists, it is no longer listed; once the store is registered, neither is it
    assert client.put("/v1/products/ghee", json={"name": "Ghee"}).status_code == 201
    assert client.get("/v1/catalog/uncatalogued").json()["stores"][0]["unknown_skus"] == []
    assert client.put("/v1/stores/corner-shop", json={"name": "Corner"}).status_code == 201
    assert client.get("/v1/catalog/uncatalogued").json()["stores"] == []


def test_uncatalogued_listing_is_the_same_from_every_api_instance_and_survives_a_restart(settings_factory):
    """Two API replicas: what one accepted shows in the other's listing (summed with its own), and a
    replica started afterwards lists both."""
    settings = settings_factory(uncatalogued_publish_s=0.5)
    all_topics(settings)

    def listed(client: TestClient) -> list:
        r = client.get("/v1/catalog/uncatalogued")
        assert r.status_code == 200, r.text
        return [(s["store_id"], s["events"], [(k["sku"], k["events"]) for k in s["unknown_skus"]]) for s in r.json()["stores"]]

    with api(settings) as a, api(settings) as b:
        assert a.post("/v1/events", json=event("corner-shop", [sale_line("ghee")])).status_code == 202
        assert listed(a) == [("corner-shop", 1, [("ghee", 1)])]  # its own at once (b has accepted nothing yet)
        for _ in range(2):
            assert b.post("/v1/events", json=event("corner-shop", [sale_line("ghee"), sale_line("dal")])).status_code == 202
        assert b.post("/v1/events", json=event("kiosk-7", [sale_line("tea")])).status_code == 202
        # b's own at once too (a's event may already be in: a publishes every 0.5 s), then each
        # lists the other's within a publish and a fetch
        own = {store: (n, skus) for store, n, skus in listed(b)}
        assert own["kiosk-7"] == (1, [("tea", 1)])
        assert own["corner-shop"] in ((2, [("dal", 2), ("ghee", 2)]), (3, [("dal", 2), ("ghee", 3)]))
        want = [("corner-shop", 3, [("dal", 2), ("ghee", 3)]), ("kiosk-7", 1, [("tea", 1)])]
        wait_until(lambda: listed(a) == want, timeout=15, what="replica a to list b's events")
        wait_until(lambda: listed(b) == want, timeout=15, what="replica b to list a's events")
        first = a.get("/v1/catalog/uncatalogued").json()["stores"][0]
        assert first["first_seen"] <= first["last_seen"]
    with api(settings) as c:  # a new replica (or a restarted one) reads both back
        assert listed(c) == want
        assert c.post("/v1/events", json=event("corner-shop", [sale_line("ghee")])).status_code == 202
        assert listed(c)[0] == ("corner-shop", 4, [("dal", 2), ("ghee", 4)])


def test_strict_mode_refuses_unregistered_stores(settings_factory):
    settings = settings_factory(catalog_strict=True)
    all_topics(settings)
    with api(settings) as client:
        r = client.post("/v1/events", json=event("corner-shop", [sale_line("soap")]))
        assert r.status_code == 422
        assert [(d["field"], d["reason"]) for d in r.json()["detail"]] == [
            ("store_id", "unknown store 'corner-shop': register it with PUT /v1/stores/corner-shop"),
            ("lines[0].sku", "unknown sku 'soap': add it with PUT /v1/products/soap"),
        ]


# ---- units on the wire ---------------------------------------------------------------------------------


def test_units_are_converted_before_producing(app):
    client, settings = app
    assert client.put("/v1/products/soap", json=SOAP).status_code == 201
    assert client.put("/v1/products/rice", json=RICE).status_code == 201
    assert client.put("/v1/stores/s1", json={"name": "S1"}).status_code == 201
    purchase = event(
        "s1",
        [
            {"sku": "soap", "quantity": "1", "unit": "carton", "unit_cost": "1080.00"},
            {"sku": "rice", "quantity": "2", "unit": "bag", "unit_cost": "900.00"},
        ],
        "purchase",
        supplier="Metro",
    )
    sale = event("s1", [sale_line("rice", "500", unit="g", unit_price="0.24"), sale_line("rice", "1", unit="kg")])
    assert client.post("/v1/events", json=purchase).status_code == 202
    assert client.post("/v1/events", json=sale).status_code == 202
    assert client.post("/v1/events", json=sale).status_code == 202  # a re-send
    msgs = sorted(consume(settings, 3), key=lambda m: m.offset())
    wire = [json.loads(m.value()) for m in msgs]
    soap, rice = wire[0]["lines"]
    assert soap == {
        "sku": "soap",
        "quantity": "12",
        "unit_cost": "1080",
        "unit": "piece",
        "entered_quantity": "1",
        "entered_unit": "carton",
    }
    assert (rice["quantity"], rice["unit"], rice["entered_quantity"], rice["entered_unit"]) == ("10", "kg", "2", "bag")
    grams, kilo = wire[1]["lines"]
    assert (grams["quantity"], grams["unit"], grams["entered_quantity"], grams["entered_unit"], grams["unit_price"]) == (
        "0.5",
        "kg",
        "500",
        "g",
        "0.24",
    )
    assert kilo == {"sku": "rice", "quantity": "1", "unit_price": "10", "unit": "kg"}  # already the base unit
    # the digest is of the event as posted, so a re-send dedupes identically
    digests = [dict(m.headers())["bazaar-digest"].decode() for m in msgs]
    assert digests[1] == digests[2] == digest(EventAdapter.validate_python(json.loads(json.dumps(sale))))
    assert digests[1] != digest(EventAdapter.validate_json(msgs[1].value()))

    before = topic_size(settings)
    bad = {
        "0.5 g of a kg product": (
            sale_line("rice", "0.5", unit="g"),
            "lines[0].quantity",
            "0.5 g is 0.0005 kg: more than 3 decimal places of kg",
        ),
        "unknown unit": (sale_line("soap", "1", unit="tin"), "lines[0].unit", "unknown unit 'tin' for sku 'soap': one of piece, carton"),
        "unit too long": (sale_line("soap", "1", unit="x" * 25), "lines[0].unit", None),
    }
    for name, (line, field, reason) in bad.items():
        r = client.post("/v1/events", json=event("s1", [line]))
        assert r.status_code == 422, name
        [d] = r.json()["detail"]
        assert d["field"] == field and (reason is None or d["reason"] == reason), (name, d)
    r = client.post("/v1/events", json=event("elsewhere", [sale_line("ghee", "1", unit="tin")]))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "lines[0].unit"
    assert topic_size(settings) == before


def test_read_after_write_on_one_instance_and_convergence_on_another(settings_factory):
    settings = settings_factory()
    all_topics(settings)
    with api(settings) as a, api(settings) as b:
        assert a.get("/health").status_code == 200 and b.get("/health").status_code == 200
        for i in range(5):
            assert a.put("/v1/products/soap", json={**SOAP, "price": f"{90 + i}.00"}).status_code in (200, 201)
            assert a.get("/v1/products/soap").json()["price"] == str(90 + i)  # same instance: at once
        wait_until(lambda: b.get("/v1/products/soap").json().get("price") == "94", timeout=10, what="the other instance")
    # a new instance reads the catalog before saying it is ready
    with api(settings) as c:
        t0 = time.monotonic()
        while c.get("/health").status_code != 200:
            assert time.monotonic() - t0 < 20
        assert c.get("/v1/products/soap").json()["price"] == "94"
