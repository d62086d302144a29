"""The counter, paired with a code, records sales online and offline; the stock follows exactly."""

from __future__ import annotations

import pytest

from tests.browser.conftest import on_hand, pair_counter, post_count, shot, sign_in_owner, wait_for

pytestmark = pytest.mark.browser


def count(page, state: str) -> int:
    return int(page.locator(f'[data-count="{state}"]').inner_text())


def add(page, query: str, qty: str | None = None, unit: str | None = None) -> None:
    page.fill("#search", query)
    page.press("#search", "Enter")
    line = page.locator("li.line").last
    if unit:
        line.locator("select").select_option(unit)
    if qty is not None:
        line.locator("input.qty").fill(qty)


def rw_token(page) -> str | None:
    return page.evaluate("() => localStorage.getItem('bazaar.rw-token')")


def test_sale_online_changes_the_stock(page, stack):
    store = "b-online"
    post_count(stack, store, {"tapal-danedar-190g": "20", "rice-basmati-loose": "10"})
    pair_counter(page, stack, store)
    add(page, "tapal", "2")
    add(page, "basmati", "0.125")
    assert page.locator("#bill-total").inner_text().replace("\u00a0", " ").endswith("947.50")  # 2 x 450 + 0.125 x 380
    shot(page, "counter-bill")
    page.click("#record")
    wait_for(lambda: count(page, "synced") == 1, message="the sale to be sent")
    assert count(page, "waiting") == 0

    token = rw_token(page)
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "18"
    assert on_hand(stack, store, "rice-basmati-loose", token) == "9.875"

    # the counter's own key reads its store's stock on the dashboard (and may not see its alerts)
    page.click("nav a[href='/']")
    row = page.locator("tr[data-sku='rice-basmati-loose'] .on-hand")
    row.wait_for()
    assert row.get_attribute("data-on-hand") == "9.875"
    assert row.inner_text() == "9.875 kg"
    assert page.locator("tr[data-sku='tapal-danedar-190g'] .on-hand").get_attribute("data-on-hand") == "18"
    page.locator(".alerts p.muted", has_text="may not see this").wait_for()
    shot(page, "dashboard-after-sale")
    assert page.errors == []


def test_offline_sales_survive_a_reload_and_sync_once(page, context, stack):
    store = "b-offline"
    post_count(stack, store, {"tapal-danedar-190g": "20", "rice-basmati-loose": "10", "milk-pack-1l": "6"})
    pair_counter(page, stack, store)
    page.evaluate("() => navigator.serviceWorker.ready")
    wait_for(lambda: page.evaluate("() => !!navigator.serviceWorker.controller"), message="the service worker to control the page")

    context.set_offline(True)
    add(page, "باسمتی", "0.125")  # Urdu name, loose goods by weight
    page.click("#record")
    add(page, "8961014000019")  # a scanner: barcode + Enter, twice
    add(page, "8961014000019")
    page.click("#record")
    add(page, "milk", "1", unit="piece")
    add(page, "basmati", "1.5")
    page.click("#record")
    wait_for(lambda: count(page, "waiting") == 3, message="three events waiting")
    page.wait_for_selector(".badge[data-online='false']")
    assert count(page, "synced") == 0
    ids = page.eval_on_selector_all("li.ev.waiting", "els => els.map(e => e.dataset.eventId)")
    assert len(set(ids)) == 3

    reloaded = page.reload()  # still offline: the service worker serves the shell, IndexedDB keeps the events
    assert reloaded.from_service_worker
    page.wait_for_selector("#search")
    assert count(page, "waiting") == 3
    assert page.eval_on_selector_all("li.ev.waiting", "els => els.map(e => e.dataset.eventId)") == ids
    page.fill("#search", "tapal")  # the catalog is on the phone
    page.wait_for_selector("button.result[data-sku='tapal-danedar-190g']")
    page.fill("#search", "")
    shot(page, "counter-offline-waiting")

    context.set_offline(False)
    wait_for(lambda: count(page, "waiting") == 0 and count(page, "synced") == 3, timeout=60, message="the events to go out by themselves")
    assert sorted(page.eval_on_selector_all("li.ev.synced", "els => els.map(e => e.dataset.eventId)")) == sorted(ids)
    page.wait_for_selector(".badge[data-online='true']")
    shot(page, "counter-back-online")

    token = rw_token(page)
    assert on_hand(stack, store, "rice-basmati-loose", token) == "8.375"  # 10 - 0.125 - 1.5
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "18"
    assert on_hand(stack, store, "milk-pack-1l", token) == "5"

    # Sending them all again (as after a lost answer) changes nothing: each event counts once.
    events = page.evaluate("""async () => {
        const db = await new Promise((ok, no) => { const r = indexedDB.open('bazaar'); r.onsuccess = () => ok(r.result); r.onerror = no; });
        return await new Promise((ok) => {
            const q = db.transaction('outbox').objectStore('outbox').getAll(); q.onsuccess = () => ok(q.result.map(x => x.event)); });
    }""")
    assert sorted(e["event_id"] for e in events) == sorted(ids)
    again = stack.post({"events": events})
    assert again.status_code == 202, again.text
    assert on_hand(stack, store, "rice-basmati-loose", again.json()["token"]) == "8.375"
    assert on_hand(stack, store, "tapal-danedar-190g") == "18"
    assert page.errors == []


