"""The owner's dashboard on real sales through the pipeline (API, worker, analytics), at 360x740 in
English and Urdu: margin beside sales, what sold per product in its own unit (never kilograms
added to pieces), the chart's values, a product's movements under its row, saved data's age
offline, the reorder list by supplier with packs and its CSV, who acknowledged an alert, the
day's voids; axe-core finds nothing. The same history answers the quick keys and reorder routes."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

import pytest

from tests.browser.conftest import PKT, axe_violations, create_key, shot, sign_in_owner, wait_for

pytestmark = pytest.mark.browser

STORE = "b-lists"
GHEE = {
    "sku": "d-ghee-2-5kg",
    "name": "Dalda ghee 2.5 kg",
    "names": {"ur": "ڈالڈا گھی"},
    "supplier": "Dalda Co",
    "unit": "piece",
    "packs": [{"unit": "tin", "size": "4"}],
    "price": "1800.00",
    "cost": "1500.00",
    "reorder_point": "6",
}
SUGAR = {
    "sku": "d-sugar-loose",
    "name": "Sugar (loose)",
    "names": {"ur": "چینی"},
    "unit": "kg",
    "packs": [{"unit": "sack", "size": "50"}],
    "price": "160.00",
    "reorder_point": "25",
}


def event(kind: str, lines: list[dict], minutes_ago: int = 0, **extra) -> dict:
    at = datetime.now(PKT) - timedelta(minutes=minutes_ago)
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "store_id": STORE,
        "terminal_id": "pos-1",
        "occurred_at": at.isoformat(timespec="seconds"),
        "lines": lines,
        **extra,
    }


def history(stack) -> str:
    """The store, two products of its own, and a day: a count, a purchase naming its supplier, six
    bills. Returns the last POST's token."""
    body = {"store_id": STORE, "name": "Lists", "timezone": "Asia/Karachi", "currency": "PKR", "locale": "en-PK"}
    assert stack.http.put(f"/v1/stores/{STORE}", json=body).status_code in (200, 201)
    for p in (GHEE, SUGAR):
        assert stack.http.put(f"/v1/products/{p['sku']}", json=p).status_code in (200, 201)
    count = {"tapal-danedar-190g": "12", "rice-basmati-loose": "10", GHEE["sku"]: "9", SUGAR["sku"]: "0"}
    posted = [event("count", [{"sku": k, "quantity": q} for k, q in count.items()], minutes_ago=30)]
    posted.append(event("purchase", [{"sku": SUGAR["sku"], "quantity": "25", "unit_cost": "140.00"}], 20, supplier="Punjab Sugar"))

    def line(sku, q, price):
        return {"sku": sku, "quantity": q, "unit_price": price}

    tapal, rice, ghee, sugar = "tapal-danedar-190g", "rice-basmati-loose", GHEE["sku"], SUGAR["sku"]
    bills = [
        [line(tapal, "2", "450.00"), line(rice, "0.5", "380.00")],
        [line(tapal, "1", "450.00"), line(sugar, "1.25", "160.00")],
        [line(tapal, "1", "450.00"), line(rice, "1", "380.00"), line(sugar, "2", "160.00")],
        [line(tapal, "1", "450.00"), line(sugar, "0.75", "160.00")],
        [line(ghee, "4", "1800.00")],  # 9 - 4 = 5, under its reorder point 6
        [line(tapal, "3", "450.00")],  # 12 - 8 = 4, under 5: a low_stock alert
    ]
    posted += [event("sale", b, minutes_ago=10 - i) for i, b in enumerate(bills)]
    resp = stack.post({"events": posted})
    assert resp.status_code == 202, resp.text
    return resp.json()["token"]


