"""`bazaar demo`: `bazaar up`, a catalog and a chain of shops, then a simulated day of POS traffic
with a live display, and a verdict that stays on screen.

The demo first registers its stores (names, time zone, locale) and a kiryana assortment
(``bazaar_core.loadgen.catalog``: names in English and Urdu, units, packs, barcodes, costs, prices,
reorder points, suppliers), so margins, alerts and the dashboard mean something. The traffic
comes from the seeded load generator in bench/ (the same one the benchmarks use). When the day
is posted and applied, the demo checks every stock against the generator's own expected totals,
stops the live panel and prints its summary, then keeps the stack up until Ctrl-C (or exits,
with --exit-when-done).

The demo is a client like any other: `up` ran ``bazaar auth init``, and the demo exchanges the admin
key it wrote (or ``BAZAAR_API_KEY``) for access tokens (``bazaar_core.client_auth``) for the API and
the workers' status pages.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

from bazaar.up import running
from bazaar_core.client_auth import KeyAuth, api_url
from bazaar_core.kafka.config import consumer_config
from bazaar_core.loadgen import catalog as demo_catalog
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from bazaar_core.loadgen.generator import Product as GenProduct
from bazaar_core.settings import Settings, get_settings
from domain import tokens
from domain.quantities import milli_str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--events-per-store", type=int, default=300, help="events per store in the simulated day")
    parser.add_argument("--rate", type=float, default=400.0, help="events posted per second")
    parser.add_argument("--batch", type=int, default=50, help="events per POST")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--exit-when-done", action="store_true", help="stop the stack once the day is applied and checked")


class Lag:
    """Events on the topic not yet applied by the workers (high watermarks minus applied offsets)."""

    def __init__(self, settings: Settings, auth: httpx.Auth | None) -> None:
        self.settings = settings
        self.consumer = Consumer(consumer_config(settings, f"{settings.group_id}-demo-lag", polled=False))  # watermarks only
        self.http = httpx.Client(timeout=2, auth=auth)  # a worker's /status wants ops:read

    def total(self) -> int | None:
        applied: dict[int, int] = {}
        for url in self.settings.worker_urls:
            try:
                for p, o in self.http.get(f"{url}/status").json()["applied"].items():
                    applied[int(p)] = max(o, applied.get(int(p), -1))
            except (httpx.HTTPError, ValueError, KeyError):
                return None
        lag = 0
        for p in range(self.settings.partitions):
            low, high = self.consumer.get_watermark_offsets(TopicPartition(self.settings.events_topic, p), timeout=2)
            lag += max(0, high - 1 - applied.get(p, low - 1))
        return lag


class Display:
    def __init__(self, stores: list[str]) -> None:
        self.stores = stores
        self.tty = sys.stdout.isatty()
        self.last = 0.0

    def show(self, sent: int, total: int, rate: float, lag: int | None, stock: dict[str, list[dict]], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < (1.0 if self.tty else 5.0):
            return
        self.last = now
        lines = [
            f"posted {sent}/{total} events  {rate:7.0f} events/s  lag {'?' if lag is None else lag} events",
        ]
        for store in self.stores:
            items = stock.get(store, [])
            cells = "  ".join(f"{i['sku']}={i['on_hand']}{'!' if i['negative'] else ''}" for i in items[:5])
            lines.append(f"  {store}: {cells or '(no stock yet)'}")
        if self.tty:
            sys.stdout.write("\x1b[2J\x1b[H" + "bazaar demo (Ctrl-C to stop)\n" + "\n".join(lines) + "\n")
        else:
            sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    products, stores = demo_catalog.products(), demo_catalog.stores(args.stores)
    sold = [GenProduct(p.sku, p.unit == "kg", _cents(p.price), _cents(p.cost), p.supplier) for p in products]
    gen = Generator(
        GenConfig(
            stores=len(stores),
            store_ids=[s.store_id for s in stores],
            catalog=sold,
            events_per_store_day=args.events_per_store,
            seed=args.seed,
        )
    )
    say(f"generating a day of traffic for {len(stores)} stores and {len(products)} products (seed {args.seed})")
    bodies = [wire_body(b) for b in gen.events()]
    try:
        with running(settings) as stack:
            api = httpx.Client(base_url=api_url(stack.settings), timeout=30, auth=KeyAuth.of(stack.settings))
            _seed_catalog(api, stack.settings, products, stores)
            return _drive(args, stack.settings, api, bodies, gen, stack, stores)
    except KeyboardInterrupt:
        return 0


def _cents(money) -> int:
    return int(money * 100)


def _seed_catalog(api: httpx.Client, settings: Settings, products: list, stores: list) -> None:
    """Register the stores and products through the API, as an owner would, and wait until every
    worker's catalog cache has them (an event applied before that raises no low-stock alert)."""
    for store in stores:
        _put(api, f"/v1/stores/{store.store_id}", store.model_dump(mode="json"))
    for product in products:
        _put(api, f"/v1/products/{product.sku}", product.model_dump(mode="json"))
    deadline = time.monotonic() + 60
    for url in settings.worker_urls:
        while True:
            try:
                catalog = api.get(f"{url}/status", timeout=2).json()["catalog"]
                if catalog["products"] >= len(products) and catalog["stores"] >= len(stores):
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker at {url} did not load the catalog within 60 s")
            time.sleep(0.2)
    say(f"registered {len(stores)} stores and {len(products)} products (English and Urdu names, packs, costs, reorder points)")


