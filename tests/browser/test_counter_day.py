"""A shopkeeper's day at the counter, at 360x740 in English and in Urdu (the store's locale picks
the language): Roman Urdu search, a scanner's burst with the focus in a quantity, "1,000" as a
thousand, a fat finger caught, cash and change, a receipt (print layout, shared as text and a
PNG), quick keys from the store's route, a void that gives the stock back, a refused event fixed
and counted once, a waiting one cancelled, camera scanning loaded on demand; axe-core finds
nothing to fix."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import ARTIFACTS, PKT, axe_violations, on_hand, pair_counter, post_count, shot, sign_in_owner, wait_for

pytestmark = pytest.mark.browser

TEA, RICE, MILK = "tapal-danedar-190g", "rice-basmati-loose", "milk-pack-1l"
TEA_BARCODE = "8961014000019"
# what the page's share button hands to the Web Share API, kept for the test: the text, and each
# file decoded as the phone would (its type, its first bytes, its size in pixels, as a data URL)
SHARE_HOOK = """
navigator.canShare = (data) => (data.files || []).every((f) => f instanceof File && f.type === 'image/png');
navigator.share = async (data) => {
  const files = [];
  for (const f of data.files || []) {
    const bitmap = await createImageBitmap(f);
    const url = await new Promise((done) => { const r = new FileReader(); r.onload = () => done(r.result); r.readAsDataURL(f); });
    files.push({ name: f.name, type: f.type, head: [...new Uint8Array(await f.slice(0, 8).arrayBuffer())],
      width: bitmap.width, height: bitmap.height, url });
  }
  window.__shared = { title: data.title, text: data.text, files };
};
"""


def count(page, state: str) -> int:
    return int(page.locator(f'[data-count="{state}"]').inner_text())


def rw_token(page) -> str | None:
    return page.evaluate("() => localStorage.getItem('bazaar.rw-token')")


def no_axe_violations(page, where: str) -> None:
    found = axe_violations(page)
    assert found == [], f"axe-core on {where}: {found}"


def small_targets(page) -> list[str]:
    """Visible controls of the counter smaller than 44x44 px (a mode's radio counts as its label)."""
    return page.evaluate("""() => [...document.querySelectorAll(
            'main button, main input:not([type=radio]), main select, main a, header button, header a, header select, label.mode')]
        .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
        .map((el) => [el, el.getBoundingClientRect()])
        .filter(([el, r]) => r.width > 0 && (r.height < 43.5 || r.width < 43.5))
        .map(([el, r]) => `${el.tagName}#${el.id}.${el.className} ${Math.round(r.width)}x${Math.round(r.height)}`)""")


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 740


@pytest.mark.parametrize("store,lang", [("b-day", "en"), ("b-day-ur", "ur")])
def test_a_day_at_the_counter(page, stack, analytics, store, lang):
    post_count(stack, store, {TEA: "20", RICE: "10", MILK: "6"})
    for _ in range(2):  # the store's milk sales of two days ago, never rung up on this phone
        assert stack.post(earlier_sale(store, MILK)).status_code == 202
    page.add_init_script(SHARE_HOOK)
    chunks: list[str] = []
    page.on("request", lambda r: chunks.append(r.url) if "/assets/" in r.url else None)
    pair_counter(page, stack, store)
    page.wait_for_function(f"() => document.documentElement.lang === '{lang}'")  # the store's locale picked it
    assert page.evaluate("() => document.documentElement.dir") == ("rtl" if lang == "ur" else "ltr")
    assert not any("camera" in u for u in chunks), "camera scanning is not part of the first load"
    no_axe_violations(page, f"the counter ({lang})")

    # Roman Urdu, with a spelling variant, finds rice by its name
    page.fill("#search", "chaawal")
    page.wait_for_selector(f"button.result[data-sku='{RICE}']")
    assert page.locator("button.result").first.get_attribute("data-sku") == RICE
    page.locator(f"button.result[data-sku='{RICE}']").click()
    rice_qty = page.locator(f"li.line[data-sku='{RICE}'] input.qty")
    # the focus waits in the weight (moved there once the new line is drawn)
    page.wait_for_function("() => document.activeElement.classList.contains('qty')", timeout=5_000)

    # a scanner's burst with the focus in that quantity: the product is added, no quantity changes
    page.keyboard.type(TEA_BARCODE + "\n")
    page.wait_for_selector(f"li.line[data-sku='{TEA}']")
    assert rice_qty.input_value() == ""
    assert page.locator(f"li.line[data-sku='{TEA}'] input.qty").input_value() == "1"
    assert count(page, "waiting") == 0 and count(page, "synced") == 0, "the scanner's Enter recorded nothing"

    # "1,000" is a thousand; Enter in the quantity moves on and records nothing
    rice_qty.fill("1,000")
    page.wait_for_function("() => document.querySelector('#bill-total').textContent.includes('380,450.00')")
    rice_qty.press("Enter")
    assert page.evaluate("() => document.activeElement.classList.contains('price')")
    assert count(page, "waiting") == 0
    # the bill total and Record stay in view at the top of a long bill
    page.evaluate("() => window.scrollTo(0, 0)")
    assert in_view(page, "#record") and in_view(page, "#bill-total")
    assert small_targets(page) == []

    # 1,000 kg of rice with 10 on hand: the counter asks first
    page.click("#record")
    page.wait_for_selector("#confirm")
    shot(page, f"counter-confirm-{lang}")
    no_axe_violations(page, f"the confirmation ({lang})")
    page.click("#confirm-fix")
    rice_qty.fill("1.5")
    page.fill("#cash", "2,000")
    page.wait_for_function("() => document.querySelector('#change')?.textContent.includes('980.00')")  # 2000 - 450 - 570
    shot(page, f"counter-cash-{lang}")
    page.click("#record")
    assert page.locator("#confirm").count() == 0

    # the receipt stays: printable on 80 mm, shared as text in the shop's language
    receipt = page.locator("#receipt")
    receipt.wait_for()
    assert "1,020.00" in receipt.inner_text() and "980.00" in page.locator("#receipt-change").inner_text()
    page.click("#share")
    shared = page.wait_for_function("() => window.__shared").json_value()
    assert "1,020.00" in shared["text"] and "980.00" in shared["text"]
    assert ("شکریہ" if lang == "ur" else "Thank you") in shared["text"]
    [image] = shared["files"]  # and the receipt as a picture as wide as an 80 mm roll prints
    bill_no = page.locator("#receipt .r-meta span").nth(1).inner_text().split()[-1]
    assert (image["name"], image["type"], bytes(image["head"])) == (f"receipt-{bill_no}.png", "image/png", b"\x89PNG\r\n\x1a\n")
    assert image["width"] == 576 and image["height"] > 400, (image["width"], image["height"])
    (ARTIFACTS / f"counter-receipt-image-{lang}.png").write_bytes(base64.b64decode(image["url"].split(",", 1)[1]))
    no_axe_violations(page, f"the receipt ({lang})")
    shot(page, f"counter-receipt-{lang}")
    page.emulate_media(media="print")
    layout = page.evaluate("""() => ({ width: document.querySelector('#receipt').getBoundingClientRect().width,
        receipt: getComputedStyle(document.querySelector('#receipt .r-total')).visibility,
        record: getComputedStyle(document.querySelector('#record')).visibility,
        print: document.querySelector('#print').getClientRects().length })""")
    assert layout["receipt"] == "visible" and layout["record"] == "hidden" and layout["print"] == 0, layout
    assert 250 < layout["width"] <= 302, layout  # 74 mm of an 80 mm roll
    shot(page, f"counter-receipt-print-{lang}")
    page.emulate_media(media="screen")

    wait_for(lambda: count(page, "synced") == 1, message="the sale to be sent", page=page)
    token = rw_token(page)
    assert on_hand(stack, store, TEA, token) == "19"
    assert on_hand(stack, store, RICE, token) == "8.5"

    # quick keys: the store's most sold, from its quick-keys route (milk first: this phone sold
    # none), in the route's order; one tap adds one
    wait_for(lambda: MILK in quick_keys(stack, store), message="the milk sales in the analytics", page=page, timeout=60)
    with page.expect_response(lambda r: r.url.endswith(f"/v1/stores/{store}/quick-keys")) as answer:
        page.click("#new-bill")
    assert answer.value.status == 200
    served = [i["sku"] for i in answer.value.json()["items"]]
    assert served[0] == MILK, served
    page.wait_for_function(f"() => document.querySelector('button.quick-key')?.dataset.sku === '{MILK}'")
    assert [k.get_attribute("data-sku") for k in page.locator("button.quick-key").all()] == served[:8]
    key = page.locator(f"button.quick-key[data-sku='{TEA}']")
    shot(page, f"counter-quick-keys-{lang}")
    key.click()
    assert page.locator(f"li.line[data-sku='{TEA}'] input.qty").input_value() == "1"
    page.click("#record")
    wait_for(lambda: count(page, "synced") == 2, message="the quick-key sale to be sent", page=page)
    assert on_hand(stack, store, TEA, rw_token(page)) == "18"

    # that sale was a mistake: Return mode, Void it with a reason; its stock comes back
    page.locator("label.mode input[value='return']").check()
    newest = page.locator(".recent-sales li.recent").first
    newest.locator("button.void").click()
    newest.locator("select.void-why").select_option("why_wrong_item")
    no_axe_violations(page, f"returns and voids ({lang})")
    shot(page, f"counter-void-{lang}")
    newest.locator("button.void-yes").click()
    newest.locator(".tag").wait_for()
    wait_for(lambda: count(page, "synced") == 3, message="the void to be sent", page=page)
    assert on_hand(stack, store, TEA, rw_token(page)) == "19"
    assert page.locator(".recent-sales li.recent").first.locator("button.void").count() == 0, "voided once"

    # the day's sales to the paisa: the voided bill is out of them, counted as a void
    day = wait_for(lambda: voided_day(stack, store), message="the void in the day's sales", page=page, timeout=60)
    figures = [Decimal(str(day[c])) for c in ("bills", "revenue", "net_revenue", "voids", "refunds")]
    assert figures == [1, Decimal("1020"), Decimal("1020"), 1, 0], day  # 1 x 450 + 1.5 kg x 380
    [void] = stack.http.get(f"/v1/stores/{store}/reports/voids", params={"date": day["day"]}).json()["rows"]
    who = void["actor"].split(" (")[0]  # the pairing's default name
    assert (void["applied"], Decimal(void["amount"]), who) == (True, Decimal("450"), f"terminal at {store}")
    assert page.errors == []

    # the owner's dashboard lists it with who did it (the owner's own phone: a new browser profile)
    page.evaluate("() => localStorage.clear()")
    sign_in_owner(page, stack, [store], f"/?store={store}")
    listed = page.locator(f".voids-card li[data-event-id='{void['void_event_id']}']")
    listed.wait_for()
    assert listed.locator(".who").inner_text() == f"terminal at {store}"
    no_axe_violations(page, f"the dashboard with a void ({lang})")
    shot(page, f"dashboard-voids-{lang}")


def voided_day(stack, store: str) -> dict | None:
    rows = stack.http.get(f"/v1/stores/{store}/reports/daily_sales", params={"from": "2000-01-01", "to": "2100-01-01"}).json()["rows"]
    voided = [r for r in rows if r["voids"]]  # not the day of the milk sales
    return voided[0] if len(rows) == 2 and len(voided) == 1 and voided[0]["voids"] == 1 else None


def earlier_sale(store: str, sku: str) -> dict:
    """A sale of one ``sku`` two days ago, from another terminal."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": store,
        "terminal_id": "pos-2",
        "occurred_at": (datetime.now(PKT) - timedelta(days=2)).isoformat(timespec="seconds"),
        "lines": [{"sku": sku, "quantity": "1", "unit_price": "300.00"}],
    }


def quick_keys(stack, store: str) -> list[str]:
    return [i["sku"] for i in stack.http.get(f"/v1/stores/{store}/quick-keys").json()["items"]]


# what the refused sale's explanation must say, in the store's language: the product, and "Edit"
EXPLAINED = {"en": ("Tapal Danedar 190g", "Edit"), "ur": ("ٹپال دانے دار", "ترمیم")}


@pytest.mark.parametrize("store,lang", [("b-fix", "en"), ("b-fix-ur", "ur")])
def test_refused_fixed_and_counted_once_waiting_cancelled_camera(page, context, stack, store, lang):
    name, edit = EXPLAINED[lang]
    post_count(stack, store, {TEA: "20"})
    # a camera that shows the tea's barcode, where the browser has BarcodeDetector
    page.add_init_script(f"""
        window.BarcodeDetector = class {{ async detect() {{ return [{{ rawValue: '{TEA_BARCODE}' }}]; }} }};
        navigator.mediaDevices.getUserMedia = async () => {{
            const c = document.createElement('canvas'); c.width = 64; c.height = 48; c.getContext('2d').fillRect(0, 0, 64, 48);
            return c.captureStream(5);
        }};""")
    pair_counter(page, stack, store)
    # a sale the server refuses (a unit the product does not have), as an older app might queue it
    page.evaluate(f"""async () => {{
        const line = {{ sku: '{TEA}', quantity: '2', unit: 'bag', unit_price: '450.00' }};
        const ev = {{ event_id: crypto.randomUUID(), type: 'sale', store_id: '{store}', terminal_id: 'web-test',
                     occurred_at: new Date().toISOString(), lines: [line] }};
        const db = await new Promise((ok) => {{ const r = indexedDB.open('bazaar'); r.onsuccess = () => ok(r.result); }});
        await new Promise((ok) => {{ const tx = db.transaction('outbox', 'readwrite');
            tx.objectStore('outbox').add({{ event: ev, state: 'waiting', attempts: 0, queued_at: new Date().toISOString() }});
            tx.oncomplete = ok; }});
    }}""")
    page.reload()
    refused = page.locator("li.ev.rejected")
    refused.wait_for()
    refused.locator(".reason", has_text=name).wait_for()  # named once the catalog is read
    assert page.evaluate("() => document.documentElement.lang") == lang
    text = refused.locator(".reason").inner_text()
    assert name in text and edit in text, text
    assert "422" not in text and "lines[" not in text and "unknown unit" not in text, text
    assert page.locator(".badge .refused").get_attribute("data-refused") == "1"
    no_axe_violations(page, f"a refused event ({lang})")
    shot(page, f"counter-refused-explained-{lang}")

    refused.locator("button.edit").click()
    line = page.locator(f"li.line[data-sku='{TEA}']")
    assert line.locator("input.qty").input_value() == "2"
    assert line.locator("select").input_value() == "piece"
    page.click("#record")
    wait_for(lambda: count(page, "synced") == 1, message="the corrected sale to be sent", page=page)
    assert page.locator("li.ev.rejected").count() == 0 and page.locator(".badge .refused").count() == 0
    assert on_hand(stack, store, TEA, rw_token(page)) == "18"  # the refused one never counted; the fix once

    # a waiting event is cancelled, with a confirmation, before it is sent
    context.set_offline(True)
    page.fill("#search", TEA_BARCODE)
    page.press("#search", "Enter")
    page.click("#record")
    wait_for(lambda: count(page, "waiting") == 1, message="the sale to wait", page=page)
    waiting = page.locator("li.ev.waiting")
    waiting.locator("button.cancel").click()
    waiting.locator("button.cancel-yes").click()
    wait_for(lambda: count(page, "waiting") == 0, message="the sale to be cancelled", page=page)
    context.set_offline(False)
    page.evaluate("() => fetch('/health').catch(() => null)")

    # camera scanning, loaded only when tapped
    camera_js: list[str] = []
    page.on("request", lambda r: camera_js.append(r.url) if "/assets/camera" in r.url else None)
    page.click("#camera")
    page.wait_for_selector(f"li.line[data-sku='{TEA}']")
    assert camera_js, "the camera module is fetched on first use"
    page.click("#camera")
    page.click("#record")
    wait_for(lambda: count(page, "synced") == 2, message="the camera sale to be sent", page=page)
    assert on_hand(stack, store, TEA, rw_token(page)) == "17"  # 20 - 2 (fixed) - 1 (camera); the cancelled one never
    assert page.errors == []
