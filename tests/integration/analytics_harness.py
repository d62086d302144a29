"""The analytics process (``bazaar analytics``) next to a ``Running`` stack, for tests."""

from __future__ import annotations

import time

import httpx

from bazaar_core.supervisor import Child
from tests.integration.harness import Running


class Analytics:
    """``bazaar analytics`` as a subprocess sharing the stack's settings (and its chDB directory)."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.url = running.settings.analytics_base_url
        self.http = httpx.Client(base_url=self.url, timeout=60, auth=running.auth)  # the stack's admin token
        self.child: Child | None = None

    def start(self) -> Analytics:
        self.child = Child.bazaar("analytics", ["analytics"], self.running.env, self.running.log_dir, f"{self.url}/health")
        self.child.start()
        self.child.wait_healthy(timeout=120)
        return self

    def kill(self) -> None:
        self.child.kill()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    def status(self) -> dict:
        resp = self.http.get("/status")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def metric(self, name: str, table: str = "ledger", **labels: str) -> float:
        selector = ",".join(f'{k}="{v}"' for k, v in sorted({"table": table, **labels}.items()))  # as exposed
        for line in self.http.get("/metrics").text.splitlines():
            if line.startswith(f"{name}{{{selector}}}"):
                return float(line.split()[-1])
        return 0.0

    def health(self) -> dict:
        resp = self.http.get("/health")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def probe(self, page: str) -> tuple[int, dict]:
        """(status, body) of a probe page (``/ready``, ``/livez``), asked without a token as Kubernetes does."""
        resp = httpx.get(f"{self.url}{page}", timeout=10)
        return resp.status_code, resp.json()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``/ready`` says caught up."""
        deadline, last = time.monotonic() + timeout, None
        while (last := self.probe("/ready"))[0] != 200:
            assert time.monotonic() < deadline, f"analytics not ready within {timeout:.0f} s: {last}\n{self.log_tail()}"
            time.sleep(0.2)

    def wait_rows(self, distinct: int, timeout: float = 60.0) -> dict:
        """Until the ledger holds ``distinct`` (store, sku, event) rows and nothing is pending."""
        deadline, last = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            last = self.status()
            if last["ledger"]["distinct"] >= distinct and last["feeds"]["ledger"]["pending"] == 0:
                return last
            time.sleep(0.3)
        raise AssertionError(f"analytics did not reach {distinct} distinct ledger rows in {timeout:.0f} s: {last}\n{self.log_tail()}")

    def report(self, name: str, **params) -> dict:
        resp = self.http.get(f"/reports/{name}", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def log_tail(self) -> str:
        from bazaar_core.supervisor import tail

        return tail(self.child.log_path, 40) if self.child else ""

    def close(self) -> None:
        self.http.close()
        self.stop()
