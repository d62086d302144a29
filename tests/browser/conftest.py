"""Browser tests: the built web app served by the real API, with a real worker, on the session's
broker, driven in headless Debian chromium by Playwright. Each test gets a fresh browser context
at phone size (360x740) and its own store; screenshots go to test-artifacts/browser/.

Auth is on, as in production: the test process is admin (``stack.http``), and each page pairs with
a code or signs in with an owner's key first. Access tokens live ``ACCESS_TTL_S`` (the shortest
the settings allow), so a test that runs longer sees its page renew them for real. Every page
records Content-Security-Policy violations (the ``securitypolicyviolation`` event and the
console's CSP errors); a test that leaves one fails."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.settings import Settings
from tests.conftest import free_ports
from tests.integration.harness import Running
from tests.integration.kafka_read import produce_json

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PKT = timezone(timedelta(hours=5))
PHONE = {"width": 360, "height": 740}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ACCESS_TTL_S = 30  # the shortest access token and pairing code lives the settings allow
# Runs in every document before its own scripts (Playwright injects it outside the page's CSP).
CSP_HOOK = """window.addEventListener('securitypolicyviolation', (e) => {
  window.__bazaarCsp(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || '?'}:${e.lineNumber}`);
}, true);"""

# b-day*, b-fix: the counter's day (test_counter_day.py); a store whose id ends in "-ur" writes Urdu (ur-PK)
STORES = (
    "b-online",
    "b-offline",
    "b-goods",
    "b-alert",
    "b-urdu",
    "b-report",
    "b-pair",
    "b-revoke",
    "b-renew",
    "b-live",
    "b-csp",
    "b-day",
    "b-day-ur",
    "b-fix",
    "b-fix-ur",
)
PRODUCTS = [
    {
        "sku": "rice-basmati-loose",
        "name": "Basmati rice (loose)",
        "names": {"ur": "باسمتی چاول", "hi": "बासमती चावल", "ur-Latn": "basmati chawal"},
        "unit": "kg",
        "price": "380.00",
        "cost": "340.00",
        "category": "grains",
    },
    {
        "sku": "tapal-danedar-190g",
        "name": "Tapal Danedar 190g",
        "names": {"ur": "ٹپال دانے دار"},
        "barcodes": ["8961014000019"],
        "unit": "piece",
        "packs": [{"unit": "carton", "size": "12"}],
        "price": "450.00",
        "cost": "400.00",
        "reorder_point": "5",
        "reorder_max": "24",
    },
    {
        "sku": "milk-pack-1l",
        "name": "Milk pack 1 L",
        "names": {"ur": "دودھ پیک"},
        "barcodes": ["8961100000011"],
        "unit": "piece",
        "price": "290.00",
        "reorder_point": "3",
    },
]


def _sources_newer_than(built: Path) -> bool:
    stamp = built.stat().st_mtime
    sources = [WEB / "index.html", WEB / "vite.config.js", WEB / "package.json"]
    for folder in ("src", "sw", "public"):
        sources.extend(p for p in (WEB / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > stamp for p in sources if p.exists())


def build_web() -> Path:
    """web/dist, built with npm when it is missing or older than its sources."""
    dist = WEB / "dist"
    if not (dist / "index.html").is_file() or _sources_newer_than(dist / "index.html"):
        npm = shutil.which("npm")
        assert npm, "npm is needed to build web/ (./bazaar.sh setup installs and builds it)"
        if not (WEB / "node_modules").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
        subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    return dist


def seed_catalog(r: Running) -> None:
    """Stores and products through the catalog API, or onto the compacted topics without it."""
    s = r.settings
    for store_id in STORES:
        locale = "ur-PK" if store_id.endswith("-ur") else "en-PK"
        body = {"store_id": store_id, "name": f"Store {store_id}", "timezone": "Asia/Karachi", "currency": "PKR", "locale": locale}
        if r.http.put(f"/v1/stores/{store_id}", json=body).status_code not in (200, 201):
            produce_json(s.kafka_bootstrap, s.stores_topic, store_id, body)
    for product in PRODUCTS:
        if r.http.put(f"/v1/products/{product['sku']}", json=product).status_code not in (200, 201):
            produce_json(s.kafka_bootstrap, s.products_topic, product["sku"], product)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the API's catalog view has them (the worker follows too)
        got = r.http.get("/v1/products", params={"limit": 50})
        if got.status_code == 200 and len(got.json().get("items", [])) >= len(PRODUCTS):
            break
        if got.status_code == 404:
            break  # no catalog API: the page searches an empty catalog
        time.sleep(0.3)
    r.wait_worker_catalog(products=len(PRODUCTS), stores=len(STORES))


def declare_changelog(settings: Settings) -> None:
    """Create the stock table's changelog topic before the worker starts. A worker that starts
    without it creates it itself but may not see it in its metadata yet, and then crashes on its
    first event (Faust's PartitionsMismatch: "changelog topic has 0 partitions")."""
    changelog = f"{settings.group_id}-stock-changelog"
    ensure_topics(settings, {changelog: settings.partitions}, {changelog: {"cleanup.policy": "compact"}})


@pytest.fixture(scope="session")
def web_dist() -> Path:
    return build_web()


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, web_dist: Path):
    worker_port, api_port, analytics_port = free_ports(3)
    prefix = f"t-browser-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("browser-stack"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=prefix,
        app_id=f"{prefix}-app",
        worker_port=worker_port,
        api_port=api_port,
        analytics_port=analytics_port,
        analytics_batch_seconds=0.2,
        web_dist=web_dist,
        sse_heartbeat_s=2.0,
        auth_required=True,
        access_token_ttl_s=ACCESS_TTL_S,
        pairing_code_ttl_s=ACCESS_TTL_S,
        # every page, every pairing and the test process come from one address, 127.0.0.1
        auth_rate_per_address=(100.0, 200),
    )
    declare_changelog(settings)
    r = Running(settings, [worker_port]).start()  # `bazaar auth init`; r.http is the admin
    try:
        seed_catalog(r)
        yield r
    finally:
        r.close()


@pytest.fixture(scope="session")
def analytics(stack):
    """The analytics process (reports), started only for the tests that need it."""
    from tests.integration.analytics_harness import Analytics

    a = Analytics(stack).start()
    try:
        yield a
    finally:
        a.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_context(browser, stack):
    """A phone-sized context that collects CSP violations in ``ctx.csp``."""
    ctx = browser.new_context(viewport=PHONE, base_url=stack.api_url, service_workers="allow")
    ctx.set_default_timeout(20_000)
    ctx.csp = []
    ctx.expose_function("__bazaarCsp", lambda violation: ctx.csp.append(violation))
    ctx.add_init_script(CSP_HOOK)
    return ctx


def new_page(ctx):
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda m: ctx.csp.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None)
    return pg


@pytest.fixture
def context(browser, stack):
    ctx = new_context(browser, stack)
    try:
        yield ctx
        assert ctx.csp == [], f"Content-Security-Policy violations: {ctx.csp}"
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    return new_page(context)


# ---- access: codes, keys, pairing ------------------------------------------------------------------


def pairing_code(r: Running, store: str, role: str = "terminal") -> str:
    """A one-time code for ``store``, made by the admin through the API."""
    resp = r.http.post(f"/v1/stores/{store}/pairing-codes", json={"role": role})
    assert resp.status_code == 201, resp.text
    return resp.json()["code"]


def create_key(r: Running, role: str, stores: list[str] | str, name: str = "browser test") -> dict:
    """A new credential ({"api_key", "id", ...}), made by the admin through the API."""
    resp = r.http.post("/v1/credentials", json={"name": name, "role": role, "stores": stores})
    assert resp.status_code == 201, resp.text
    return resp.json()


def pair_counter(page, r: Running, store: str, name: str | None = None) -> dict:
    """Open the counter, pair it with a fresh code typed the way a person might (lower case, a
    dash), and wait for the catalog: the pairing's answer (credential, access_token)."""
    code = pairing_code(r, store)
    page.goto(f"/counter?store={store}")
    page.wait_for_selector("#pair-code")
    page.fill("#pair-code", f"{code[:4].lower()}-{code[4:].lower()}")
    if name:
        page.fill("#device-name", name)
    with page.expect_response(lambda resp: resp.url.endswith("/v1/auth/pair")) as got:
        page.click("#pair")
    assert got.value.status == 201, got.value.text()
    page.wait_for_selector("#search")
    # the catalog loaded: the hint counts its products (other tests add to the seeded three)
    page.wait_for_function("() => /[1-9\u06f1-\u06f9]/.test(document.querySelector('#search-hint').textContent)")
    return got.value.json()


def sign_in_owner(page, r: Running, stores: list[str], path: str) -> dict:
    """Open ``path`` and paste a new owner key for ``stores`` on the pairing screen."""
    key = create_key(r, "owner", stores, name="owner's phone")
    page.goto(path)
    page.locator("details.owner-key summary").click()
    page.fill("#api-key", key["api_key"])
    with page.expect_response(lambda resp: resp.url.endswith("/v1/auth/token")) as got:
        page.click("#use-key")
    assert got.value.status == 200, got.value.text()
    page.wait_for_selector("#pair-code", state="detached")
    return key


def bearer_log(page) -> list[tuple[str, str, str | None, int]]:
    """A list that fills with (method, path after /v1/, token, status) for each API request of the
    page that got an answer (not those that failed offline); the token is the bearer header's, or
    the ``access_token`` query parameter's (event streams)."""
    log: list[tuple[str, str, str | None, int]] = []

    def seen(response) -> None:
        request = response.request
        url = urlsplit(request.url)
        if url.path.startswith("/v1/"):
            auth = request.headers.get("authorization")
            token = auth.removeprefix("Bearer ") if auth else parse_qs(url.query).get("access_token", [None])[0]
            log.append((request.method, url.path.removeprefix("/v1/"), token, response.status))

    page.on("response", seen)
    return log


AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is (WCAG A and AA rules), each {id, targets}.
    axe is evaluated through the devtools protocol, which the page's CSP does not govern: the
    policy stays as strict as in production."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    return page.evaluate("""async () => {
        const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
        return r.violations.map((v) => ({ id: v.id, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
    }""")


def shot(page, name: str) -> Path:
    """A phone-width screenshot under test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(path), full_page=True)
    return path


def post_count(r: Running, store: str, quantities: dict[str, str]) -> None:
    """A stock count through the API, applied before the test goes on (read-your-writes)."""
    body = {
        "event_id": str(uuid.uuid4()),
        "type": "count",
        "store_id": store,
        "terminal_id": "test",
        "occurred_at": (datetime.now(PKT) - timedelta(hours=1)).isoformat(timespec="seconds"),
        "lines": [{"sku": sku, "quantity": q} for sku, q in quantities.items()],
    }
    resp = r.post(body)
    assert resp.status_code == 202, resp.text
    for sku in quantities:
        got = r.stock(store, sku, after=resp.json()["token"], timeout_ms=20_000)
        assert got.status_code == 200, got.text


def on_hand(r: Running, store: str, sku: str, token: str | None = None) -> str:
    got = r.stock(store, sku, after=token or r.token, timeout_ms=20_000)
    assert got.status_code == 200, got.text
    return got.json()["on_hand"]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, message: str = "condition", page=None):
    """Poll ``predicate``. With ``page``, wait through Playwright: its sync API hands events
    (requests, console) to their listeners only while the test is inside one of its calls, so a
    predicate reading what a listener collects needs it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)
