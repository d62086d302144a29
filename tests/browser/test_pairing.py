"""Access in the web app: a counter pairs with a one-time code, keeps its key, renews its access
tokens (expired for real, or revoked on the server) without losing a queued event, goes back to
pairing when its key is revoked, and says clearly, in English and Urdu, why a code is refused.
The app runs under its Content-Security-Policy with no violation (every test's context checks)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.browser.conftest import (
    ACCESS_TTL_S,
    axe_violations,
    bearer_log,
    new_context,
    new_page,
    on_hand,
    pair_counter,
    pairing_code,
    post_count,
    shot,
    sign_in_owner,
    wait_for,
)

pytestmark = pytest.mark.browser

OUTBOX = """async () => {
    const db = await new Promise((ok, no) => { const r = indexedDB.open('bazaar'); r.onsuccess = () => ok(r.result); r.onerror = no; });
    return await new Promise((ok) => {
        const q = db.transaction('outbox').objectStore('outbox').getAll(); q.onsuccess = () => ok(q.result); });
}"""


def count(page, state: str) -> int:
    return int(page.locator(f'[data-count="{state}"]').inner_text())


def sell(page, query: str, qty: str = "1") -> None:
    page.fill("#search", query)
    page.press("#search", "Enter")
    page.locator("li.line input.qty").last.fill(qty)
    page.click("#record")


def refused(stack, token: str) -> bool:
    """Whether the API now refuses ``token`` (expired, or its revocation has reached it)."""
    r = httpx.get(f"{stack.api_url}/v1/stores/b-pair/stock/milk-pack-1l", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 401, 403, 404), r.text
    return r.status_code == 401


def service_worker_controls(page) -> None:
    page.evaluate("() => navigator.serviceWorker.ready")
    wait_for(lambda: page.evaluate("() => !!navigator.serviceWorker.controller"), message="the service worker to control the page")


def code_error(page, expected: str) -> str:
    err = page.locator("#code-error")
    err.wait_for()
    assert err.get_attribute("data-error") == expected
    return err.inner_text()


def test_pair_sell_offline_let_the_token_expire_and_sync_once(page, context, browser, stack):
    store = "b-pair"
    post_count(stack, store, {"tapal-danedar-190g": "20", "milk-pack-1l": "6"})
    later_code = pairing_code(stack, store)  # left unused until it has expired
    log = bearer_log(page)
    answer = pair_counter(page, stack, store, name="Counter 1")
    paired_at = time.monotonic()
    first = answer["access_token"]
    assert answer["credential"]["role"] == "terminal" and answer["credential"]["stores"] == [store]
    assert answer["credential"]["name"] == "Counter 1"

    # The key is on the device; the access token only in memory.
    kept = page.evaluate("() => JSON.parse(localStorage.getItem('bazaar.key'))")
    assert kept["api_key"] == answer["api_key"] and kept["api_key"].startswith("bzk_")
    assert first not in page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    # a terminal records sales and returns (voids too), nothing else: its role's events
    assert page.eval_on_selector_all("input[name='mode']", "els => els.map(e => e.value)") == ["sale", "return"]
    service_worker_controls(page)

    context.set_offline(True)
    sell(page, "tapal", "2")
    sell(page, "milk", "1")
    wait_for(lambda: count(page, "waiting") == 2, message="two sales waiting")
    ids = sorted(page.eval_on_selector_all("li.ev.waiting", "els => els.map(e => e.dataset.eventId)"))
    reloaded = page.reload()  # offline: the shell from the service worker, the key from the device
    assert reloaded.from_service_worker
    page.wait_for_selector("#search")
    assert count(page, "waiting") == 2

    # Let the pairing's token expire for real: the API refuses it afterwards.
    time.sleep(max(0.0, paired_at + ACCESS_TTL_S - time.monotonic()))
    wait_for(lambda: refused(stack, first), timeout=15, message="the first access token to expire")

    # Meanwhile the code made before the pairing has expired too: another phone is told so.
    other = new_context(browser, stack)
    try:
        phone = new_page(other)
        phone.goto("/counter")
        phone.fill("#pair-code", later_code)
        phone.click("#pair")
        text = code_error(phone, "code_expired")
        assert "expired" in text and "new one" in text
        shot(phone, "pair-code-expired")
        assert other.csp == [] and phone.errors == []
    finally:
        other.close()

    context.set_offline(False)
    wait_for(lambda: count(page, "waiting") == 0 and count(page, "synced") == 2, timeout=60, message="the sales to go out")
    sent = [entry for entry in log if entry[:2] == ("POST", "events")]
    assert sent and all(token and token != first and status == 202 for _, _, token, status in sent), sent  # renewed from the key
    assert ("POST", "auth/token", None, 200) in log

    records = page.evaluate(OUTBOX)
    assert sorted(r["event"]["event_id"] for r in records if r["state"] == "synced") == ids
    token = page.evaluate("() => localStorage.getItem('bazaar.rw-token')")
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "18"
    assert on_hand(stack, store, "milk-pack-1l", token) == "5"
    # sent again, as after a lost answer: still counted once
    again = stack.post({"events": [r["event"] for r in records]})
    assert again.status_code == 202, again.text
    assert on_hand(stack, store, "tapal-danedar-190g", again.json()["token"]) == "18"
    assert on_hand(stack, store, "milk-pack-1l") == "5"
    assert page.errors == []


def test_a_revoked_token_is_renewed_once_and_the_requests_retried(page, stack):
    store = "b-renew"
    post_count(stack, store, {"tapal-danedar-190g": "10"})
    log = bearer_log(page)
    pair_counter(page, stack, store)
    sell(page, "tapal", "1")
    wait_for(lambda: count(page, "synced") == 1, message="the first sale to be sent")
    current = [token for method, path, token, _ in log if (method, path) == ("POST", "events")][-1]

    # Sign that token out on the server (its jti revoked): the page still believes in it.
    out = httpx.post(f"{stack.api_url}/v1/auth/logout", headers={"Authorization": f"Bearer {current}"})
    assert out.status_code == 204, out.text
    wait_for(lambda: refused(stack, current), timeout=10, message="the logout to reach the API")

    mark = len(log)
    sell(page, "tapal", "2")
    wait_for(lambda: count(page, "synced") == 2, message="the second sale to be sent")
    after = log[mark:]
    assert after[0] == ("POST", "events", current, 401), after  # refused ...
    assert after[1] == ("POST", "auth/token", None, 200), after  # ... one renewal ...
    assert after[2][::3] == ("POST", 202) and after[2][2] not in (None, current), after  # ... and the retry
    fresh = after[2][2]

    # Revoke the fresh one too, then open the dashboard: its requests all start at once with it,
    # are all refused, and share one renewal.
    assert httpx.post(f"{stack.api_url}/v1/auth/logout", headers={"Authorization": f"Bearer {fresh}"}).status_code == 204
    wait_for(lambda: refused(stack, fresh), timeout=10, message="the second logout to reach the API")
    mark = len(log)
    page.click("nav a[href='/']")
    page.locator("tr[data-sku='tapal-danedar-190g'] .on-hand[data-on-hand='7']").wait_for()
    after = log[mark:]
    assert [e for e in after if e[1] == "auth/token"] == [("POST", "auth/token", None, 200)], after
    assert sum(1 for e in after if e[2] == fresh and e[3] == 401) >= 2, after  # several went out with the revoked token

    token = page.evaluate("() => localStorage.getItem('bazaar.rw-token')")
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "7"
    assert page.errors == []


def test_a_revoked_key_returns_to_pairing_and_keeps_the_queue(page, context, stack):
    store = "b-revoke"
    post_count(stack, store, {"tapal-danedar-190g": "10", "milk-pack-1l": "4"})
    answer = pair_counter(page, stack, store)
    service_worker_controls(page)

    context.set_offline(True)
    sell(page, "tapal", "3")
    sell(page, "milk", "1")
    wait_for(lambda: count(page, "waiting") == 2, message="two sales waiting")
    ids = sorted(page.eval_on_selector_all("li.ev.waiting", "els => els.map(e => e.dataset.eventId)"))

    # The owner revokes this phone's key while it is offline.
    gone = stack.http.delete(f"/v1/credentials/{answer['credential']['id']}")
    assert gone.status_code == 204, gone.text
    wait_for(lambda: refused(stack, answer["access_token"]), timeout=10, message="the revocation to reach the API")

    context.set_offline(False)
    page.locator("#revoked").wait_for(timeout=60_000)  # back on the pairing screen, by itself
    assert page.locator("#kept").get_attribute("data-waiting") == "2"
    assert "2 events are kept on this device" in page.locator("#kept").inner_text()
    assert page.evaluate("() => localStorage.getItem('bazaar.key')") is None
    assert sorted(r["event"]["event_id"] for r in page.evaluate(OUTBOX) if r["state"] == "waiting") == ids
    page.get_by_role("button", name="اردو").click()
    assert page.locator("#revoked").inner_text() == "اس آلے کی کلید منسوخ کر دی گئی ہے: اسے دوبارہ جوڑیں۔"
    shot(page, "pair-revoked-urdu")
    page.get_by_role("button", name="English").click()

    # Paired again (a new code): the kept sales go out with the new key, each counted once.
    page.fill("#pair-code", pairing_code(stack, store))
    page.click("#pair")
    page.wait_for_selector("#search")
    wait_for(lambda: count(page, "waiting") == 0 and count(page, "synced") == 2, timeout=60, message="the kept sales to go out")
    records = page.evaluate(OUTBOX)
    assert sorted(r["event"]["event_id"] for r in records if r["state"] == "synced") == ids
    token = page.evaluate("() => localStorage.getItem('bazaar.rw-token')")
    assert on_hand(stack, store, "tapal-danedar-190g", token) == "7"
    assert on_hand(stack, store, "milk-pack-1l", token) == "3"

    # Sign out from the settings: the pairing screen, the key forgotten, the token revoked.
    log = bearer_log(page)
    page.locator("#settings summary").click()
    page.click("#unpair")
    page.click("#unpair-yes")
    page.wait_for_selector("#pair-code")
    assert page.evaluate("() => localStorage.getItem('bazaar.key')") is None
    wait_for(lambda: ("POST", "auth/logout") in [e[:2] for e in log], message="the logout request", page=page)
    logged_out = next(token for _, path, token, status in log if path == "auth/logout" and status == 204)
    wait_for(lambda: refused(stack, logged_out), timeout=10, message="the signed-out token to be refused")
    assert page.errors == []


def test_pairing_errors_are_clear_in_english_and_urdu(page, context, stack):
    store = "b-pair"
    log = bearer_log(page)
    page.goto(f"/counter?store={store}")
    page.fill("#pair-code", "abc")
    page.click("#pair")
    assert code_error(page, "code_format") == "A pairing code has 8 letters and digits."
    assert not [e for e in log if e[1] == "auth/pair"]  # not worth a request

    page.fill("#pair-code", "zzzz-2222")
    page.click("#pair")
    assert code_error(page, "invalid_code") == "This code is not valid: check it, or ask for a new one."
    assert axe_violations(page) == []  # and in English
    page.get_by_role("button", name="اردو").click()
    assert code_error(page, "invalid_code") == "یہ کوڈ درست نہیں: اسے دوبارہ دیکھیں یا نیا کوڈ لیں۔"
    assert axe_violations(page) == []  # the pairing screen, with its error, in Urdu
    shot(page, "pair-invalid-urdu")
    page.get_by_role("button", name="English").click()

    used = pairing_code(stack, store)
    assert httpx.post(f"{stack.api_url}/v1/auth/pair", json={"code": used}).status_code == 201  # another phone took it
    page.fill("#pair-code", used)
    page.click("#pair")
    assert code_error(page, "code_used") == "This code has already been used: ask for a new one."

    code = pairing_code(stack, store)
    context.set_offline(True)
    page.fill("#pair-code", code)
    page.click("#pair")
    assert code_error(page, "offline") == "Pairing needs a connection: connect to the internet and try again."
    page.get_by_role("button", name="اردو").click()
    assert code_error(page, "offline") == "جوڑنے کے لیے انٹرنیٹ درکار ہے: انٹرنیٹ سے جڑ کر دوبارہ کوشش کریں۔"
    page.get_by_role("button", name="English").click()
    context.set_offline(False)
    page.click("#pair")  # the same code, never redeemed: it works now
    page.wait_for_selector("#search")
    assert page.errors == []


def test_an_owner_key_on_the_dashboard_and_the_refusals(page, stack):
    page.goto("/?store=b-live")
    page.locator("details.owner-key summary").click()
    page.fill("#api-key", "my password")
    page.click("#use-key")
    err = page.locator("#key-error")
    err.wait_for()
    assert err.get_attribute("data-error") == "key_format"
    page.fill("#api-key", "bzk_0123456789ab_" + "A" * 43)  # well formed, unknown
    page.click("#use-key")
    page.locator("#key-error[data-error='key_refused']").wait_for()
    assert page.locator("#key-error").inner_text() == "This key is not valid, or it was revoked."
    assert page.evaluate("() => localStorage.getItem('bazaar.key')") is None
    sign_in_owner(page, stack, ["b-live"], "/?store=b-live")
    page.wait_for_selector(".alerts .live.on")
    assert page.errors == []


@pytest.mark.slow  # waits out a real token lifetime; the renewal itself is in the default run
def test_the_alert_stream_reopens_with_a_fresh_token(page, stack):
    store = "b-live"
    post_count(stack, store, {"milk-pack-1l": "9"})
    log = bearer_log(page)
    sign_in_owner(page, stack, [store], f"/?store={store}")
    page.wait_for_selector(".alerts .live.on")
    streams = lambda: [token for _, path, token, _ in log if path.endswith("/alerts/stream")]  # noqa: E731
    first = streams()[0]
    assert first

    # The server ends a stream once its token has expired; the page opens another with a fresh one.
    renewed = lambda: any(t != first for t in streams())  # noqa: E731
    wait_for(renewed, timeout=ACCESS_TTL_S + 30, interval=0.5, message="a stream with a new token", page=page)
    assert all(t for t in streams())
    page.wait_for_selector(".alerts .live.on")
    sale = {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": store,
        "terminal_id": "pos-1",
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "lines": [{"sku": "milk-pack-1l", "quantity": "7", "unit_price": "290.00"}],
    }
    assert stack.post(sale).status_code == 202  # 2 left, reorder point 3
    page.locator("li.alert[data-kind='low_stock']").wait_for(timeout=30_000)  # live, over the new stream
    assert page.errors == []


def test_the_app_runs_under_its_csp_and_a_violation_would_be_seen(page, context, stack):
    resp = page.goto("/counter")
    policy = resp.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    page.wait_for_selector("#pair-code")
    assert context.csp == []
    # The detector itself: an injected inline script is blocked, and the page hears of it.
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__injected = 1'; document.head.append(s); }")
    wait_for(lambda: context.csp, timeout=5, message="the violation to be reported", page=page)
    assert any("script-src" in v for v in context.csp), context.csp
    assert page.evaluate("() => window.__injected") is None
    context.csp.clear()
    # then a whole session (pairing, the counter, a sale, the dashboard) without one
    pair_counter(page, stack, "b-csp")
    sell(page, "milk", "1")
    wait_for(lambda: count(page, "synced") == 1, message="the sale to be sent")
    page.click("nav a[href='/']")
    page.wait_for_selector("tr[data-sku='milk-pack-1l']")
    page.reload()
    page.wait_for_selector("tr[data-sku='milk-pack-1l']")
    assert context.csp == []
    assert page.errors == []