def _put(api: httpx.Client, path: str, body: dict) -> None:
    for _ in range(30):
        resp = api.put(path, json=body)
        if resp.status_code in (200, 201):
            return
        if resp.status_code != 503:
            raise RuntimeError(f"PUT {path} answered {resp.status_code}: {resp.text[:300]}")
        time.sleep(1)
    raise RuntimeError(f"PUT {path} kept answering 503")


def _drive(args, settings: Settings, api: httpx.Client, bodies: list[dict], gen: Generator, stack, stores: list) -> int:
    watched = gen.stores[:3]
    display, lag = Display(watched), Lag(settings, api.auth if settings.auth_required else None)
    offsets: dict[int, int] = {}
    started, sent = time.monotonic(), 0
    stock: dict[str, list[dict]] = {}
    while sent < len(bodies):
        due = int((time.monotonic() - started) * args.rate)
        while sent < min(due, len(bodies)):
            chunk = bodies[sent : sent + args.batch]
            resp = api.post("/v1/events", json={"events": chunk})
            if resp.status_code != 202:
                say(f"POST answered {resp.status_code}: {resp.text[:200]}; retrying")
                time.sleep(1)
                continue
            for p, o in tokens.decode(resp.json()["token"]).items():
                tokens.merge(offsets, p, o)
            sent += len(chunk)
        stock = _peek(api, watched)
        display.show(sent, len(bodies), sent / max(1e-9, time.monotonic() - started), lag.total(), stock)
        stack.watch()
        time.sleep(0.05)
    posted_s = time.monotonic() - started
    mismatches = _check(api, gen, tokens.encode(offsets))
    display.show(sent, len(bodies), sent / max(1e-9, posted_s), lag.total(), _peek(api, watched), force=True)
    # the live panel stops here: nothing redraws over the verdict from now on
    print(summary(sent, gen, posted_s, mismatches, settings, stores[0]), flush=True)
    if mismatches:
        return 1
    if args.exit_when_done:
        return 0
    say("the stack keeps serving until Ctrl-C")
    while True:
        stack.watch()
        time.sleep(1)


def summary(sent: int, gen: Generator, posted_s: float, mismatches: list[tuple], settings: Settings, store) -> str:
    """The demo's last words: what was done, the verdict, and where to look next."""
    base = f"http://{settings.api_host}:{settings.api_port}"
    checked = len(gen.expected())
    rule = "=" * 72
    lines = [
        "",
        rule,
        "bazaar demo: summary",
        f"  events posted      {sent:,} ({gen.unique:,} distinct; the rest are terminals' re-sends) in {posted_s:.1f} s",
        f"  stores / products  {len(gen.stores)} / {len(gen.products)}",
        f"  stocks checked     {checked:,} (store, sku) pairs against the generator's own totals",
    ]
    if mismatches:
        lines.append(f"  VERDICT            MISMATCH in {len(mismatches)} of them, e.g.:")
        lines += [f"                       {store_id} {sku}: expected {want}, got {got}" for store_id, sku, want, got in mismatches[:5]]
        lines.append("  where to look      the logs under the data directory's logs/, and `bazaar dlq list`")
    else:
        lines.append(f"  VERDICT            exact: all {checked:,} (store, sku) stocks equal the generator's expected totals")
    lines += [
        "next:",
        f"  dashboard          {base}/?store={store.store_id}   ({store.name})",
        f"  counter            {base}/counter?store={store.store_id}",
        f"  a report           ./bazaar.sh report daily_sales --store {store.store_id}",
        f'  stock over HTTP    curl -H "Authorization: Bearer $(./bazaar.sh auth token)" {base}/v1/stores/{store.store_id}/stock',
        rule,
    ]
    return "\n".join(lines)


def say(message: str) -> None:
    print(f"bazaar demo: {message}", flush=True)


def _peek(api: httpx.Client, stores: list[str]) -> dict[str, list[dict]]:
    out = {}
    for store in stores:
        try:
            resp = api.get(f"/v1/stores/{store}/stock", params={"limit": 5, "timeout_ms": 200})
            if resp.status_code == 200:
                out[store] = resp.json()["items"]
        except httpx.HTTPError:
            pass
    return out


def _check(api: httpx.Client, gen: Generator, token: str) -> list[tuple]:
    wrong = []
    by_store: dict[str, dict[str, str]] = {}
    for key, milli in gen.expected().items():
        store, sku = key.split("|")
        by_store.setdefault(store, {})[sku] = milli_str(milli)
    for store, want in by_store.items():
        got, cursor = {}, None
        while True:
            params: dict[str, Any] = {"after": token, "timeout_ms": 30000, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = api.get(f"/v1/stores/{store}/stock", params=params).json()
            got.update({i["sku"]: i["on_hand"] for i in page["items"]})
            cursor = page.get("next_cursor")
            if not cursor:
                break
        wrong += [(store, sku, want.get(sku), got.get(sku)) for sku in set(want) | set(got) if want.get(sku) != got.get(sku)]
    return wrong
