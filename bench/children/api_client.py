"""HTTP load for the API, in its own process (aiohttp, one event loop).

Phases (a JSON list), run in order over consecutive slices of the bodies file:

* ``{"kind": "ingest", "batch": B, "concurrency": C, "count": N}``: N events posted B per POST
  (B = 1: the event object itself) by C concurrent clients, as fast as the API answers;
* ``{"kind": "e2e", "rate": R, "seconds": S, "batch": B, "lookups_per_s": L}`` (or ``"count": N``
  instead of S: N events at R events/s): an open-loop steady load of R events/s (POSTs start on
  schedule whether or not earlier ones answered); after about L POSTs a second, the stock of the
  POST's first line is looked up with its token (``after=TOKEN``) and the time from the POST's start
  to that answer is recorded, split into the POST (start -> 202) and the rest (202 -> the lookup's
  answer). A lookup answered 504 (not applied within its ``timeout_ms``) or 503 (no worker answered
  in time) counts as timed out. The step's first and last scheduled POST are given as wall-clock
  times (``offer_started_at``, ``offer_ended_at``), for the parent to line up what it sampled.

Every POST must be accepted (202); a 503 is retried (re-sending is always safe), anything else
fails the run.

``BAZAAR_API_KEY`` (the environment, not the command line that any process may read): the client
authenticates like any other: the key exchanged at ``POST
/v1/auth/token`` once, the token sent with every request, exchanged again on a 401 (expired or
revoked) and shortly before it expires. Without it nothing is sent (an API with auth off).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import aiohttp
import orjson

from bazaar_core.client_auth import API_KEY_ENV
from bench.procs import child_main, progress

JSON = {"Content-Type": "application/json"}
RENEW_LEFT_S = 60.0  # exchange the key again when the token has less than this left
LOOKUP_TIMEOUT_MS = 30_000
MAX_ATTEMPTS = 50


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ms(values: list[float]) -> dict:
    return {"p50_ms": _r(pct(values, 0.50)), "p99_ms": _r(pct(values, 0.99)), "max_ms": _r(max(values) if values else None)}


def ms_tail(values: list[float]) -> dict:
    """``ms`` and p99.9 (with fewer than 1,000 values that is the maximum, or close to it)."""
    return {**ms(values), "p999_ms": _r(pct(values, 0.999))}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


class Token:
    """The access token of an API key, from the API's token route (none without a key)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str | None) -> None:
        self.session, self.url, self.key = session, url, key
        self.headers: dict[str, str] = dict(JSON)
        self.renew_at = 0.0
        self.exchanges = 0
        self._lock = asyncio.Lock()  # one exchange at a time: concurrent clients share its token

    async def fresh(self) -> dict[str, str]:
        if self.key is not None and time.monotonic() >= self.renew_at:
            async with self._lock:
                if time.monotonic() >= self.renew_at:  # (another client may have just renewed it)
                    await self.renew()
        return self.headers

    async def renew(self) -> None:
        async with self.session.post(f"{self.url}/v1/auth/token", json={"api_key": self.key}) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"POST /v1/auth/token answered {resp.status}: {body[:300]!r}")
        answer = orjson.loads(body)
        self.headers = {**JSON, "Authorization": f"Bearer {answer['access_token']}"}
        self.renew_at = time.monotonic() + max(0.0, answer["expires_in"] - RENEW_LEFT_S)
        self.exchanges += 1


class Poster:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: Token) -> None:
        self.session, self.url, self.token = session, url, token
        self.posted = 0
        self.retries = 0
        self.transport_errors = 0
        self._shown = 0.0

    async def post(self, payload: bytes, events: int) -> dict:
        """POST until accepted: a 503 or a dropped connection (e.g. a keep-alive connection the server
        closed just as it was reused) is retried, which is always safe (event ids dedupe); a 401 after
        the token is exchanged again."""
        for _attempt in range(MAX_ATTEMPTS):
            try:
                headers = await self.token.fresh()
                async with self.session.post(f"{self.url}/v1/events", data=payload, headers=headers) as resp:
                    body = await resp.read()
                    if resp.status == 401 and self.token.key is not None:
                        self.token.renew_at = 0.0  # the next fresh() exchanges the key again
                        continue
                    if resp.status == 202:
                        self.posted += events
                        if time.monotonic() - self._shown > 0.5:
                            self._shown = time.monotonic()
                            progress(self.posted)
                        return orjson.loads(body)
                    if resp.status != 503:
                        raise RuntimeError(f"POST answered {resp.status}: {body[:300]!r}")
                    self.retries += 1
            except aiohttp.ClientError:
                self.transport_errors += 1
            await asyncio.sleep(0.2)
        raise RuntimeError(f"POST not accepted after {MAX_ATTEMPTS} attempts")


def payloads(bodies: list[dict], batch: int) -> list[tuple[bytes, int, dict]]:
    if batch == 1:
        return [(orjson.dumps(b), 1, b) for b in bodies]
    return [(orjson.dumps({"events": bodies[i : i + batch]}), len(bodies[i : i + batch]), bodies[i]) for i in range(0, len(bodies), batch)]