def test_a_double_tap_and_a_scan_while_saving_record_each_line_once(page, context, stack):
    store = "b-double"
    post_count(stack, store, {"tapal-danedar-190g": "20", "milk-pack-1l": "6"})
    pair_counter(page, stack, store)
    context.set_offline(True)
    add(page, "tapal", "2")
    # two taps in one breath: the second lands before the page has drawn the empty bill
    page.evaluate("() => { const b = document.querySelector('#record'); b.click(); b.click(); }")
    add(page, "milk", "1")  # the next customer's scan, straight away, while the phone may still be saving
    page.click("#record")
    wait_for(lambda: count(page, "waiting") == 2, message="two bills waiting")
    context.set_offline(False)
    wait_for(lambda: count(page, "waiting") == 0 and count(page, "synced") == 2, timeout=60, message="the bills to go out")
    token = rw_token(page)
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "18"
    assert on_hand(stack, store, "milk-pack-1l", token) == "5"
    assert page.errors == []


def test_goods_received_adjustment_and_count(page, stack):
    store = "b-goods"
    post_count(stack, store, {"tapal-danedar-190g": "10"})
    # goods received and adjustments are the owner's (or a manager's): the owner signs in with
    # their key on the dashboard and uses the counter with it
    sign_in_owner(page, stack, [store], f"/?store={store}")
    page.click("nav a[href='/counter']")
    page.wait_for_function("() => document.querySelector('#search-hint').textContent.includes('3')")

    page.get_by_label("Goods received").check()
    page.fill("#supplier", "Tapal Tea (Pvt) Ltd")
    add(page, "tapal", "2", unit="carton")  # whole packs: 2 cartons of 12
    assert page.locator("li.line input.price").input_value() == "4800.00"  # cost per carton
    assert page.locator("#bill-total").inner_text().endswith("9,600.00")
    page.click("#record")

    page.get_by_label("Adjustment").check()
    page.select_option("#reason", "expiry")
    add(page, "8961014000019", "3")  # 3 expired: taken off
    page.click("#record")

    page.get_by_label("Stock count").check()
    add(page, "rice", "7.5")
    shot(page, "counter-count")
    page.click("#record")

    wait_for(lambda: count(page, "waiting") == 0 and count(page, "synced") == 3, message="three events sent")
    token = rw_token(page)
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "31"  # 10 + 2 x 12 - 3
    assert on_hand(stack, store, "rice-basmati-loose", token) == "7.5"
    assert page.errors == []


def test_a_refused_event_is_shown_with_the_reason(page, stack):
    store = "b-online"
    pair_counter(page, stack, store)
    # An event the server refuses (a sale of nothing), as if an older app version had queued it.
    page.evaluate("""async () => {
        const line = { sku: 'tapal-danedar-190g', quantity: '0', unit_price: '1.00' };
        const ev = { event_id: crypto.randomUUID(), type: 'sale', store_id: 'b-online', terminal_id: 'web-test',
                     occurred_at: new Date().toISOString(), lines: [line] };
        const db = await new Promise((ok) => { const r = indexedDB.open('bazaar'); r.onsuccess = () => ok(r.result); });
        await new Promise((ok) => { const tx = db.transaction('outbox', 'readwrite');
            tx.objectStore('outbox').add({ event: ev, state: 'waiting', attempts: 0, queued_at: new Date().toISOString() });
            tx.oncomplete = ok; });
    }""")
    page.reload()
    page.wait_for_selector("li.ev.rejected")
    # named from the catalog on the phone, once it is read (the refusal may come first after a reload)
    page.locator("li.ev.rejected .reason", has_text="Tapal Danedar 190g").wait_for()
    reason = page.locator("li.ev.rejected .reason").inner_text()
    assert "Tapal Danedar 190g" in reason and "quantity" in reason, reason  # the product, what to do
    assert not reason.startswith("422"), reason
    assert page.locator("[data-count='waiting']").inner_text() == "0"
    shot(page, "counter-rejected")
    page.click("li.ev.rejected button.delete")
    page.click("li.ev.rejected button.delete-yes")
    page.wait_for_selector("li.ev.rejected", state="detached")
