"""What one ``POST /v1/events`` costs the API process, measured in process.

The whole ASGI app as ``bazaar api`` serves it (security headers, the guard, gzip-for-reads,
the views' readiness, FastAPI's routing, the route with a real access token through the real
``Authenticator``, validation, the catalog check, the wire bytes, the answer) is called directly
with POSTs of 1, 10, 100 and 500 events from the load generator (the stores' opening counts left
out: they are heavier than the day after them). What uvicorn and the socket add is not in it
(profile a running ``bazaar api`` for that).

* By default the producer acks every message at once, so the figure is the Python path alone.
* ``--kafka HOST:PORT``: the API's own ``EventProducer`` against that broker (its events topic
  made if missing); librdkafka's threads then count too (CPU is the process's).
* ``--profile B``: a cProfile of B-event POSTs, the top functions by own and by cumulative time.

CPU µs per request and per event, the median of ``--rounds`` rounds (each ``--seconds`` long
per batch size, the sizes in turn), and the load average at the start and the end. The figures
are for comparing commits on one host within minutes; ``python -m bench.ingest_profile``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from api.authn import Authenticator
from api.main import create_app
from api.producer import DeliveryResult, EventProducer
from api.services import Services
from bazaar_core import gcwatch
from bazaar_core.auth import keys, tokens
from bazaar_core.auth.keys import KeyRing
from bazaar_core.kafka.writer import Written
from bazaar_core.loadgen.generator import GenConfig, Generator
from bazaar_core.settings import Settings
from domain.access import ALL_STORES, Role

BATCHES = (1, 10, 100, 500)
STORES = 250


class AckingProducer:
    """Acks every message at once (partition 0, the next offset): the producer's share left out."""

    is_down = False

    def __init__(self) -> None:
        self.offsets = itertools.count()

    async def check(self) -> bool:
        return True

    async def send_many(self, items, timeout: float) -> list[DeliveryResult]:
        return [Written(0, next(self.offsets)) for _ in items]


def bodies(count: int, seed: int = 7) -> list[dict]:
    gen = Generator(GenConfig(stores=STORES, events_per_store_day=max(1, count // STORES + 1), seed=seed))
    out = [b for b in gen.events() if not (b["type"] == "count" and len(b["lines"]) > 20)]
    return out[:count]


def payloads(events: list[dict], batch: int) -> list[bytes]:
    if batch == 1:
        return [orjson.dumps(e) for e in events]
    return [orjson.dumps({"events": events[i : i + batch]}) for i in range(0, len(events) - batch + 1, batch)]


class Harness:
    def __init__(self, root: Path, kafka: str | None) -> None:
        self.settings = Settings(
            data_dir=root,
            kafka_bootstrap=kafka or "127.0.0.1:1",
            topic_prefix=f"ingest-profile-{os.getpid()}" if kafka else "bazaar",
            rate_limits={"admin": (1_000_000.0, 1_000_000)},
        )
        keys.ensure(self.settings.auth_path / "signing", keep_s=86_400)
        ring = KeyRing(self.settings.auth_path / "signing")
        ring.load()
        self.app = create_app(self.settings)
        services = Services.create(self.settings)
        for follower in services.followers.values():  # no Kafka consumers: the views are empty and ready
            follower._ready.set()
        self.producer: AckingProducer | EventProducer
        if kafka:
            from bazaar_core.kafka.admin import ensure_topics
            from bazaar_core.kafka.topics import topic_configs

            topic = self.settings.events_topic
            ensure_topics(self.settings, {topic: self.settings.partitions}, {topic: topic_configs(self.settings).get(topic, {})})
            self.producer = EventProducer(self.settings)
            self.producer.start()
            if not self.producer.probe():
                raise SystemExit(f"no broker answers at {kafka}")
        else:
            self.producer = AckingProducer()
        gcwatch.tune()  # as the API's lifespan does
        state = self.app.state
        state.services, state.producer = services, self.producer
        state.auth = Authenticator(self.settings, services.auth, ring)
        token, _ = tokens.issue(
            ring,
            sub="a00000000001",
            name="ingest profile",
            role=Role.ADMIN.value,
            stores=ALL_STORES,
            issuer=self.settings.auth_issuer,
            audience=self.settings.auth_audience,
            ttl_s=86_400,
        )
        self.headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"ingest-profile"),
            (b"accept", b"*/*"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ]

    def close(self) -> None:
        if isinstance(self.producer, EventProducer):
            self.producer.close()

    async def post(self, body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/events",
            "raw_path": b"/v1/events",
            "query_string": b"",
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        status = 0

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


async def cell(h: Harness, work: list[bytes], seconds: float) -> tuple[float, int]:
    """CPU seconds and requests over about ``seconds`` of back-to-back POSTs."""
    done = 0
    wall = time.perf_counter()
    cpu = time.process_time()
    for body in itertools.cycle(work):
        status = await h.post(body)
        if status != 202:
            raise SystemExit(f"POST answered {status}")
        done += 1
        if done % 8 == 0 and time.perf_counter() - wall >= seconds:
            break
    return time.process_time() - cpu, done


async def measure(h: Harness, batches: tuple[int, ...], rounds: int, seconds: float) -> dict:
    events = bodies(max(batches) * 40)
    work = {b: payloads(events, b) for b in batches}
    for b in batches:  # warm: caches, the token, first-call paths
        await cell(h, work[b], 0.3)
    samples: dict[int, list[float]] = {b: [] for b in batches}
    for _ in range(rounds):
        for b in batches:
            cpu, n = await cell(h, work[b], seconds)
            samples[b].append(cpu / n * 1e6)
    out = {}
    for b in batches:
        per_request = statistics.median(samples[b])
        out[str(b)] = {
            "us_per_request": round(per_request, 1),
            "us_per_event": round(per_request / b, 2),
            "spread_us_per_request": [round(min(samples[b]), 1), round(max(samples[b]), 1)],
        }
    return out


async def profile(h: Harness, batch: int, seconds: float, top: int) -> str:
    work = payloads(bodies(batch * 40), batch)
    await cell(h, work, 0.3)
    prof = cProfile.Profile()
    prof.enable()
    cpu, n = await cell(h, work, seconds)
    prof.disable()
    text = io.StringIO()
    text.write(f"{n} POSTs of {batch} events, {cpu / n * 1e6:.1f} µs CPU each under the profiler\n")
    stats = pstats.Stats(prof, stream=text)
    for key in ("tottime", "cumulative"):
        stats.sort_stats(key).print_stats(top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per batch size and round")
    parser.add_argument("--kafka", default=None, help="a broker's bootstrap address: the real producer")
    parser.add_argument("--profile", type=int, default=None, help="cProfile POSTs of this many events instead")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--out", default=None, help="write the figures (JSON) here too")
    args = parser.parse_args()
    batches = tuple(int(b) for b in args.batches.split(","))
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ingest-profile-") as root:
        h = Harness(Path(root), args.kafka)
        try:
            if args.profile:
                print(asyncio.run(profile(h, args.profile, args.seconds * args.rounds, args.top)))
                return
            figures = asyncio.run(measure(h, batches, args.rounds, args.seconds))
        finally:
            h.close()
    result = {
        "bench": "ingest_profile",
        "producer": "kafka" if args.kafka else "acks at once",
        "rounds": args.rounds,
        "seconds_per_cell": args.seconds,
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        "cells": figures,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
