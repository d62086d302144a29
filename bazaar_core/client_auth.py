"""A client's side of access: the API key it holds, exchanged for access tokens.

The command line (``bazaar demo``, ``bazaar report``, ``bazaar catalog import``) and the benchmarks'
load clients authenticate like any client: an API key (``BAZAAR_API_KEY``, else the admin key that
``bazaar auth init`` wrote to ``auth_path/admin.key``) exchanged at the API's ``POST
/v1/auth/token`` for an access token, sent as ``Authorization: Bearer``, exchanged again when the
token is near its end or a 401 says it is gone. The same token opens the workers' and the analytics
process's pages (``bazaar_core.page_access``), so one ``KeyAuth`` serves every port: the exchange
goes to ``api_url``, whatever host a request is for. With auth off (``BAZAAR_AUTH_REQUIRED=false``)
nothing is sent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from bazaar_core.settings import Settings

API_KEY_ENV = "BAZAAR_API_KEY"
ADMIN_KEY_FILE = "admin.key"  # under auth_path (bazaar auth init)
TOKEN_PATH = "/v1/auth/token"
RENEW_LEFT_S = 60.0  # exchange again when a token has less than this left (a fifth of a shorter life)


class NoApiKey(RuntimeError):
    """No key to authenticate with."""


class ExchangeFailed(RuntimeError):
    """The API did not give a token for the key."""


def api_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def api_key(settings: Settings) -> str:
    """``BAZAAR_API_KEY``, else the admin key file."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    if key:
        return key
    path = settings.auth_path / ADMIN_KEY_FILE
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise NoApiKey(f"no API key: set {API_KEY_ENV}, or run `bazaar auth init` to make {path} ({exc.strerror or exc})") from None


def token_request(base_url: str, key: str) -> httpx.Request:
    return httpx.Request("POST", base_url.rstrip("/") + TOKEN_PATH, json={"api_key": key})


def taken(response: httpx.Response) -> tuple[str, float]:
    """(access token, seconds it lives) from the exchange's answer."""
    if response.status_code != 200:
        raise ExchangeFailed(f"POST {TOKEN_PATH} answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    return body["access_token"], float(body.get("expires_in", 0))


class KeyAuth(httpx.Auth):
    """An ``httpx.Auth`` (sync and async clients): the token of ``key`` from the API at ``base_url``.
    The exchange is a request of its own (not a step of the flow), so an answer that is a stream
    (the alert stream) is handed over unread."""

    def __init__(self, base_url: str, key: str, clock=time.monotonic) -> None:
        self.base_url, self.key, self.clock = base_url, key, clock
        self.token: str | None = None
        self.renew_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> KeyAuth | None:
        """The auth of ``settings``' API with ``api_key(settings)``; None with auth off."""
        return cls(api_url(settings), api_key(settings)) if settings.auth_required else None

    def _take(self, response: httpx.Response) -> str:
        token, lives_s = taken(response)
        self.token, self.renew_at = token, self.clock() + max(0.0, lives_s - min(RENEW_LEFT_S, lives_s / 5))
        return token

    def _fresh(self) -> bool:
        return self.token is not None and self.clock() < self.renew_at

    def _exchange(self) -> str:
        with httpx.Client(timeout=30) as http:
            return self._take(http.send(token_request(self.base_url, self.key)))

    async def _aexchange(self) -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            return self._take(await http.send(token_request(self.base_url, self.key)))

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            token = self.token if self._fresh() else self._exchange()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # revoked, or the signing key rotated away: once more
            response.read()
            with self._lock:
                request.headers["Authorization"] = f"Bearer {self._exchange()}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self.token if self._fresh() else await self._aexchange()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            request.headers["Authorization"] = f"Bearer {await self._aexchange()}"
            yield request

    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer ..."}`` now, exchanging the key if needed (a blocking call: for
        clients that are not httpx, e.g. aiohttp, set per request)."""
        with self._lock:
            token = self.token if self._fresh() else self._exchange()
        return {"Authorization": f"Bearer {token}"}


def bearer_headers(settings: Settings) -> dict[str, Any]:
    """One request's auth headers for ``settings``' stack (empty with auth off)."""
    auth = KeyAuth.of(settings)
    return auth.headers() if auth is not None else {}
