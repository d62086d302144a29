"""Runs the real processes (stream workers, API) against the session's broker, for tests.

With ``auth_required`` (the default) the stack is set up as ``bazaar up`` does (``bazaar auth init``:
signing key, admin key) and ``Running.http`` authenticates like any client, with the admin key
(``KeyAuth``: one access token from the API serves the API, the workers' and the analytics ports).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from bazaar_core.client_auth import KeyAuth
from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from bazaar_core.supervisor import Child
from domain import tokens
from tests.authclient import admin_key


class Running:
    """Workers and an API as subprocesses, as in production; stopped by close()."""

    def __init__(self, settings: Settings, worker_ports: list[int]) -> None:
        self.settings = settings.model_copy(update={"worker_urls": [f"http://127.0.0.1:{p}" for p in worker_ports]})
        self.log_dir = Path(self.settings.data_dir) / "logs"
        self.env = {**os.environ, **self.settings.to_env()}
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
        self.admin_key = admin_key(self.settings) if self.settings.auth_required else None  # bazaar auth init, as `up` runs it
        self.auth = KeyAuth(self.api_url, self.admin_key) if self.admin_key else None
        self.workers = {p: self._worker(p) for p in worker_ports}
        self.api = Child.bazaar("api", ["api"], self.env, self.log_dir, f"{self.api_url}/health")
        self.offsets: dict[int, int] = {}
        self.http = httpx.Client(base_url=self.api_url, timeout=60, auth=self.auth)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    def _worker(self, port: int) -> Child:
        return Child.bazaar(f"worker-{port}", ["worker", "--port", str(port)], self.env, self.log_dir, f"http://127.0.0.1:{port}/health")

    def start(self, workers: list[int] | None = None) -> Running:
        """Start the API and the workers (all, or those on ``workers``' ports: ``start_worker`` the rest later)."""
        children = [child for port, child in self.workers.items() if workers is None or port in workers] + [self.api]
        for child in children:
            child.start()
        for child in children:
            child.wait_healthy(timeout=120)
        return self

    def start_worker(self, port: int) -> None:
        self.workers[port].start()
        self.workers[port].wait_healthy(timeout=120)

    def worker_metric(self, port: int, name: str) -> float:
        """The sum of a worker's series ``name`` (over all its labels) on its /metrics."""
        text = self.http.get(f"http://127.0.0.1:{port}/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.split("{", 1)[0].split(" ", 1)[0] == name)

    def applied_events(self, port: int) -> float:
        """Events a worker has applied so far (its ``bazaar_stream_events_total``)."""
        return self.worker_metric(port, "bazaar_stream_events_total")

    def wait_worker_catalog(self, products: int, stores: int, timeout: float = 30.0) -> None:
        """Until every worker's catalog cache (it follows the catalog topics) holds at least this much:
        an event applied before a worker knows its product's limits raises no alerts from them."""
        deadline = time.monotonic() + timeout
        for port in self.workers:
            while True:
                catalog = self.http.get(f"http://127.0.0.1:{port}/status").json()["catalog"]
                if catalog["products"] >= products and catalog["stores"] >= stores:
                    break
                assert time.monotonic() < deadline, f"worker {port}'s catalog cache never caught up: {catalog}"
                time.sleep(0.1)

    def restart_worker(self, port: int) -> None:
        self.workers[port] = self._worker(port)
        self.start_worker(port)

    def post(self, body) -> httpx.Response:
        resp = self.http.post("/v1/events", json=body)
        if resp.status_code == 202:
            for p, o in tokens.decode(resp.json()["token"]).items():
                tokens.merge(self.offsets, p, o)
        return resp

    @property
    def token(self) -> str:
        return tokens.encode(self.offsets)

    def stock(self, store: str, sku: str, **params) -> httpx.Response:
        return self.http.get(f"/v1/stores/{store}/stock/{sku}", params=params)

    def store_stock(self, store: str, timeout_ms: int = 30_000) -> dict[str, dict]:
        """Every sku of a store, following pagination; waits for everything posted so far."""
        items, cursor = {}, None
        while True:
            params = {"after": self.token, "timeout_ms": timeout_ms, "limit": 50}
            if cursor:
                params["cursor"] = cursor
            resp = self.http.get(f"/v1/stores/{store}/stock", params=params)
            assert resp.status_code == 200, resp.text
            page = resp.json()
            items.update({item["sku"]: item for item in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def print_workers(self, stores: list[str] = ()) -> None:
        """Each worker's assignment and applied offsets, and the token posted so far (for failure reports)."""
        for port in self.workers:
            try:
                health = self.http.get(f"http://127.0.0.1:{port}/health").json()
                applied = self.http.get(f"http://127.0.0.1:{port}/status").json().get("applied")
            except (httpx.HTTPError, ValueError) as exc:
                health, applied = repr(exc), None
            print(f"worker {port}: health {health}, applied {applied}")
        print(f"posted up to {self.offsets}")
        if stores:
            for port in self.workers:
                for store in stores:
                    r = self.http.get(f"http://127.0.0.1:{port}/stock/{store}", params={"after": self.token, "wait_ms": 200, "limit": 1})
                    print(f"worker {port} asked for {store}: {r.status_code} {r.text[:150]}")

    def close(self) -> None:
        self.http.close()
        for child in [self.api, *self.workers.values()]:
            child.stop()
