"""The API's HTTP client, for asking the stream workers (every stock lookup) and the analytics
process (reports): one aiohttp session, wrapped as ``HttpGet``, a plain async function that the
clients in ``api.workers`` and ``api.analytics`` call, and tests replace.

aiohttp rather than httpx: its client costs the API far less CPU per GET to a worker, and a
lookup is the API's most frequent request after POST /v1/events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

MAX_CONNECTIONS = 200


class Unreachable(Exception):
    """No answer: the connection failed or dropped, or the time ran out."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names


HttpGet = Callable[[str, dict[str, str], float], Awaitable[HttpAnswer]]  # (url, query, timeout_s)


def session() -> aiohttp.ClientSession:
    """A session for the running loop (make it in the lifespan; close it with ``await s.close()``)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS), auto_decompress=False)


def getter(http: aiohttp.ClientSession, headers: Callable[[], dict[str, str]] | None = None) -> HttpGet:
    """``headers()``: sent with every GET (the API's service token: ``bazaar_core.page_access``)."""

    async def get(url: str, params: dict[str, str], timeout_s: float) -> HttpAnswer:
        try:
            sent = headers() if headers is not None else None
            async with http.get(url, params=params, headers=sent, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
                body = await r.read()
                return HttpAnswer(r.status, body, {k.lower(): v for k, v in r.headers.items()})
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unreachable(f"{type(exc).__name__} {exc}".strip()) from None

    return get
