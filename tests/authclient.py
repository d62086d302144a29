"""Tests authenticate like any client: an API key exchanged for an access token.

* ``BazaarAuth(api_key)``: an ``httpx.Auth`` for ``httpx.Client``, ``httpx.AsyncClient`` and
  Starlette's ``TestClient`` (``client.auth = BazaarAuth(key)``, or ``auth=`` per request). It
  exchanges the key at ``POST /v1/auth/token`` of the same host on the first request, keeps the
  token, and on a 401 exchanges again once and retries (an expired or revoked token).
* ``admin_key(settings)``: the admin key of ``settings.auth_path/admin.key``, made by ``bazaar auth
  init`` (run in-process when the file is missing or its credential is unknown on these topics).
* ``make_key(settings, role, stores)``: a key of another role, written straight to the topic.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from bazaar import auth_cmd
from bazaar_core.settings import Settings
from domain.access import ALL_STORES, Role

TOKEN_PATH = "/v1/auth/token"


class AuthFailed(RuntimeError):
    pass


class BazaarAuth(httpx.Auth):
    requires_response_body = True  # the exchange's answer is read in the flow

    def __init__(self, api_key: str, token_path: str = TOKEN_PATH) -> None:
        self.api_key, self.token_path = api_key, token_path
        self.token: str | None = None
        self.exchanges = 0  # how many times the key was exchanged (tests of renewal read it)

    def _exchange_request(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request("POST", request.url.copy_with(path=self.token_path, query=None), json={"api_key": self.api_key})

    def _take(self, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise AuthFailed(f"POST {self.token_path} answered {response.status_code}: {response.text[:300]}")
        self.exchanges += 1
        self.token = response.json()["access_token"]
        return self.token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token
        if token is None:
            token = self._take((yield self._exchange_request(request)))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # expired or revoked: renew once, try again
            token = self._take((yield self._exchange_request(request)))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def admin_key(settings: Settings) -> str:
    """The admin API key for these settings' auth_path and topics (``bazaar auth init`` if needed)."""
    path = auth_cmd.admin_key_path(settings)
    if path.exists():
        key = path.read_text().strip()
        with auth_cmd.Desk(settings) as desk:
            if desk.usable(key) is not None:
                return key
    auth_cmd.init(settings)
    return path.read_text().strip()


def make_key(settings: Settings, role: Role | str, stores: list[str] | str = ALL_STORES, name: str | None = None) -> str:
    """A new API key of ``role`` for ``stores``, written to the credentials topic as ``bazaar auth key create`` does."""
    role = Role(role)
    with auth_cmd.Desk(settings) as desk:
        _, key = desk.create(name or f"test {role.value}", role, stores)
    return key


def admin_client(settings: Settings, **kwargs) -> httpx.Client:
    """An ``httpx.Client`` on the settings' API, authenticated with the admin key."""
    kwargs.setdefault("timeout", 60)
    return httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", auth=BazaarAuth(admin_key(settings)), **kwargs)
