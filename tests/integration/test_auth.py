"""Access against the real broker, in-process API replicas: token exchange, 401s, revocation on a
second replica within 2 seconds, logout, pairing (once, even when two redemptions race; expiry),
rate limits (429 then recovery), scoping of the credentials list and of what a caller may grant."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import jwt
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api.main import create_app
from bazaar import auth_cmd
from bazaar_core.auth import keys
from bazaar_core.settings import Settings
from tests.authclient import BazaarAuth, admin_key, make_key

pytestmark = pytest.mark.integration

REVOCATION_BUDGET_S = 2.0


def replicas(settings: Settings, n: int, stack: ExitStack) -> list[TestClient]:
    """``n`` API replicas on the same topics and auth_path (what several pods share)."""
    return [stack.enter_context(TestClient(create_app(settings))) for _ in range(n)]


@pytest.fixture
def two(settings_factory) -> Iterator[tuple[Settings, TestClient, TestClient, str]]:
    settings = settings_factory(auth=True)
    key = admin_key(settings)
    with ExitStack() as stack:
        a, b = replicas(settings, 2, stack)
        a.auth = BazaarAuth(key)
        yield settings, a, b, key


def exchange(client: TestClient, key: str) -> str:
    r = client.post("/v1/auth/token", json={"api_key": key})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused_401(r) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized" and r.json()["detail"][0]["reason"]


def rate_limited_total(role: str) -> float:
    return REGISTRY.get_sample_value("bazaar_api_rate_limited_total", {"role": role}) or 0.0


def test_token_exchange_and_the_401s(two):
    settings, a, b, key = two
    r = b.post("/v1/auth/token", json={"api_key": key})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == settings.access_token_ttl_s
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["role"] == "admin" and claims["stores"] == "*" and claims["aud"] == settings.auth_audience
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"] in {k["kid"] for k in b.get("/.well-known/jwks.json").json()["keys"]}

    ok = b.get("/v1/credentials", headers=bearer(body["access_token"]))
    assert ok.status_code == 200, ok.text

    refused_401(b.get("/v1/credentials"))  # no token
    refused_401(b.get("/v1/credentials", headers=bearer("not.a.jwt")))
    refused_401(b.get("/v1/credentials", headers={"Authorization": f"Basic {body['access_token']}"}))
    foreign = jwt.encode({"sub": "x"}, "secret", algorithm="HS256", headers={"kid": header["kid"]})
    refused_401(b.get("/v1/credentials", headers=bearer(foreign)))
    other = Settings(auth_dir=settings.auth_path.parent / "elsewhere", auth_issuer=settings.auth_issuer, auth_audience="another-api")
    keys.ensure(other.auth_path / "signing", 60)
    stranger, _ = auth_cmd.tokens.issue(
        keys.KeyRing(other.auth_path / "signing"),
        sub="0123456789ab",
        name="x",
        role="admin",
        stores="*",
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl_s=60,
    )
    refused_401(b.get("/v1/credentials", headers=bearer(stranger)))  # a kid this ring does not know

    refused_401(b.post("/v1/auth/token", json={"api_key": "bzk_nonsense"}))
    cid = key.split("_")[1]
    wrong_secret = f"bzk_{cid}_{'A' * 43}"
    refused_401(b.post("/v1/auth/token", json={"api_key": wrong_secret}))
    refused_401(b.post("/v1/auth/token", json={"api_key": f"bzk_{'f' * 12}_{'A' * 43}"}))
    assert b.post("/v1/auth/token", json={"key": key}).status_code == 422  # the body's shape, as elsewhere


def test_revocation_reaches_a_second_replica_within_two_seconds(two):
    settings, a, b, _ = two
    made = a.post("/v1/credentials", json={"name": "back office", "role": "owner", "stores": ["s1"]})
    assert made.status_code == 201, made.text
    cred = made.json()
    token = exchange(b, cred["api_key"])  # issued by the second replica
    assert b.get("/v1/credentials", headers=bearer(token)).status_code == 200  # (cached as verified there now)

    revoked = a.delete(f"/v1/credentials/{cred['id']}")
    assert revoked.status_code == 204, revoked.text
    started = time.monotonic()
    while (r := b.get("/v1/credentials", headers=bearer(token))).status_code == 200:
        assert time.monotonic() - started < REVOCATION_BUDGET_S, "the revocation did not reach the second replica in time"
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    refused_401(r)
    print(f"revocation reached the second replica in {elapsed * 1000:.0f} ms")
    assert elapsed < REVOCATION_BUDGET_S
    refused_401(b.post("/v1/auth/token", json={"api_key": cred["api_key"]}))  # its next exchange too
    listed = {c["id"]: c for c in a.get("/v1/credentials").json()["credentials"]}
    assert listed[cred["id"]]["revoked_at"] is not None
    assert a.delete(f"/v1/credentials/{cred['id']}").status_code == 204  # again: still revoked, no error
    assert a.delete(f"/v1/credentials/{'f' * 12}").status_code == 404


def test_logout_revokes_the_presented_token_everywhere(two):
    settings, a, b, key = two
    plain = {"auth": None}  # (a's own BazaarAuth would put its token in place of the one given)
    token = exchange(a, key)
    assert b.get("/v1/credentials", headers=bearer(token)).status_code == 200
    assert a.post("/v1/auth/logout", headers=bearer(token), **plain).status_code == 204
    refused_401(a.get("/v1/credentials", headers=bearer(token), **plain))
    deadline = time.monotonic() + REVOCATION_BUDGET_S
    while b.get("/v1/credentials", headers=bearer(token)).status_code != 401:
        assert time.monotonic() < deadline, "the logout did not reach the second replica in time"
        time.sleep(0.01)
    fresh = exchange(a, key)  # the key itself still works
    assert b.get("/v1/credentials", headers=bearer(fresh)).status_code == 200
    refused_401(b.post("/v1/auth/logout"))


def test_credentials_list_shows_no_secret(two):
    settings, a, b, key = two
    made = a.post("/v1/credentials", json={"name": "till 3", "role": "terminal", "stores": ["s1"]})
    assert made.status_code == 201, made.text
    secret = made.json()["api_key"]
    exchange(b, secret)  # a use: last_used_at is published
    deadline = time.monotonic() + 5
    while True:
        listed = a.get("/v1/credentials")
        assert listed.status_code == 200
        row = next(c for c in listed.json()["credentials"] if c["id"] == made.json()["id"])
        if row["last_used_at"] is not None:
            break
        assert time.monotonic() < deadline, "last_used_at never reached the other replica"
        time.sleep(0.05)
    text = listed.text
    assert secret not in text and secret.split("_")[-1] not in text
    assert "secret_hash" not in text and "api_key" not in text
    from bazaar_core.auth.apikeys import hash_key

    assert hash_key(secret) not in text and hash_key(key) not in text
    assert set(row) == {"id", "name", "role", "stores", "created_at", "created_by", "last_used_at", "revoked_at"}


def test_what_a_scoped_owner_and_a_manager_may_grant_and_see(two):
    settings, a, b, key = two
    owner = BazaarAuth(make_key(settings, "owner", ["s1", "s2"], name="owner of s1 s2"))
    manager = BazaarAuth(make_key(settings, "manager", ["s1"]))
    make_key(settings, "terminal", ["s9"], name="elsewhere")

    r = b.post("/v1/credentials", json={"name": "till", "role": "terminal", "stores": ["s1", "s1"]}, auth=owner)
    assert r.status_code == 201, r.text
    assert r.json()["stores"] == ["s1"] and r.json()["role"] == "terminal" and r.json()["api_key"].startswith("bzk_")
    for body, why in [
        ({"name": "t", "role": "terminal", "stores": ["s3"]}, "store"),
        ({"name": "t", "role": "admin", "stores": "*"}, "admin"),
        ({"name": "t", "role": "analyst", "stores": "*"}, "every store"),
        ({"name": "t", "role": "terminal", "stores": ["s1", "s2"]}, "exactly one"),
    ]:
        refused = b.post("/v1/credentials", json=body, auth=owner)
        assert refused.status_code == 403, (body, refused.text)
        assert refused.json()["error"] == "forbidden" and why in refused.json()["detail"][0]["reason"], refused.text
    seen = {c["name"] for c in b.get("/v1/credentials", auth=owner).json()["credentials"]}
    assert "till" in seen and "owner of s1 s2" in seen and "admin" not in seen and "elsewhere" not in seen
    admin_id = key.split("_")[1]
    assert b.delete(f"/v1/credentials/{admin_id}", auth=owner).status_code == 404  # out of its scope: not there

    assert b.get("/v1/credentials", auth=manager).status_code == 403  # no keys for a manager ...
    assert b.post("/v1/credentials", json={"name": "t", "role": "terminal", "stores": ["s1"]}, auth=manager).status_code == 403
    code = b.post("/v1/stores/s1/pairing-codes", json={"role": "cashier"}, auth=manager)  # ... pairing codes for its store
    assert code.status_code == 201, code.text
    assert code.json()["role"] == "cashier" and code.json()["store_id"] == "s1"
    assert b.post("/v1/stores/s2/pairing-codes", auth=manager).status_code == 403


def redeem(client: TestClient, code: str, **body):
    return client.post("/v1/auth/pair", json={"code": code, **body})


def race(clients: list[TestClient], codes: list[str]) -> list:
    """Redeem ``codes[i]`` at ``clients[i]``, all at the same moment (a thread each)."""
    answers: list = [None] * len(clients)
    start = threading.Barrier(len(clients))

    def go(i: int) -> None:
        start.wait()
        answers[i] = redeem(clients[i], codes[i])

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_a_pairing_code_works_once_even_when_two_redemptions_race(two):
    settings, a, b, _ = two
    for round_ in range(4):
        made = a.post("/v1/stores/s1/pairing-codes", json={"name": f"counter {round_}"})
        assert made.status_code == 201, made.text
        code = made.json()
        assert len(code["code"]) == 8 and code["role"] == "terminal"
        answers = race([a, b], [code["code"], code["code"].lower()])
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [201, 410], [r.text for r in answers]
        won = next(r for r in answers if r.status_code == 201).json()
        lost = next(r for r in answers if r.status_code == 410).json()
        assert lost["error"] == "code_used"
        assert won["credential"]["role"] == "terminal" and won["credential"]["stores"] == ["s1"]
        assert won["credential"]["name"] == f"counter {round_}"
        # the device's own key and token work, on either replica
        assert b.get("/.well-known/jwks.json").status_code == 200
        assert exchange(b, won["api_key"]) and won["token_type"] == "Bearer"
        again = redeem(b, code["code"])
        assert again.status_code == 410 and again.json()["error"] == "code_used"
    # the losers made no credential: one per code
    terminals = [c for c in a.get("/v1/credentials").json()["credentials"] if c["role"] == "terminal"]
    assert len(terminals) == 4

    assert redeem(a, "ABCD").json()["error"] == "invalid_code"
    unknown = redeem(a, "ABCD-EFGH")
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_code"
    named = a.post("/v1/stores/s1/pairing-codes").json()["code"]
    paired = redeem(b, f"{named[:4]}-{named[4:]}".lower(), name="front till")
    assert paired.status_code == 201 and paired.json()["credential"]["name"] == "front till"


def test_a_pairing_code_expires(settings_factory):
    settings = settings_factory(auth=True).model_copy(update={"pairing_code_ttl_s": 1})  # (settings refuse under 30 s)
    key = admin_key(settings)
    with TestClient(create_app(settings)) as client:
        client.auth = BazaarAuth(key)
        code = client.post("/v1/stores/s1/pairing-codes").json()
        time.sleep(1.2)
        r = redeem(client, code["code"])
        assert r.status_code == 410 and r.json()["error"] == "code_expired", r.text


def test_rate_limit_429_then_recovery(settings_factory):
    settings = settings_factory(auth=True, rate_limits={"owner": (2.0, 3)}, auth_rate_per_address=(1.0, 3))
    key = admin_key(settings)
    owner = make_key(settings, "owner", ["s1"])
    with TestClient(create_app(settings)) as client:
        # the token and pairing routes, per client address: 3 at once, then 1 a second
        addressed = rate_limited_total("address")
        token = exchange(client, owner)
        assert client.post("/v1/auth/pair", json={"code": "ABCDEFGH"}).status_code == 401
        assert client.post("/v1/auth/token", json={"api_key": owner}).status_code == 200
        limited = client.post("/v1/auth/token", json={"api_key": owner})
        assert limited.status_code == 429 and limited.json()["error"] == "rate_limited", limited.text
        assert int(limited.headers["retry-after"]) >= 1
        assert client.post("/v1/auth/pair", json={"code": "ABCDEFGH"}).status_code == 429  # guessing codes, too
        assert rate_limited_total("address") == addressed + 2
        time.sleep(int(limited.headers["retry-after"]))
        assert client.post("/v1/auth/token", json={"api_key": owner}).status_code == 200

        # per credential: the owner role's burst of 3, then 2 a second
        before = rate_limited_total("owner")
        for _ in range(3):
            assert client.get("/v1/credentials", headers=bearer(token)).status_code == 200
        over = client.get("/v1/credentials", headers=bearer(token))
        assert over.status_code == 429, over.text
        assert over.json()["error"] == "rate_limited"
        retry = over.headers["retry-after"]
        assert retry.isdigit() and int(retry) >= 1
        assert rate_limited_total("owner") == before + 1
        # another credential has its own bucket (a token minted as `bazaar auth token` does: the address is spent)
        assert client.get("/v1/credentials", headers=bearer(auth_cmd.access_token(settings, key))).status_code == 200
        time.sleep(int(retry))
        assert client.get("/v1/credentials", headers=bearer(token)).status_code == 200  # recovered


def test_a_rotated_key_signs_tokens_the_running_api_takes_at_once(two):
    settings, a, b, key = two
    old = exchange(a, key)
    new_kid = auth_cmd.rotate(settings).kid
    token = auth_cmd.access_token(settings, key)  # signed with the new key, on "the operator's machine"
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    time.sleep(keys.UNKNOWN_KID_RELOAD_S)  # (the replica read its ring at start: an unknown kid reloads it at most once a second)
    assert b.get("/v1/credentials", headers=bearer(token)).status_code == 200
    assert b.get("/v1/credentials", headers=bearer(old)).status_code == 200  # the old key's tokens until they expire
    assert {k["kid"] for k in b.get("/.well-known/jwks.json").json()["keys"]} >= {new_kid, jwt.get_unverified_header(old)["kid"]}
