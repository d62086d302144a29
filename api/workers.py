"""Client of the stream workers' stock pages, with failover.

Any worker answers for any store (it forwards to the owner), so the API tries ``worker_urls`` in
order: a connection error, a 503 (rebalance) or another 5xx moves on to the next worker, and after a
full round it backs off briefly and starts again, until the client's ``timeout_ms`` is spent. Any
other answer (200, 404, 504 not caught up, 4xx) is passed through as it is, but 401 and 403: the
workers are asked with the API's own service token (``bazaar_core.page_access``; the caller's
access was checked by the route), so a refusal there is the deployment's fault (a worker without
the signing keys), a worker that cannot answer, never the caller's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from api.errors import ApiError, issue
from api.http import HttpGet, Unreachable
from domain import tokens

RETRY_ON = frozenset({500, 502, 503})
REFUSED = frozenset({401, 403})  # the API's service token refused: the worker cannot answer
GRACE_S = 1.0  # on top of wait_ms: time for a worker to answer 504 after waiting


@dataclass(frozen=True, slots=True)
class WorkerAnswer:
    status: int
    body: bytes


def unavailable(reason: str) -> ApiError:
    return ApiError(503, "worker_unavailable", [issue(None, reason)], headers={"Retry-After": "1"})


class WorkerClient:
    def __init__(self, get: HttpGet, urls: list[str], *, backoff_s: float = 0.05, max_backoff_s: float = 0.5):
        if not urls:
            raise ValueError("no worker urls configured")
        self.http_get = get
        self.urls = [u.rstrip("/") for u in urls]
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s

    async def get(self, path: str, params: dict[str, str], timeout_ms: int) -> WorkerAnswer:
        """GET ``path`` from the first worker that answers; ``wait_ms`` is what is left of the timeout."""
        deadline = time.monotonic() + timeout_ms / 1000
        backoff, last = self.backoff_s, "no worker answered"
        while True:
            for base in self.urls:
                left = max(0.0, deadline - time.monotonic())
                try:
                    r = await self.http_get(base + path, {**params, "wait_ms": str(int(left * 1000))}, left + GRACE_S)
                except Unreachable as exc:
                    last = f"{base}: {exc}"
                    continue
                if r.status in REFUSED:
                    last = f"{base}: refused the API's service token (HTTP {r.status}: {r.body[:200].decode('utf-8', 'replace')})"
                    continue
                if r.status not in RETRY_ON:
                    return WorkerAnswer(r.status, r.body)
                last = f"{base}: HTTP {r.status}"
            if time.monotonic() + backoff >= deadline:
                raise unavailable(f"no stream worker could answer within {timeout_ms} ms (last: {last})")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)


def lookup_params(after: str | None, **query: object) -> dict[str, str]:
    """Query string for a worker: the token re-encoded (400 ``invalid_token`` when bad), Nones dropped."""
    params = {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in query.items() if v is not None}
    if after is not None:
        try:
            params["after"] = tokens.encode(tokens.decode(after))
        except tokens.BadToken as exc:
            raise ApiError(400, "invalid_token", [issue("after", str(exc))]) from None
    return params
