"""`bazaar demo`: `bazaar up` plus a simulated day of POS traffic, with a live display.

The traffic comes from the seeded load generator in bench/ (the same one the benchmarks use).
When the day is posted and applied, the demo checks every stock against the generator's own
expected totals, then keeps the stack up until Ctrl-C (or exits, with --exit-when-done).
"""
from __future__ import annotations

import argparse
import sys
import time

import httpx
from confluent_kafka import Consumer, TopicPartition

from bazaar.settings import Settings, get_settings
from bazaar.up import running, say
from bench.generator import GenConfig, Generator, wire_body
from domain import tokens
from domain.quantities import milli_str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--events-per-store", type=int, default=300, help="events per store in the simulated day")
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--rate", type=float, default=400.0, help="events posted per second")
    parser.add_argument("--batch", type=int, default=50, help="events per POST")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--exit-when-done", action="store_true", help="stop the stack once the day is applied and checked")


class Lag:
    """Events on the topic not yet applied by the workers (high watermarks minus applied offsets)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.group_id}-demo-lag"})
        self.http = httpx.Client(timeout=2)

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
    gen = Generator(GenConfig(stores=args.stores, events_per_store_day=args.events_per_store, skus=args.skus, seed=args.seed))
    say(f"generating a day of traffic for {args.stores} stores (seed {args.seed})")
    bodies = [wire_body(b) for b in gen.events()]
    try:
        with running(settings) as stack:
            api = httpx.Client(base_url=f"http://{settings.api_host}:{settings.api_port}", timeout=30)
            return _drive(args, stack.settings, api, bodies, gen, stack)
    except KeyboardInterrupt:
        return 0


def _drive(args, settings: Settings, api: httpx.Client, bodies: list[dict], gen: Generator, stack) -> int:
    watched = gen.stores[:3]
    display, lag = Display(watched), Lag(settings)
    offsets: dict[int, int] = {}
    started, sent = time.monotonic(), 0
    stock: dict[str, list[dict]] = {}
    while sent < len(bodies):
        due = int((time.monotonic() - started) * args.rate)
        while sent < min(due, len(bodies)):
            chunk = bodies[sent:sent + args.batch]
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
    say(f"posted {sent} events in {time.monotonic() - started:.1f} s; checking every stock against the generator")
    mismatches = _check(api, gen, tokens.encode(offsets))
    display.show(sent, len(bodies), sent / max(1e-9, time.monotonic() - started), lag.total(), _peek(api, watched), force=True)
    if mismatches:
        say(f"MISMATCH in {len(mismatches)} keys, e.g. {mismatches[:3]}")
        return 1
    say(f"exact: all {len(gen.expected())} (store, sku) stocks equal the generator's expected totals")
    if args.exit_when_done:
        return 0
    say(f"the stack stays up: try curl http://{settings.api_host}:{settings.api_port}/v1/stores/{watched[0]}/stock ; Ctrl-C to stop")
    while True:
        display.show(sent, len(bodies), 0.0, lag.total(), _peek(api, watched))
        stack.watch()
        time.sleep(1)


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
            params = {"after": token, "timeout_ms": 30000, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = api.get(f"/v1/stores/{store}/stock", params=params).json()
            got.update({i["sku"]: i["on_hand"] for i in page["items"]})
            cursor = page.get("next_cursor")
            if not cursor:
                break
        wrong += [(store, sku, want.get(sku), got.get(sku)) for sku in set(want) | set(got) if want.get(sku) != got.get(sku)]
    return wrong