async def ingest(poster: Poster, bodies: list[dict], batch: int, concurrency: int) -> dict:
    work = payloads(bodies, batch)
    latencies: list[float] = []
    next_index = 0

    async def client() -> None:
        nonlocal next_index
        while next_index < len(work):
            payload, n, _ = work[next_index]
            next_index += 1
            started = time.perf_counter()
            await poster.post(payload, n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "kind": "ingest",
        "batch": batch,
        "concurrency": concurrency,
        "events": len(bodies),
        "requests": len(work),
        "seconds": round(elapsed, 3),
        "events_per_s": round(len(bodies) / elapsed, 1),
        "requests_per_s": round(len(work) / elapsed, 1),
        **ms(latencies),
    }


async def e2e(
    poster: Poster, session: aiohttp.ClientSession, url: str, bodies: list[dict], rate: float, batch: int, lookups_per_s: float
) -> dict:
    work = payloads(bodies, batch)
    interval = batch / rate
    sample_every = max(1, round(rate / batch / lookups_per_s))
    post_latency: list[float] = []
    visible: list[float] = []
    sampled_post: list[float] = []  # of the sampled POSTs: start -> 202, and 202 -> the lookup showing the change
    after_post: list[float] = []
    timeline: list[list[float]] = []  # [seconds into the step at the POST, ms to visible]: does latency grow?
    timeouts = 0
    last_accepted = [0.0]

    async def one(index: int, payload: bytes, n: int, first: dict) -> None:
        nonlocal timeouts
        started = time.perf_counter()
        answer = await poster.post(payload, n)
        accepted = time.perf_counter()
        post_latency.append(accepted - started)
        last_accepted[0] = max(last_accepted[0], accepted)
        if index % sample_every:
            return
        store = first["store_id"]
        sku = first["lines"][0]["sku"]
        params = {"after": answer["token"], "timeout_ms": str(LOOKUP_TIMEOUT_MS)}
        for _attempt in range(MAX_ATTEMPTS):
            try:
                async with session.get(f"{url}/v1/stores/{store}/stock/{sku}", params=params, headers=await poster.token.fresh()) as resp:
                    await resp.read()
                    if resp.status == 200:
                        visible.append(time.perf_counter() - started)
                        sampled_post.append(accepted - started)
                        after_post.append(visible[-1] - sampled_post[-1])
                        timeline.append([round(started - step_started, 3), round(visible[-1] * 1000, 1)])
                    elif resp.status in (503, 504):  # not applied (504), or no worker answered (503), in time
                        timeouts += 1
                    else:
                        raise RuntimeError(f"lookup answered {resp.status}")
                    return
            except aiohttp.ClientError:
                poster.transport_errors += 1
                await asyncio.sleep(0.2)
        raise RuntimeError(f"lookup failed {MAX_ATTEMPTS} times")

    tasks = []
    started = step_started = time.perf_counter()
    offer_started_at = time.time()
    for index, (payload, n, first) in enumerate(work):
        delay = started + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, payload, n, first)))
    offered_s = time.perf_counter() - started
    offer_ended_at = time.time()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {
        "kind": "e2e",
        "offered_events_per_s": rate,
        "batch": batch,
        "events": len(bodies),
        "offered_seconds": round(offered_s, 3),
        "offer_started_at": offer_started_at,
        "offer_ended_at": offer_ended_at,
        "seconds": round(elapsed, 3),
        "achieved_events_per_s": round(len(bodies) / (last_accepted[0] - started), 1),
        "sample_every": sample_every,
        "samples": len(visible) + timeouts,
        "timeouts": timeouts,
        "lookup_timeout_ms": LOOKUP_TIMEOUT_MS,
        # percentiles over every sample, a timed-out lookup counted as the timeout (a lower bound)
        **ms_tail(visible + [LOOKUP_TIMEOUT_MS / 1000] * timeouts),
        "answered": {"samples": len(visible), **ms(visible)},
        "post": ms(post_latency),
        # where the time of an answered sample goes: the POST (API, producer linger, broker ack), then
        # the rest (the worker's fetch, its batch and outputs' acks, the lookup through the API)
        "sampled_post": ms(sampled_post),
        "after_post": ms(after_post),
        "timeline": sorted(timeline),
    }


async def main(args: argparse.Namespace) -> dict:
    bodies = orjson.loads(open(args.bodies, "rb").read())
    phases = orjson.loads(args.phases)
    out = []
    at = args.start
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        poster = Poster(session, args.url, Token(session, args.url, os.environ.get(API_KEY_ENV) or None))
        for phase in phases:
            n = phase.get("count") or round(phase["rate"] * phase["seconds"])
            chunk = bodies[at : at + n]
            at += n
            if phase["kind"] == "ingest":
                out.append(await ingest(poster, chunk, phase["batch"], phase["concurrency"]))
            else:
                out.append(await e2e(poster, session, args.url, chunk, phase["rate"], phase["batch"], phase["lookups_per_s"]))
            progress(poster.posted)
    return {"phases": out, "posted": poster.posted, "retries": poster.retries, "transport_errors": poster.transport_errors, "next": at}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--phases", required=True)
    child_main(lambda args: asyncio.run(main(args)), parser)
