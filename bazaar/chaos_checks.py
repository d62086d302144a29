"""What `bazaar chaos` checks after each fault besides the stocks: the reports the analytics process
serves, against the same plain Python computation the analytics tests use
(``bazaar_core.loadgen.report_model``), and the webhooks, counted by alert id at a receiver of its
own on 127.0.0.1 against every alert the API lists.

The notifier's contract (docs/alerts-and-webhooks.md) is once per (webhook, alert id), with one
window left: a notifier killed between a receiver's 2xx and the ack of its delivery record posts
that alert again, with the same ``X-Bazaar-Alert-Id``. So missing deliveries are counted apart from
duplicate ones, and the duplicates are a figure of their own.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from bazaar_core.loadgen.report_model import Catalog, Model, difference, from_us
from domain import webhooks

Ask = Callable[[str, dict[str, Any]], dict]  # ask(report name, query) -> the report's JSON body


# ---- reports -----------------------------------------------------------------------------------


def report_checks(model: Model, stores: list[str]) -> list[tuple[str, dict[str, Any], list[dict]]]:
    """(report, query, expected rows) for every store at once and for each of ``stores``: the
    day's sales, the best sellers, stock-outs and stock value by store over everything; each store's
    sales, stock as of now and stock value."""
    days = sorted({model.catalog.local_day(r.store, r.at) for r in model.rows})
    first, last = days[0] - timedelta(days=1), days[-1] + timedelta(days=1)
    begin, end = min(r.at for r in model.rows), max(r.at for r in model.rows)
    at = end + 1_000_000
    span = {"from": first.isoformat(), "to": last.isoformat()}
    instant = from_us(at).isoformat()
    checks: list[tuple[str, dict[str, Any], list[dict]]] = [
        ("daily_sales", {"store_id": "", **span}, model.daily_sales("", first, last)),
        ("top_sellers", {"store_id": "", "limit": 10, **span}, model.top_sellers("", first, last, 10)),
        (
            "stock_outs",
            {"store_id": "", "from": from_us(begin).isoformat(), "to": from_us(end).isoformat()},
            model.stock_outs("", begin, end),
        ),
        ("stock_valuation_by_store", {"store_id": "", "at": instant}, model.stock_valuation_by_store("", at)),
    ]
    for store in stores:
        checks += [
            ("daily_sales", {"store_id": store, **span}, model.daily_sales(store, first, last)),
            ("stock_as_of", {"store_id": store, "at": instant}, model.stock_as_of(store, at)),
            ("stock_valuation", {"store_id": store, "at": instant}, model.stock_valuation(store, at)),
        ]
    return checks


def model_of(bodies: list[dict]) -> Model:
    """The reports of everything ``bodies`` posted; no catalog is published, so every store keeps
    UTC days and no product has a catalog cost."""
    return Model(bodies, Catalog())


def wrong_reports(ask: Ask, model: Model, stores: list[str]) -> tuple[int, list[str]]:
    """(reports compared, what differs in each wrong one)."""
    wrong = []
    checks = report_checks(model, stores)
    for name, query, expected in checks:
        differs = difference(ask(name, query), expected, f"{name} {query}")
        if differs is not None:
            wrong.append(differs[:600])
    return len(checks), wrong


def wait_analytics(http: httpx.Client, analytics_url: str, rows: int, timeout: float = 120.0) -> float | None:
    """Seconds until the analytics process holds ``rows`` distinct ledger rows with nothing pending
    (caught up with everything acknowledged); None if it did not within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            resp = http.get(f"{analytics_url}/status", timeout=10)
            if resp.status_code == 200:
                status = resp.json()
                if status["ledger"]["distinct"] >= rows and status["feeds"]["ledger"]["pending"] == 0:
                    return time.monotonic() - started
        except httpx.HTTPError:
            pass  # restarting
        time.sleep(0.5)
    return None


# ---- webhooks ----------------------------------------------------------------------------------


