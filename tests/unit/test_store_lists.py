"""A store's quick keys and reorder list (api/routes/store_lists.py, domain/reorder.py): who may read
them, how the reorder list groups and rounds to whole packs (exactly), its CSV export, and quick
keys ranked by how often a product is sold. The stream workers and the analytics process are
stubs here; tests/browser/test_dashboard_lists.py runs both routes on real sales through the pipeline."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from api.http import HttpAnswer
from api.main import create_app
from api.services import Services
from api.workers import WorkerClient
from bazaar_core.settings import Settings
from domain import reorder
from domain.access import ALL_STORES, Principal, Role
from schemas.catalog import Pack, Product, Store, StoreProduct
from tests.unit.test_route_scoping import StubAuth

pytestmark = pytest.mark.unit

LAHORE, KARACHI = "lahore-007", "karachi-001"
CALLERS = {
    "owner": Principal("b1", "Asif", Role.OWNER, (LAHORE,)),
    "manager": Principal("m1", "Bilal", Role.MANAGER, (LAHORE,)),
    "terminal": Principal("t1", "till", Role.TERMINAL, (LAHORE,)),
    "cashier": Principal("c1", "Sana", Role.CASHIER, (LAHORE,)),
    "analyst": Principal("d1", "numbers", Role.ANALYST, ALL_STORES),
}
P = {
    # 12 to a carton, 24 to a box: rounded to boxes (the largest pack)
    "tapal": Product(
        sku="tapal",
        name="Tapal 190g",
        names={"ur": "تپال"},
        supplier="Tapal Traders",
        reorder_point="10",
        reorder_max="60",
        packs=[Pack(unit="carton", size="12"), Pack(unit="box", size="24")],
    ),
    # loose rice by the kg, in 25 kg sacks; no supplier in the catalog: the last purchase's
    "rice": Product(sku="rice", name="Basmati", unit="kg", reorder_point="20", packs=[Pack(unit="sack", size="25")]),
    "sugar": Product(sku="sugar", name="Cheeni", unit="kg", supplier="tapal traders ", reorder_point="5", reorder_min="30"),
    "soap": Product(sku="soap", name="=HYPERLINK(1)", reorder_point="3"),  # no supplier anywhere, no pack
    "ghee": Product(sku="ghee", name="Dalda", supplier="Dalda Co", reorder_point="4", packs=[Pack(unit="tin", size="4")]),
    "old": Product(sku="old", name="Gone", supplier="X", reorder_point="100", active=False),
    "salt": Product(sku="salt", name="Namak", supplier="X"),  # no reorder point: never on the list
}
STOCK = {"tapal": "7", "rice": "20", "sugar": "4.5", "soap": "-2", "ghee": "9", "old": "0", "salt": "0", "unknown": "-5"}


def stub(stock: dict[str, str], last_suppliers: list[dict] | None, top: list[dict]):
    asked: list[tuple[str, dict]] = []

    async def get(url: str, params: dict[str, str], timeout_s: float) -> HttpAnswer:
        asked.append((url, params))
        if url.startswith("http://worker.test/stock/"):
            items = sorted(stock.items())
            start = int(params.get("cursor") or 0)
            page = items[start : start + 3]  # pages of 3: the route must follow next_cursor
            nxt = str(start + 3) if start + 3 < len(items) else None
            body = {"items": [{"sku": k, "on_hand": v} for k, v in page], "next_cursor": nxt}
            return HttpAnswer(200, json.dumps(body).encode(), {"content-type": "application/json"})
        name = url.rsplit("/", 1)[-1]
        rows = top if name == "top_sellers" else last_suppliers
        if rows is None:
            return HttpAnswer(503, b'{"error": "analytics_unavailable", "detail": []}', {"content-type": "application/json"})
        return HttpAnswer(200, json.dumps({"report": name, "params": params, "columns": [], "rows": rows}).encode(), {})

    settings = Settings(kafka_bootstrap="127.0.0.1:1", worker_urls=["http://worker.test"], analytics_url="http://analytics.test")
    app = create_app(settings)
    services = Services.create(settings)
    for follower in services.followers.values():
        follower._ready.set()
    services.catalog.put_store(0, Store(store_id=LAHORE, name="Lahore", timezone="Asia/Karachi"))
    for i, product in enumerate(P.values()):
        services.catalog.put_product(i, product)
    services.catalog.put_override(0, StoreProduct(store_id=LAHORE, sku="ghee", reorder_point="9"))  # the store's point wins
    auth = StubAuth()
    app.state.services, app.state.http_get, app.state.auth = services, get, auth
    app.state.workers = WorkerClient(get, settings.worker_urls)
    return TestClient(app), asked


@pytest.fixture(autouse=True)
def callers(monkeypatch):
    import tests.unit.test_route_scoping as scoping

    monkeypatch.setattr(scoping, "CALLERS", CALLERS)


def as_(caller: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {caller}"}


LAST = [{"sku": "rice", "supplier": "Punjab Rice Mills", "purchased_at": "2026-11-20T08:00:00+00:00"}]


def test_reorder_groups_by_supplier_with_whole_packs_exactly():
    client, _ = stub(STOCK, LAST, [])
    body = client.get(f"/v1/stores/{LAHORE}/reorder", headers=as_("owner")).json()
    assert body["suppliers_from_purchases"] is True
    got = [(g["supplier"], g["source"], [ln["sku"] for ln in g["lines"]]) for g in body["groups"]]
    # by supplier name, case-insensitively ("tapal traders " is Tapal Traders); the unnamed last
    assert got == [
        ("Dalda Co", "catalog", ["ghee"]),
        ("Punjab Rice Mills", "last_purchase", ["rice"]),
        ("Tapal Traders", "catalog", ["sugar", "tapal"]),
        (None, None, ["soap"]),
    ]
    lines = {ln["sku"]: ln for g in body["groups"] for ln in g["lines"]}
    # up to reorder_max 60 from 7: 53, rounded up to whole boxes of 24 = 72 (3 boxes)
    assert {k: lines["tapal"][k] for k in ("on_hand", "reorder_point", "suggested", "pack_unit", "pack_size", "packs")} == {
        "on_hand": "7",
        "reorder_point": "10",
        "suggested": "72",
        "pack_unit": "box",
        "pack_size": "24",
        "packs": 3,
    }
    assert lines["tapal"]["names"] == {"ur": "تپال"} and lines["tapal"]["unit"] == "piece"
    # exactly at its point (20 kg): low, and one sack rather than an order of nothing
    assert (lines["rice"]["suggested"], lines["rice"]["packs"], lines["rice"]["pack_unit"]) == ("25", 1, "sack")
    # at least reorder_min 30 kg (more than the 0.5 kg up to the point), whole kg without a pack
    assert (lines["sugar"]["suggested"], lines["sugar"]["packs"], lines["sugar"]["pack_unit"]) == ("30", None, None)
    # -2 up to 3: 5 pieces
    assert lines["soap"]["suggested"] == "5"
    # the store's reorder point 9 (the product says 4): 9 - 9 = 0, so one tin
    assert (lines["ghee"]["reorder_point"], lines["ghee"]["suggested"], lines["ghee"]["packs"]) == ("9", "4", 1)
    assert not {"old", "salt", "unknown"} & set(lines)  # inactive, no reorder point, not catalogued


def test_reorder_csv_export_is_inert_and_exact():
    client, _ = stub(STOCK, LAST, [])
    for kwargs in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        r = client.get(f"/v1/stores/{LAHORE}/reorder", **{**kwargs, "headers": {**as_("manager"), **kwargs.get("headers", {})}})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == f'attachment; filename="reorder-{LAHORE}.csv"'
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == list(reorder.CSV_COLUMNS)
        assert rows[1:] == [
            ["Dalda Co", "ghee", "Dalda", "piece", "9", "9", "4", "1", "tin", "4"],
            ["Punjab Rice Mills", "rice", "Basmati", "kg", "20", "20", "25", "1", "sack", "25"],
            ["Tapal Traders", "sugar", "Cheeni", "kg", "4.5", "5", "30", "", "", ""],
            ["Tapal Traders", "tapal", "Tapal 190g", "piece", "7", "10", "72", "3", "box", "24"],
            ["", "soap", "'=HYPERLINK(1)", "piece", "-2", "3", "5", "", "", ""],  # a formula shown, not run
        ]


def test_reorder_without_analytics_uses_the_catalog_suppliers_alone():
    client, _ = stub(STOCK, None, [])
    body = client.get(f"/v1/stores/{LAHORE}/reorder", headers=as_("owner")).json()
    assert body["suppliers_from_purchases"] is False
    assert [g["supplier"] for g in body["groups"]] == ["Dalda Co", "Tapal Traders", None]
    assert [ln["sku"] for ln in body["groups"][-1]["lines"]] == ["rice", "soap"]


def test_reorder_asks_no_analytics_when_the_catalog_names_every_supplier():
    client, asked = stub({"tapal": "7", "ghee": "1"}, LAST, [])
    assert client.get(f"/v1/stores/{LAHORE}/reorder", headers=as_("owner")).status_code == 200
    assert not [u for u, _ in asked if "analytics" in u]


def test_who_may_read_which_list():
    top = [{"sku": "tapal", "bills": "3", "revenue": "900.00"}]
    client, _ = stub(STOCK, LAST, top)
    for caller in ("owner", "manager", "analyst"):
        assert client.get(f"/v1/stores/{LAHORE}/reorder", headers=as_(caller)).status_code == 200, caller
    for caller in ("terminal", "cashier"):  # a buying decision, not the counter's
        r = client.get(f"/v1/stores/{LAHORE}/reorder", headers=as_(caller))
        assert r.status_code == 403 and r.json()["permission"] == "reports:read"
    for caller in ("owner", "manager", "terminal", "cashier"):
        assert client.get(f"/v1/stores/{LAHORE}/quick-keys", headers=as_(caller)).json()["items"][0]["sku"] == "tapal", caller
    assert client.get(f"/v1/stores/{LAHORE}/quick-keys", headers=as_("analyst")).status_code == 403  # no stock:read
    assert client.get(f"/v1/stores/{KARACHI}/quick-keys", headers=as_("terminal")).status_code == 403
    assert client.get(f"/v1/stores/{LAHORE}/quick-keys").status_code == 401


def test_quick_keys_are_the_most_often_sold_of_the_last_30_days():
    top = [  # as top_sellers answers: by revenue
        {"sku": "ghee", "name": "Dalda", "units": "4", "revenue": "2400.00", "bills": "2"},
        {"sku": "rice", "name": "Basmati", "units": "31.5", "revenue": "9000.00", "bills": 9},
        {"sku": "old", "name": "Gone", "units": "50", "revenue": "800.00", "bills": "40"},  # inactive: no key
        {"sku": "unknown", "name": "?", "units": "9", "revenue": "700.00", "bills": "30"},  # not catalogued: no key
        {"sku": "tapal", "name": "Tapal", "units": "14", "revenue": "450.00", "bills": "9"},
        {"sku": "soap", "name": "Soap", "units": "1", "revenue": "100.00", "bills": "1"},
    ]
    client, asked = stub(STOCK, LAST, top)
    body = client.get(f"/v1/stores/{LAHORE}/quick-keys", params={"limit": 3}, headers=as_("terminal")).json()
    assert body == {
        "store_id": LAHORE,
        "items": [  # most bills first; equal bills: more revenue first
            {"sku": "rice", "name": "Basmati", "names": {}, "unit": "kg", "sold": 9},
            {"sku": "tapal", "name": "Tapal 190g", "names": {"ur": "تپال"}, "unit": "piece", "sold": 9},
            {"sku": "ghee", "name": "Dalda", "names": {}, "unit": "piece", "sold": 2},
        ],
    }
    url, params = asked[-1]
    assert url == "http://analytics.test/reports/top_sellers" and params["store_id"] == LAHORE
    span = (Decimal((_d(params["to"]) - _d(params["from"])).days) + 1, int(params["limit"]))
    assert span == (30, 200)
    assert client.get(f"/v1/stores/{LAHORE}/quick-keys", params={"limit": 0}, headers=as_("terminal")).status_code == 422


def test_quick_keys_without_analytics_are_none():
    client, _ = stub(STOCK, None, None)  # type: ignore[arg-type]
    r = client.get(f"/v1/stores/{LAHORE}/quick-keys", headers=as_("cashier"))
    assert r.status_code == 200 and r.json() == {"store_id": LAHORE, "items": []}


def _d(text: str):
    from datetime import date

    return date.fromisoformat(text)


def test_a_line_is_exactly_whole_packs():
    """Any stock at or under the point: the suggestion is a positive whole number of the largest pack,
    and reaches the target (max, else the point, at least the minimum)."""
    from hypothesis import given
    from hypothesis import strategies as st

    qty = st.decimals(min_value=Decimal("-500"), max_value=Decimal("500"), places=3)

    @given(qty, st.sampled_from(["1", "6", "12", "2.5"]), st.sampled_from([None, "40"]), st.sampled_from([None, "7"]))
    def check(on_hand, size, most, least):
        p = Product(
            sku="x", name="x", unit="kg", reorder_point="0", reorder_max=most, reorder_min=least, packs=[Pack(unit="bag", size=size)]
        )
        ln = reorder.line(p, None, on_hand)
        if on_hand > 0:
            assert ln is None
            return
        assert ln is not None and ln.packs is not None and ln.packs >= 1
        assert ln.suggested == ln.packs * Decimal(size)
        target = Decimal(most) if most else Decimal(0)
        assert on_hand + ln.suggested >= target and ln.suggested >= Decimal(least or 0)
        assert ln.suggested - Decimal(size) < max(target - on_hand, Decimal(least or 0), Decimal(0)) or ln.packs == 1

    check()
