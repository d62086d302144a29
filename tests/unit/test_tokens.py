"""Access tokens and the signing key ring: every kind of token the API must refuse is refused with
its reason, and a rotation keeps old tokens valid until they expire while new ones carry the new kid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bazaar_core.auth import keys, tokens
from bazaar_core.auth.keys import KeyRing
from bazaar_core.auth.tokens import BadToken

pytestmark = pytest.mark.unit

ISS, AUD, TTL = "bazaar-test", "bazaar-api-test", 900
KEEP = keys.keep_after_retire(TTL)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    keys.ensure(tmp_path / "signing", KEEP)
    r = KeyRing(tmp_path / "signing")
    r.load()
    return r


def issue(ring: KeyRing, **kw) -> str:
    args = dict(sub="0123456789ab", name="till 1", role="terminal", stores=["s1"], issuer=ISS, audience=AUD, ttl_s=TTL)
    args.update(kw)
    return tokens.issue(ring, **args)[0]


def verify(ring: KeyRing, token: str, **kw) -> tokens.Claims:
    return tokens.verify(token, ring, issuer=kw.get("issuer", ISS), audience=kw.get("audience", AUD))


def refused(ring: KeyRing, token: str, **kw) -> str:
    with pytest.raises(BadToken) as caught:
        verify(ring, token, **kw)
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, payload: dict) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())


def claims(**kw) -> dict:
    """A full claim set (for an admin: what a forger would want), with ``kw`` changed."""
    now = int(time.time())
    base = {"iss": ISS, "aud": AUD, "sub": "0123456789ab", "jti": "j" * 32, "iat": now, "nbf": now, "exp": now + 600}
    return {**base, "role": "admin", "stores": "*", "name": "x", **kw}


def test_a_token_round_trips_its_claims(ring):
    token = issue(ring)
    got = verify(ring, token)
    assert (got.sub, got.name, got.role, got.stores, got.kid) == ("0123456789ab", "till 1", "terminal", ("s1",), ring.current().kid)
    assert got.exp - got.iat == TTL and got.nbf == got.iat and len(got.jti) == 32
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == ring.current().kid
    assert verify(ring, issue(ring, stores="*", role="admin")).stores == "*"
    assert verify(ring, issue(ring)).jti != got.jti  # every token its own jti (logout revokes one)


def test_alg_none_is_refused(ring):
    token = unsigned({"alg": "none", "typ": "JWT", "kid": ring.current().kid}, claims()) + "."
    assert refused(ring, token) == "algorithm"


@pytest.mark.parametrize("form", ["raw", "pem"])
def test_hs256_signed_with_the_public_key_is_refused(ring, form):
    public = ring.current().public
    secret = (
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if form == "raw"
        else public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": ring.current().kid}, claims())
    token = signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    assert refused(ring, token) == "algorithm"


def test_expired_is_refused(ring):
    token = issue(ring, now=time.time() - 3600, ttl_s=60)
    assert refused(ring, token) == "expired"
    # within the allowed clock skew it still passes
    assert verify(ring, issue(ring, now=time.time() - 65, ttl_s=60)).sub == "0123456789ab"


def test_not_yet_valid_is_refused(ring):
    key = ring.current()
    now = int(time.time())
    token = jwt.encode(claims(nbf=now + 3600), key.private, algorithm="EdDSA", headers={"kid": key.kid})
    assert refused(ring, token) == "not_yet_valid"
    assert refused(ring, issue(ring, now=time.time() + 3600)) == "not_yet_valid"  # iat in the future too


def test_wrong_audience_and_issuer_are_refused(ring):
    token = issue(ring)
    assert refused(ring, token, audience="another-api") == "audience"
    assert refused(ring, token, issuer="someone-else") == "issuer"
    assert refused(ring, issue(ring, audience="another-api")) == "audience"


def test_unknown_kid_is_refused(ring, tmp_path):
    keys.ensure(tmp_path / "elsewhere", KEEP)
    other = KeyRing(tmp_path / "elsewhere")
    assert refused(ring, issue(other)) == "unknown_kid"
    key = ring.current()
    no_kid = jwt.encode(claims(), key.private, algorithm="EdDSA")
    assert refused(ring, no_kid) == "unknown_kid"


def test_a_foreign_key_under_a_known_kid_is_refused(ring):
    forged = jwt.encode(claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": ring.current().kid})
    assert refused(ring, forged) == "signature"


def test_tampered_payload_is_refused(ring):
    header, body, signature = issue(ring).split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data.update(role="admin", stores="*")
    assert refused(ring, f"{header}.{b64(json.dumps(data).encode())}.{signature}") == "signature"


def test_tampered_signature_is_refused(ring):
    header, body, signature = issue(ring).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert refused(ring, f"{header}.{body}.{flipped}") == "signature"
    assert refused(ring, f"{header}.{body}.") in ("signature", "malformed")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "Bearer abc"])
def test_garbage_is_malformed(ring, garbage):
    assert refused(ring, garbage) == "malformed"


def test_missing_or_malformed_claims_are_refused(ring):
    key = ring.current()

    def signed(body: dict) -> str:
        return jwt.encode(body, key.private, algorithm="EdDSA", headers={"kid": key.kid})

    no_jti = claims()
    del no_jti["jti"]
    assert refused(ring, signed(no_jti)) == "claims"
    assert refused(ring, signed(claims(stores="s1"))) == "claims"
    assert refused(ring, signed(claims(role=7))) == "claims"


# ---- the ring on disk ----------------------------------------------------------------------------------------


def test_the_ring_is_private_on_disk(tmp_path):
    directory = tmp_path / "auth" / "signing"
    key, made = keys.ensure(directory, KEEP)
    assert made
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(p.name for p in directory.iterdir())
    assert files == [f"{key.kid}.json", f"{key.kid}.pem"]
    assert all(stat.S_IMODE((directory / f).stat().st_mode) == 0o600 for f in files)
    again, made_again = keys.ensure(directory, KEEP)  # idempotent
    assert not made_again and again.kid == key.kid
    assert key.kid == keys.thumbprint(key.public)
    jwk = KeyRing(directory).jwks()["keys"][0]
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"], "kid": key.kid, "alg": "EdDSA", "use": "sig"}
    assert "d" not in jwk  # never the private part


def test_an_empty_ring_says_run_init_and_looks_again(tmp_path):
    clock = Clock()
    ring = KeyRing(tmp_path / "later", clock=clock)
    with pytest.raises(keys.NoSigningKey, match="bazaar auth init"):
        ring.current()
    assert ring.jwks() == {"keys": []}
    made, _ = keys.ensure(tmp_path / "later", KEEP)  # `bazaar auth init` after the API started
    with pytest.raises(keys.NoSigningKey):
        ring.current()  # read this very second
    clock.t += keys.UNKNOWN_KID_RELOAD_S
    assert ring.current().kid == made.kid  # no 30 s wait


def test_rotation_old_tokens_live_until_expiry_then_the_old_key_goes(tmp_path):
    directory = tmp_path / "signing"
    t0 = datetime.now(UTC) - timedelta(hours=2)  # the ring's history, all in the past of the tokens' clock
    old, _ = keys.ensure(directory, KEEP, now=t0)
    clock = Clock()
    api = KeyRing(directory, clock=clock)  # an API replica, its own clock
    old_token = issue(api)

    new = keys.rotate(directory, KEEP, now=t0 + timedelta(seconds=5))
    assert new.kid != old.kid
    cli = KeyRing(directory)
    assert cli.current().kid == new.kid  # new tokens carry the new kid ...
    new_token = issue(cli)
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid
    assert verify(cli, old_token).kid == old.kid  # ... and the old key still verifies what it signed
    assert {k["kid"] for k in cli.jwks()["keys"]} == {old.kid, new.kid}

    # the replica sees the new kid on the first token that names it (no restart, no 30 s wait) ...
    clock.t += keys.UNKNOWN_KID_RELOAD_S
    assert verify(api, new_token).kid == new.kid
    # ... and signs with the new key at its next periodic read
    assert issue(api) and jwt.get_unverified_header(issue(api))["kid"] == new.kid

    # a rotate before the old key's tokens could have expired keeps it
    keys.ensure(directory, KEEP, now=t0 + timedelta(seconds=5 + TTL))
    assert (directory / f"{old.kid}.pem").exists()
    # once they all have, the next init or rotate drops it
    later = t0 + timedelta(seconds=5 + KEEP + 1)
    _, made = keys.ensure(directory, KEEP, now=later)
    assert not made
    assert sorted(p.name for p in directory.iterdir()) == [f"{new.kid}.json", f"{new.kid}.pem"]
    clock.t += keys.RELOAD_S
    assert refused(api, old_token) == "unknown_kid"
    assert verify(api, new_token).kid == new.kid


def test_unknown_kids_reload_the_ring_at_most_once_a_second(tmp_path):
    directory = tmp_path / "signing"
    keys.ensure(directory, KEEP)
    clock = Clock()
    ring = KeyRing(directory, clock=clock)
    ring.load()
    loads = []
    original = ring.load

    def counting() -> None:
        loads.append(clock.t)
        original()

    ring.load = counting  # type: ignore[method-assign]
    for _ in range(50):
        assert ring.find("no-such-kid") is None
    assert loads == []  # loaded this very second
    clock.t += 1.0
    for _ in range(50):
        assert ring.find("no-such-kid") is None
    assert loads == [clock.t]
    clock.t += keys.RELOAD_S
    ring.current()
    assert len(loads) == 2  # the periodic read


def test_a_staged_rotation_publishes_the_new_key_before_it_signs(tmp_path):
    directory = tmp_path / "signing"
    old, _ = keys.ensure(directory, KEEP)
    staged = keys.rotate(directory, KEEP, activate_in_s=120)
    ring = KeyRing(directory)
    assert ring.current().kid == old.kid  # still signing with the old key ...
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old.kid, staged.kid}  # ... while every replica learns the new one
    assert verify(ring, issue(ring)).kid == old.kid
    later = datetime.now(UTC) + timedelta(seconds=121)
    assert keys.current_of(keys.read(directory), later).kid == staged.kid  # then the new one takes over
    assert keys.read(directory)[old.kid].retired_at == staged.active_at
    # the old key stays until the tokens it signed up to its retirement have expired
    assert keys.prune(directory, KEEP, now=staged.active_at + timedelta(seconds=KEEP - 1)) == []
    assert keys.prune(directory, KEEP, now=staged.active_at + timedelta(seconds=KEEP + 1)) == [old.kid]
