"""The owner's dashboard (signed in with an owner's key): live alerts with acknowledge, store
switching, reports, and the Urdu right-to-left layout."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime

import httpx
import pytest

from tests.browser.conftest import PKT, WEB, post_count, shot, sign_in_owner, wait_for

pytestmark = pytest.mark.browser


def sale(store: str, sku: str, quantity: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": store,
        "terminal_id": "pos-1",
        "occurred_at": datetime.now(PKT).isoformat(timespec="seconds"),
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": "450.00"}],
    }


def test_an_alert_arrives_live_and_is_acknowledged(page, stack):
    store = "b-alert"
    post_count(stack, store, {"tapal-danedar-190g": "8"})
    sign_in_owner(page, stack, [store], f"/?store={store}")
    page.wait_for_selector(".alerts .live.on")  # the event stream is open
    assert page.locator("li.alert").count() == 0

    assert stack.post(sale(store, "tapal-danedar-190g", "4")).status_code == 202  # 4 left, reorder point 5
    alert = page.locator("li.alert[data-kind='low_stock']")
    alert.wait_for(timeout=30_000)  # no reload: it came over server-sent events
    text = alert.inner_text()
    assert "Low stock" in text and "Tapal Danedar 190g" in text and "4 pcs" in text
    assert "Suggested order: 24 pcs (2 cartons)" in text  # up to reorder_max 24, in whole cartons of 12
    shot(page, "dashboard-alert-live")

    alert_id = alert.get_attribute("data-alert-id")
    alert.get_by_role("button", name="Acknowledge").click()
    alert.wait_for(state="detached")
    active = stack.http.get(f"/v1/stores/{store}/alerts").json()["items"]
    assert alert_id not in [a["alert_id"] for a in active]
    one = stack.http.get(f"/v1/stores/{store}/alerts/{alert_id}").json()
    assert one["acknowledged"] is not None
    assert page.errors == []


def test_an_owner_of_two_stores_switches_between_them(page, stack):
    post_count(stack, "b-online", {"milk-pack-1l": "7"})
    post_count(stack, "b-goods", {"milk-pack-1l": "3"})
    sign_in_owner(page, stack, ["b-online", "b-goods"], "/?store=b-online")
    milk = page.locator("tr[data-sku='milk-pack-1l'] .on-hand")
    milk.wait_for()
    # the store list is the key's: two stores, however many the chain has (it loads beside the stock)
    page.wait_for_function("() => document.querySelectorAll('header select option').length >= 2")
    assert sorted(page.eval_on_selector_all("header select option", "os => os.map(o => o.value)")) == ["b-goods", "b-online"]
    with page.expect_response(lambda r: "/v1/stores/b-goods/stock" in r.url):
        page.select_option("header select", "b-goods")
    assert "store=b-goods" in page.url
    page.reload()  # the key is kept on the device: no pairing screen again
    assert page.locator("header select").input_value() == "b-goods"
    page.locator("tr[data-sku='milk-pack-1l'] .on-hand[data-on-hand='3']").wait_for()

    page.locator("#settings summary").click()
    assert page.locator("#settings [data-role='owner']").inner_text() == "Owner"
    assert page.locator("#device-name-shown").inner_text() == "owner's phone"  # the key's name, from its token
    assert page.errors == []


def test_urdu_lays_the_pages_out_right_to_left(page, stack):
    store = "b-urdu"
    post_count(stack, store, {"rice-basmati-loose": "12.5", "milk-pack-1l": "2"})
    sign_in_owner(page, stack, [store], f"/?store={store}")
    page.wait_for_selector("tr[data-sku='rice-basmati-loose']")
    assert page.evaluate("() => [document.documentElement.lang, document.documentElement.dir]") == ["en", "ltr"]

    page.get_by_role("button", name="اردو").click()
    assert page.evaluate("() => [document.documentElement.lang, document.documentElement.dir]") == ["ur", "rtl"]
    assert page.locator("#stock-h").inner_text() == "اسٹاک"
    row = page.locator("tr[data-sku='rice-basmati-loose']")
    assert "باسمتی چاول" in row.inner_text() and "کلو" in row.inner_text()
    # right to left: the table's first column (product) is at the right edge
    box_name = row.locator("td").first.bounding_box()
    box_qty = row.locator("td").nth(1).bounding_box()
    assert box_name["x"] > box_qty["x"]
    shot(page, "dashboard-urdu")

    page.reload()  # the choice is kept
    page.wait_for_selector("#stock-h")
    assert page.evaluate("() => document.documentElement.dir") == "rtl"
    page.get_by_role("link", name="کاؤنٹر").click()
    page.wait_for_selector("#search")
    page.fill("#search", "چاول")
    page.locator("button.result[data-sku='rice-basmati-loose']").click()
    page.locator("li.line input.qty").fill("0.25")
    total = page.locator("#bill-total").inner_text()
    assert "95.00" in total, total  # 0.25 kg x 380.00, formatted for ur-PK
    shot(page, "counter-urdu")
    page.get_by_role("button", name="English").click()
    assert page.evaluate("() => document.documentElement.dir") == "ltr"
    assert page.errors == []


def test_first_load_is_within_the_size_budget(web_dist):
    out = subprocess.run(["node", "scripts/size.mjs", "--json"], cwd=WEB, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["total_gzip"] <= report["budget"] == 150_000
    assert any(f["file"].endswith(".js") for f in report["files"]) and any(f["file"].endswith(".css") for f in report["files"])


def test_pages_are_served_without_shadowing_the_api(stack):
    http = stack.http
    for path in ("/", "/counter"):
        r = http.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-cache"
    sw = http.get("/sw.js")
    assert sw.status_code == 200 and sw.headers["service-worker-allowed"] == "/" and sw.headers["cache-control"] == "no-cache"
    assert http.get("/manifest.webmanifest").json()["start_url"] == "/counter"
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/v1/stores").headers["content-type"].startswith("application/json")
    # the security headers, on pages and API answers alike (api/headers.py)
    for path in ("/", "/counter", "/sw.js", "/manifest.webmanifest", "/v1/stores", "/health", "/v1/nowhere"):
        h = http.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"] and "frame-ancestors 'none'" in h["content-security-policy"], path
        assert (h["x-content-type-options"], h["x-frame-options"], h["referrer-policy"]) == ("nosniff", "DENY", "no-referrer"), path
    # no token: 401 with the challenge, and the headers still
    anonymous = httpx.get(f"{stack.api_url}/v1/stores/b-online/stock")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.headers["x-frame-options"] == "DENY"


def test_todays_sales_and_the_movements_of_a_product(page, stack, analytics):
    store = "b-report"
    post_count(stack, store, {"tapal-danedar-190g": "30", "rice-basmati-loose": "4"})
    body = sale(store, "tapal-danedar-190g", "2")
    body["lines"].append({"sku": "rice-basmati-loose", "quantity": "0.5", "unit_price": "380.00"})
    assert stack.post(body).status_code == 202

    def reported():
        r = stack.http.get(f"/v1/stores/{store}/reports/daily_sales")
        return r.status_code == 200 and [row["revenue"] for row in r.json()["rows"]] == ["1090.00"]

    wait_for(reported, timeout=90, message="the sale in the daily_sales report")
    sign_in_owner(page, stack, [store], f"/?store={store}")
    total = page.locator("#sales-total")
    total.wait_for()
    assert total.inner_text().replace("\u00a0", " ") == "Rs 1,090.00"  # 2 x 450 + 0.5 x 380
    assert page.locator("#sales-bills").inner_text() == "1"  # one bill
    assert page.locator("svg.chart rect").count() == 7  # the last seven days

    page.locator("tr[data-sku='tapal-danedar-190g'] button").click()
    rows = page.locator("table.moves tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    assert "Sale" in rows.nth(0).inner_text() and "-2 pcs" in rows.nth(0).inner_text() and "28 pcs" in rows.nth(0).inner_text()
    assert "Stock count" in rows.nth(1).inner_text() and "30 pcs" in rows.nth(1).inner_text()
    shot(page, "dashboard-sales-movements")
    assert page.errors == []
