"""The internal ports' guard (bazaar_core/page_access.py): a caller's own token or the API's service
token opens a page within its rights; none, a bad one or one outside its scope does not; and the
service token opens no route of the API itself (its audience is the internal one)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt
import pytest

from bazaar_core.auth import keys, tokens
from bazaar_core.page_access import NOBODY, Page, PageGuard, Refusal, ServiceToken, service_audience
from bazaar_core.settings import Settings
from domain.access import Permission, Principal, Role

pytestmark = pytest.mark.unit

STOCK = Page(Permission.STOCK_READ, "path:store_id")


@pytest.fixture
def settings(tmp_path) -> Settings:
    s = Settings(data_dir=tmp_path, auth_required=True)
    keys.ensure(s.auth_path / "signing", keys.keep_after_retire(s.access_token_ttl_s))
    return s


def token(settings: Settings, role="cashier", stores=("lahore-007",), audience: str | None = None, ttl_s: int = 900, now=None) -> str:
    ring = keys.KeyRing(settings.auth_path / "signing")
    issued, _ = tokens.issue(
        ring,
        sub="c00000000001",
        name="till 1",
        role=role,
        stores=stores,
        issuer=settings.auth_issuer,
        audience=audience or settings.auth_audience,
        ttl_s=ttl_s,
        now=now,
    )
    return issued


def test_a_callers_token_opens_the_pages_within_its_rights(settings):
    guard = PageGuard(settings)
    mine = f"Bearer {token(settings)}"
    who = guard.check(STOCK, mine, "lahore-007")
    assert isinstance(who, Principal) and who.role is Role.CASHIER and who.stores == ("lahore-007",)
    other = guard.check(STOCK, mine, "karachi-001")
    assert isinstance(other, Refusal) and other.status == 403 and other.body["store_id"] == "karachi-001"
    ops = guard.check(Page(Permission.OPS_READ), mine, None)
    assert isinstance(ops, Refusal) and ops.status == 403 and ops.body["permission"] == "ops:read"
    assert guard.check(Page(None), None, None) is None  # public


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "Bearer " + "x" * 5000],
)
def test_no_token_or_a_bad_one_is_401(settings, header):
    refused = PageGuard(settings).check(STOCK, header, "lahore-007")
    assert isinstance(refused, Refusal) and refused.status == 401 and refused.headers == {"WWW-Authenticate": "Bearer"}
    assert refused.body["error"] == "unauthorized"


def test_expired_foreign_and_tampered_tokens_are_401(settings, tmp_path):
    guard = PageGuard(settings)
    old = token(settings, ttl_s=60, now=datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    assert guard.check(STOCK, f"Bearer {old}", "lahore-007").body["detail"][0]["reason"].startswith("the token has expired")  # type: ignore[union-attr]
    wrong = token(settings, audience="someone-else")
    assert guard.check(STOCK, f"Bearer {wrong}", "lahore-007").status == 401  # type: ignore[union-attr]
    good = token(settings)
    head, body, sig = good.split(".")
    tampered = ".".join((head, body, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")))
    assert guard.check(STOCK, f"Bearer {tampered}", "lahore-007").status == 401  # type: ignore[union-attr]
    elsewhere = Settings(data_dir=tmp_path / "other", auth_required=True)
    keys.ensure(elsewhere.auth_path / "signing", 60)
    assert guard.check(STOCK, f"Bearer {token(elsewhere)}", "lahore-007").status == 401  # type: ignore[union-attr]  # unknown kid


def test_a_verified_token_is_kept_until_it_expires(settings):
    now = [time.time()]
    guard = PageGuard(settings, clock=lambda: now[0])
    t = token(settings, ttl_s=60, now=now[0])
    verify = tokens.verify
    calls = []
    tokens.verify = lambda *a, **k: calls.append(1) or verify(*a, **k)  # type: ignore[assignment]
    try:
        for _ in range(5):
            assert isinstance(guard.check(STOCK, f"Bearer {t}", "lahore-007"), Principal)
        assert len(calls) <= 1
        now[0] += 61  # past its exp on the guard's clock: verified again, not taken from the cache
        guard.check(STOCK, f"Bearer {t}", "lahore-007")
        assert len(calls) == 2
    finally:
        tokens.verify = verify  # type: ignore[assignment]


def test_the_service_token_opens_the_pages_and_not_the_api(settings):
    now = [time.time()]
    service = ServiceToken(settings, clock=lambda: now[0])
    header = service.headers()["Authorization"]
    guard = PageGuard(settings)
    who = guard.check(STOCK, header, "any-store-at-all")
    assert isinstance(who, Principal) and who.sub == "service:api" and who.stores == "*"
    assert isinstance(guard.check(Page(Permission.OPS_READ), header, None), Refusal)  # manager: no ops:read
    ring = keys.KeyRing(settings.auth_path / "signing")
    raw = header.removeprefix("Bearer ")
    with pytest.raises(tokens.BadToken) as refused:  # what the API's own check does (api.authn)
        tokens.verify(raw, ring, issuer=settings.auth_issuer, audience=settings.auth_audience)
    assert refused.value.reason == "audience"
    assert tokens.verify(raw, ring, issuer=settings.auth_issuer, audience=service_audience(settings)).sub == "service:api"
    assert service.headers()["Authorization"] == header  # kept while young
    now[0] += settings.access_token_ttl_s * 0.6
    renewed = service.headers()["Authorization"]
    assert renewed != header  # renewed past half its life
    assert jwt.decode(renewed.removeprefix("Bearer "), options={"verify_signature": False})["iat"] == int(now[0])


def test_auth_off_lets_everyone_in_as_nobody(tmp_path):
    s = Settings(data_dir=tmp_path, auth_required=False)
    assert PageGuard(s).check(STOCK, None, "lahore-007") is NOBODY
    assert ServiceToken(s).headers() == {}