class WebhookReceiver:
    """A webhook receiver on 127.0.0.1 (http.server in a thread): every delivery's alert id and how
    many times it came, the store it is of, and the deliveries whose signature did not verify. A
    delivery counts once its request is read; the 200 follows ``answer_after_s`` later, as from a
    receiver with work to do (so a notifier killed meanwhile has deliveries in flight)."""

    def __init__(self, secret: str, answer_after_s: float = 0.2) -> None:
        self.secret = secret
        self.answer_after_s = answer_after_s
        self.counts: Counter[str] = Counter()  # alert id -> deliveries
        self.first_at: dict[str, float] = {}  # alert id -> when it first came (monotonic)
        self.store_of: dict[str, str] = {}
        self.bad_signatures = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid = webhooks.verify(
                    receiver.secret,
                    self.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                    self.headers.get(webhooks.SIGNATURE_HEADER, ""),
                    body,
                    now=time.time(),
                )
                receiver._record(self.headers.get(webhooks.ALERT_ID_HEADER, ""), body, valid)
                time.sleep(receiver.answer_after_s)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the notifier went away meanwhile (killed)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # loopback only, whatever else is configured
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="chaos-webhook-receiver", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def _record(self, alert_id: str, body: bytes, valid: bool) -> None:
        try:
            store = json.loads(body).get("store_id", "")
        except ValueError:
            store = ""
        with self._lock:
            self.counts[alert_id] += 1
            self.first_at.setdefault(alert_id, time.monotonic())
            self.store_of[alert_id] = store
            self.bad_signatures += not valid

    def snapshot(self) -> Counter[str]:
        """Alert id -> deliveries so far."""
        with self._lock:
            return Counter(self.counts)

    def delivered(self, stores: set[str], before: float | None = None) -> set[str]:
        """The alert ids of ``stores`` delivered (first before ``before``, monotonic, if given)."""
        with self._lock:
            return {aid for aid, store in self.store_of.items() if store in stores and (before is None or self.first_at[aid] <= before)}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def register_webhook(http: httpx.Client, api_url: str, notifier_url: str, receiver: WebhookReceiver, stores: list[str]) -> str:
    """Register ``receiver`` for the alerts of ``stores``, and wait until the notifier has read it
    (it sends a webhook the alerts raised after it was registered, once it knows of it)."""
    body = {"url": receiver.url, "secret": receiver.secret, "store_ids": stores, "types": ["alert"]}
    resp = http.post(f"{api_url}/v1/webhooks", json=body)
    if resp.status_code != 201:
        raise RuntimeError(f"POST /v1/webhooks answered {resp.status_code}: {resp.text[:300]}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{notifier_url}/health", timeout=5).json().get("webhooks", 0) >= 1:
                return str(resp.json()["webhook_id"])
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the notifier did not read the webhook within 60 s")
        time.sleep(0.3)


def listed_alerts(http: httpx.Client, api_urls: list[str], stores: list[str]) -> set[str]:
    """Every alert id (raised, not cleared messages) the API lists for ``stores``, every page."""
    ids: set[str] = set()
    for i, store in enumerate(stores):
        cursor: int | None = None
        for attempt in range(30):
            params: dict[str, Any] = {"state": "all", "limit": 1000, **({"cursor": cursor} if cursor is not None else {})}
            try:
                resp = http.get(f"{api_urls[(i + attempt) % len(api_urls)]}/v1/stores/{store}/alerts", params=params, timeout=30)
            except httpx.HTTPError:
                time.sleep(1)
                continue
            if resp.status_code != 200:
                if resp.status_code < 500:
                    raise RuntimeError(f"alerts of {store} answered {resp.status_code}: {resp.text[:300]}")
                time.sleep(1)
                continue
            page = resp.json()
            ids.update(item["alert_id"] for item in page["items"] if item.get("type", "alert") == "alert")
            cursor = page.get("next_cursor")
            if cursor is None:
                break
        else:
            raise RuntimeError(f"alerts of {store} not answered")
    return ids


def settle_webhooks(
    http: httpx.Client, api_urls: list[str], receiver: WebhookReceiver, stores: list[str], timeout: float = 90.0
) -> dict[str, Any]:
    """Until every alert the API lists for ``stores`` was delivered and the list stood still for a
    couple of seconds (or ``timeout``): the figures (expected, delivered, missing, unexpected, seconds)."""
    started = time.monotonic()
    previous: set[str] | None = None
    still = 0  # reads in a row that listed the same alerts, every one delivered
    while True:
        listed = listed_alerts(http, api_urls, stores)
        delivered = receiver.delivered(set(stores))
        still = still + 1 if listed == previous and listed <= delivered else 0
        if still >= 2 or time.monotonic() - started > timeout:
            break
        previous = listed
        time.sleep(1.0)
    return {
        "webhooks_expected": len(listed),
        "webhooks_delivered": len(listed & delivered),
        "webhook_missing": len(listed - delivered),
        "webhook_unexpected": len(delivered - listed),  # delivered, yet no such alert listed
        "webhooks_settled_s": round(time.monotonic() - started, 1),
    }