def test_dashboard_lists_and_their_routes_on_real_sales(browser, stack, analytics, context, page):
    token = history(stack)
    assert stack.stock(STORE, "tapal-danedar-190g", after=token, timeout_ms=20_000).json()["on_hand"] == "4"

    def sold_today():
        r = stack.http.get(f"/v1/stores/{STORE}/reports/daily_sales")
        return r.status_code == 200 and [row["bills"] for row in r.json()["rows"]] in ([6], ["6"])

    wait_for(sold_today, timeout=90, message="the six bills in daily_sales")

    # quick keys, as the counter (a terminal) reads them: most bills first, each in its own unit
    terminal = create_key(stack, "terminal", [STORE], name="till")
    access = stack.http.post("/v1/auth/token", json={"api_key": terminal["api_key"]}).json()["access_token"]
    keys = stack.http.get(f"/v1/stores/{STORE}/quick-keys", params={"limit": 3}, headers={"Authorization": f"Bearer {access}"})
    assert keys.status_code == 200, keys.text
    assert [(k["sku"], k["sold"], k["unit"]) for k in keys.json()["items"]] == [
        ("tapal-danedar-190g", 5, "piece"),
        (SUGAR["sku"], 3, "kg"),
        ("rice-basmati-loose", 2, "kg"),
    ]
    assert keys.json()["items"][1]["names"] == {"ur": "چینی"}

    # the reorder list: the catalog's supplier, the last purchase's, whole packs
    reorder = stack.http.get(f"/v1/stores/{STORE}/reorder").json()
    groups = {g["supplier"]: (g["source"], {ln["sku"]: ln for ln in g["lines"]}) for g in reorder["groups"]}
    assert groups["Dalda Co"][0] == "catalog" and groups["Punjab Sugar"][0] == "last_purchase"
    ghee, sugar = groups["Dalda Co"][1][GHEE["sku"]], groups["Punjab Sugar"][1][SUGAR["sku"]]
    assert (ghee["on_hand"], ghee["suggested"], ghee["packs"], ghee["pack_unit"]) == ("5", "4", 1, "tin")  # 6 - 5 = 1: one tin of 4
    assert (sugar["on_hand"], sugar["suggested"], sugar["packs"], sugar["pack_unit"]) == ("21", "50", 1, "sack")  # 25 - 21, in sacks of 50

    # the dashboard, in English
    owner = sign_in_owner(page, stack, [STORE], f"/?store={STORE}")
    page.locator("#sales-margin").wait_for()
    assert page.locator("#sales-total").inner_text().replace("\u00a0", " ") == "Rs 12,010.00"
    # cost of goods: tapal 8 x 400 + rice 1.5 x 340 + ghee 4 x 1500 (catalog) + sugar 4 x 140 (bought) = 10,270
    assert page.locator("#sales-margin").inner_text().replace("\u00a0", " ") == "Rs 1,740.00"
    assert page.locator("#margin-pct").inner_text() == "14.4% of sales"
    assert page.locator(".sales dt", has_text="Items").count() == 0  # no total adding kg to pcs
    sold = page.locator(".sold li[data-sku='rice-basmati-loose']")
    sold.wait_for()
    assert "1.5 kg" in sold.inner_text()
    assert "8 pcs" in page.locator(".sold li[data-sku='tapal-danedar-190g']").inner_text()
    assert page.locator("svg.chart text.bar-value").last.text_content() == "12K"  # the value on today's bar
    assert "Rs 12,010.00" in page.locator(".chart-box table.sr").inner_text().replace("\u00a0", " ")

    # the alert: acknowledged here, then shown with who did it
    alert = page.locator("li.alert[data-kind='low_stock']", has_text="Tapal")
    alert.wait_for(timeout=30_000)
    alert.get_by_role("button", name="Acknowledge").click()
    acked = page.locator(".acked-list li .acked-by").first
    acked.wait_for()
    assert acked.inner_text().startswith("Acknowledged by owner's phone")
    alert_id = page.locator(".acked-list li").first.get_attribute("data-alert-id")
    one = stack.http.get(f"/v1/stores/{STORE}/alerts/{alert_id}").json()
    assert one["acked_by"] == f"owner's phone ({owner['id']})" and one["acked_at"]

    # reorder list with packs, and its CSV
    line = page.locator(f".reorder li[data-sku='{GHEE['sku']}'] .order-qty")
    line.wait_for()
    assert line.inner_text() == "1 tin (4 pcs)"
    assert page.locator(".reorder [data-supplier='Punjab Sugar']").count() == 1
    with page.expect_download() as got:
        page.click("#reorder-csv")
    rows = list(csv.DictReader(io.StringIO(open(got.value.path(), encoding="utf-8").read())))
    assert {(r["supplier"], r["sku"], r["packs"], r["pack_unit"]) for r in rows} >= {("Dalda Co", GHEE["sku"], "1", "tin")}

    # movements open under the row clicked
    row = page.locator("tr[data-sku='rice-basmati-loose']")
    row.locator("button").click()
    under = page.locator("tr[data-sku='rice-basmati-loose'] + tr.moves-row table.moves tbody tr")
    under.first.wait_for()
    assert under.count() == 3
    gap = page.locator("tr.moves-row").bounding_box()["y"] - (row.bounding_box()["y"] + row.bounding_box()["height"])
    assert abs(gap) < 2
    page.locator(".voids-card").wait_for()
    assert axe_violations(page) == []
    shot(page, "dashboard-lists-en")

    # saved data's age, offline: the stock list saved 5 minutes ago
    page.evaluate(
        """(key) => new Promise((ok, fail) => {
            const req = indexedDB.open('bazaar');
            req.onsuccess = () => {
                const tx = req.result.transaction('kv', 'readwrite');
                const kv = tx.objectStore('kv');
                kv.get(key).onsuccess = (e) => {
                    kv.put({ ...e.target.result, saved_at: new Date(Date.now() - 5 * 60_000).toISOString() }, key);
                };
                tx.oncomplete = ok; tx.onerror = fail;
            };
        })""",
        f"stock:{STORE}:all",
    )
    context.set_offline(True)
    page.locator(".stock button", has_text="Refresh").click()
    age = page.locator(".stock .saved-age")
    age.wait_for()
    assert age.inner_text() == "Offline: saved 5 minutes ago"
    assert page.locator("tr[data-sku='tapal-danedar-190g'] .on-hand").inner_text() == "4 pcs"

    # Urdu, right to left, still offline
    page.locator("button.lang").click()
    page.wait_for_function("() => document.documentElement.dir === 'rtl'")
    assert "محفوظ" in age.inner_text() and "5" in age.inner_text().translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    assert page.locator("#reorder-h").inner_text() == "منگوانا ہے"
    assert axe_violations(page) == []
    shot(page, "dashboard-lists-ur")
    context.set_offline(False)
    assert page.errors == []
