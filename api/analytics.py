"""Client of the analytics process (``bazaar analytics``), which owns the analytics database.

Report requests are passed through as they are (JSON or CSV, and its error answers); when the
process cannot be reached the API answers 503 ``analytics_unavailable``, as when it refuses the
API's service token (401, 403: ``bazaar_core.page_access``; the caller's access was the route's).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import ApiError, issue
from api.http import HttpGet, Unreachable

TIMEOUT_S = 120.0  # a report over a large history may take a while


@dataclass(frozen=True, slots=True)
class AnalyticsAnswer:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


class AnalyticsClient:
    def __init__(self, get: HttpGet, base_url: str) -> None:
        self.http_get = get
        self.base_url = base_url.rstrip("/")

    async def get(self, path: str, params: dict[str, str]) -> AnalyticsAnswer:
        try:
            r = await self.http_get(self.base_url + path, params, TIMEOUT_S)
        except Unreachable as exc:
            raise ApiError(
                503,
                "analytics_unavailable",
                [issue(None, f"the analytics process at {self.base_url} did not answer: {exc}")],
                headers={"Retry-After": "5"},
            ) from None
        if r.status in (401, 403):
            reason = r.body[:200].decode("utf-8", "replace")
            raise ApiError(
                503,
                "analytics_unavailable",
                [issue(None, f"the analytics process at {self.base_url} refused the API's service token (HTTP {r.status}: {reason})")],
                headers={"Retry-After": "5"},
            )
        keep = {name: r.headers[name.lower()] for name in ("Content-Disposition", "X-Bazaar-Rounding") if name.lower() in r.headers}
        return AnalyticsAnswer(r.status, r.body, r.headers.get("content-type", "application/json"), keep)
