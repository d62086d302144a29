"""POS terminals that never give up on an event: each batch is posted until an API replica answers
202, with the same event ids every time (the pipeline counts a re-sent event once), failing over to
the next replica on a refused connection, a timeout or a 5xx. What the clients saw is kept as
figures (``Delivery``): batches and events acknowledged, 503s, other failures, retries, the longest
wait for one batch, and the read-your-writes token of everything acknowledged.

Used by the cluster and fault tests (``bazaar chaos`` by hand): the acknowledged events are what every
stock is then compared with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from domain import tokens


@dataclass
class Delivery:
    """What the clients saw while posting."""

    batches: int = 0
    acked_events: int = 0
    unavailable: int = 0  # 503 answers (the broker not acknowledging in time, overload)
    failed: int = 0  # refused connections, timeouts, other non-202 answers
    retries: int = 0  # posts of a batch after its first
    longest_s: float = 0.0  # the longest a batch took from its first post to its 202
    acked_ids: set[str] = field(default_factory=set)
    offsets: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def token(self) -> str:
        """A read-your-writes token covering every acknowledged event."""
        with self._lock:
            return tokens.encode(self.offsets)

    def figures(self) -> dict[str, float | int]:
        return {
            "batches": self.batches,
            "events_acked": self.acked_events,
            "http_503": self.unavailable,
            "other_failures": self.failed,
            "retries": self.retries,
            "longest_batch_s": round(self.longest_s, 2),
        }


class RetryingClient:
    """Posts batches of events to the API replicas at ``api_urls`` (round robin, failing over),
    retrying each batch until it is acknowledged or ``give_up_s`` has passed."""

    def __init__(self, api_urls: list[str], auth: httpx.Auth | None, *, timeout_s: float = 15.0, give_up_s: float = 120.0) -> None:
        self.api_urls = api_urls
        self.give_up_s = give_up_s
        self.http = httpx.Client(timeout=timeout_s, auth=auth)
        self.delivery = Delivery()
        self._next = 0

    def post(self, events: list[dict]) -> None:
        """Post one batch until a replica answers 202 (raises ``TimeoutError`` after ``give_up_s``)."""
        started = time.monotonic()
        attempt = 0
        while True:
            url = self.api_urls[(self._next + attempt) % len(self.api_urls)]
            if attempt:
                self.delivery.retries += 1
            attempt += 1
            try:
                resp = self.http.post(f"{url}/v1/events", json={"events": events})
            except httpx.HTTPError:
                self.delivery.failed += 1
            else:
                if resp.status_code == 202:
                    self._acked(events, resp.json()["token"], time.monotonic() - started)
                    self._next += 1
                    return
                if resp.status_code == 503:
                    self.delivery.unavailable += 1
                else:
                    self.delivery.failed += 1
                if resp.status_code < 500 and resp.status_code not in (408, 429):
                    raise RuntimeError(f"POST /v1/events answered {resp.status_code}: {resp.text[:300]}")
            if time.monotonic() - started > self.give_up_s:
                raise TimeoutError(f"a batch of {len(events)} events not acknowledged after {self.give_up_s:.0f} s")
            time.sleep(min(2.0, 0.1 * 2 ** min(attempt, 5)))

    def post_all(self, bodies: Iterable[dict], batch: int = 25, pause_s: float = 0.0) -> None:
        chunk: list[dict] = []
        for body in bodies:
            chunk.append(body)
            if len(chunk) == batch:
                self.post(chunk)
                chunk = []
                if pause_s:
                    time.sleep(pause_s)
        if chunk:
            self.post(chunk)

    def _acked(self, events: list[dict], token: str, took_s: float) -> None:
        d = self.delivery
        with d._lock:
            d.batches += 1
            d.acked_events += len(events)
            d.acked_ids.update(e["event_id"] for e in events)
            d.longest_s = max(d.longest_s, took_s)
            for partition, offset in tokens.decode(token).items():
                tokens.merge(d.offsets, partition, offset)

    def close(self) -> None:
        self.http.close()
