"""The API's authenticator without a broker: a verified token is cached (one signature check for a
terminal's many requests), revocation is checked on every request all the same, the cache is
bounded, and the per-credential and per-address buckets answer 429 with a whole Retry-After."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from api import authn
from api.auth_view import AuthView
from api.errors import ApiError
from bazaar_core.auth import keys, tokens
from bazaar_core.auth.keys import KeyRing
from bazaar_core.settings import Settings
from schemas.auth import CredentialRevocation, TokenRevocation

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def setup(tmp_path, monkeypatch):
    settings = Settings(
        data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", rate_limits={"terminal": (2.0, 3)}, auth_rate_per_address=(1.0, 2)
    )
    keys.ensure(settings.auth_path / "signing", 60)
    ring = KeyRing(settings.auth_path / "signing")
    view = AuthView(settings)  # never started: its book is filled by hand
    view.follower._ready.set()
    clock = Clock()
    auth = authn.Authenticator(settings, view, ring, clock=clock)
    checks = []
    real = tokens.verify

    def counting(*args, **kwargs):
        checks.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens, "verify", counting)
    return settings, ring, view, auth, clock, checks


def token_for(settings, ring, role="terminal", sub="0123456789ab", **kw) -> tuple[str, tokens.Claims]:
    return tokens.issue(
        ring,
        sub=sub,
        name="till",
        role=role,
        stores=["s1"],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl_s=kw.pop("ttl_s", 600),
        **kw,
    )


def request(token: str | None = None, query: str = "", client: str = "10.0.0.1") -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": query.encode(), "client": (client, 1)}
    )


def authenticate(auth, req: Request, **kw):
    return asyncio.run(auth.authenticate(req, **kw))


def status(auth, req: Request, **kw) -> tuple[int, dict]:
    try:
        authenticate(auth, req, **kw)
    except ApiError as exc:
        return exc.status, exc.headers or {}
    return 200, {}


def test_a_token_is_verified_once_then_served_from_the_cache(setup):
    settings, ring, view, auth, clock, checks = setup
    token, claims = token_for(settings, ring)
    for _ in range(3):
        clock.t += 1.0  # (within the terminal's rate)
        who = authenticate(auth, request(token))
    assert (who.sub, who.role.value, who.stores, who.jti) == ("0123456789ab", "terminal", ("s1",), claims.jti)
    assert len(checks) == 1


def test_revocation_is_checked_on_every_request_even_cached(setup):
    settings, ring, view, auth, clock, checks = setup
    token, claims = token_for(settings, ring)
    other, _ = token_for(settings, ring)
    assert status(auth, request(token)) == (200, {})
    view.book.put_revocation(
        TokenRevocation(jti=claims.jti, expires_at=datetime.now(UTC) + timedelta(minutes=5), revoked_at=datetime.now(UTC), by="t")
    )
    clock.t += 1
    assert status(auth, request(token)) == (401, {"WWW-Authenticate": "Bearer"})
    assert status(auth, request(other)) == (200, {})  # a logout ends that token, not the key's others
    view.book.put_revocation(CredentialRevocation(id=claims.sub, revoked_at=datetime.now(UTC), by="t"))
    clock.t += 1
    assert status(auth, request(other))[0] == 401  # a revoked credential: every token of it


def test_missing_and_malformed_headers_are_401(setup):
    settings, ring, view, auth, clock, checks = setup
    token, _ = token_for(settings, ring)
    assert status(auth, request())[0] == 401
    assert status(auth, Request({"type": "http", "headers": [(b"authorization", b"Bearer ")], "query_string": b""}))[0] == 401
    assert (
        status(auth, Request({"type": "http", "headers": [(b"authorization", f"Token {token}".encode())], "query_string": b""}))[0] == 401
    )
    assert status(auth, request(query=f"access_token={token}"))[0] == 401  # not on a route that does not allow it
    assert status(auth, request(query=f"access_token={token}"), query_token=True) == (200, {})
    expired, _ = token_for(settings, ring, now=time.time() - 3600)
    assert status(auth, request(expired))[0] == 401


def test_a_cached_token_past_its_expiry_is_refused(setup, monkeypatch):
    settings, ring, view, auth, clock, checks = setup
    token, claims = token_for(settings, ring, ttl_s=30)
    assert status(auth, request(token))[0] == 200
    monkeypatch.setattr(authn.time, "time", lambda: claims.exp + keys.CLOCK_SKEW_S + 1)
    monkeypatch.setattr(tokens.jwt.api_jwt, "datetime", _Later(claims.exp + keys.CLOCK_SKEW_S + 1))
    clock.t += 1
    assert status(auth, request(token))[0] == 401
    assert len(checks) == 2  # verified again, and refused


class _Later:
    """pyjwt's clock (``datetime.now``), moved to ``at``."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self, tz=None):
        return datetime.fromtimestamp(self.at, tz)

    def __getattr__(self, name):
        return getattr(datetime, name)


def test_the_cache_is_bounded(setup, monkeypatch):
    settings, ring, view, auth, clock, checks = setup
    monkeypatch.setattr(authn, "MAX_CACHED", 3)
    for i in range(6):
        token, _ = token_for(settings, ring, sub=f"{i:012x}")
        assert status(auth, request(token))[0] == 200
    assert len(auth._cache) == 3


def test_over_the_rate_is_429_with_a_whole_retry_after_then_recovers(setup):
    settings, ring, view, auth, clock, checks = setup
    token, _ = token_for(settings, ring)
    before = authn.RATE_LIMITED.labels(role="terminal")._value.get()
    assert [status(auth, request(token))[0] for _ in range(3)] == [200, 200, 200]  # the burst
    code, headers = status(auth, request(token))
    assert code == 429 and headers["Retry-After"] == "1"  # half a token short at 2/s: rounded up, never 0
    assert authn.RATE_LIMITED.labels(role="terminal")._value.get() == before + 1
    other, _ = token_for(settings, ring, sub="ffffffffffff")
    assert status(auth, request(other))[0] == 200  # its own bucket
    clock.t += 0.5
    assert status(auth, request(token))[0] == 200  # recovered


def test_the_address_limit(setup):
    settings, ring, view, auth, clock, checks = setup
    for _ in range(2):
        auth.limit_address(request(client="10.0.0.9"))
    with pytest.raises(ApiError) as caught:
        auth.limit_address(request(client="10.0.0.9"))
    assert caught.value.status == 429 and int(caught.value.headers["Retry-After"]) >= 1
    auth.limit_address(request(client="10.0.0.10"))  # another address
    clock.t += 1
    auth.limit_address(request(client="10.0.0.9"))
