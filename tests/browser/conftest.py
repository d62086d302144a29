"""Browser tests: the built web app served by the real API, with a real worker, on the session's
broker, driven in headless Debian chromium by Playwright. Each test gets a fresh browser context
at phone size (360x740) and its own store; screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

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

STORES = ("b-online", "b-offline", "b-goods", "b-alert", "b-urdu", "b-report")
PRODUCTS = [
    {
        "sku": "rice-basmati-loose",
        "name": "Basmati rice (loose)",
        "names": {"ur": "باسمتی چاول", "hi": "बासमती चावल"},
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


def build_web() -> Path:
    """web/dist, built with npm when it is missing."""
    dist = WEB / "dist"
    if not (dist / "index.html").is_file():
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
        body = {"store_id": store_id, "name": f"Store {store_id}", "timezone": "Asia/Karachi", "currency": "PKR", "locale": "en-PK"}
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
    )
    declare_changelog(settings)
    r = Running(settings, [worker_port]).start()
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


@pytest.fixture
def context(browser, stack):
    ctx = browser.new_context(viewport=PHONE, base_url=stack.api_url, service_workers="allow")
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg


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


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)
