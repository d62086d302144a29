"""JWT access tokens: EdDSA (Ed25519) signed with the ring's current key, verified with pyjwt.

Header ``{"alg": "EdDSA", "typ": "JWT", "kid"}``; claims ``iss``, ``aud``, ``sub`` (the credential's
id), ``jti`` (a uuid4, what logout revokes), ``iat``, ``nbf``, ``exp``, and the credential's
``role``, ``stores`` (a list, or ``"*"``) and ``name``. ``verify`` accepts EdDSA only: a token
claiming ``none``, HS256 (signed with the public key as an HMAC secret) or any other algorithm is
refused before a key is looked at. Every refusal is a ``BadToken`` whose ``reason`` names its kind.
Revocation is not known here: the API checks ``sub`` and ``jti`` against the revocations topic.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from bazaar_core.auth.keys import CLOCK_SKEW_S, KeyRing

ALGORITHM = "EdDSA"
MAX_TOKEN_CHARS = 4096  # a real one is ~450; anything far longer is refused before it is parsed
REQUIRED = ["iss", "aud", "sub", "jti", "iat", "nbf", "exp"]

REASONS = {
    "malformed": "not a JWT",
    "algorithm": "the token's algorithm is not EdDSA",
    "unknown_kid": "the token's signing key (kid) is unknown",
    "signature": "the token's signature does not verify",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet (nbf or iat in the future)",
    "audience": "the token is for another audience",
    "issuer": "the token is from another issuer",
    "claims": "the token lacks a claim or has a malformed one",
    "revoked": "the token or its credential has been revoked",
}


class BadToken(ValueError):
    """A token refused; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{REASONS[reason]}{': ' + detail if detail else ''}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    name: str
    role: str
    stores: tuple[str, ...] | str  # store ids, or "*"
    jti: str
    iat: int
    nbf: int
    exp: int
    kid: str


def issue(
    ring: KeyRing,
    *,
    sub: str,
    name: str,
    role: str,
    stores: tuple[str, ...] | list[str] | str,
    issuer: str,
    audience: str,
    ttl_s: int,
    now: float | None = None,
) -> tuple[str, Claims]:
    """A signed access token for a credential, valid ``ttl_s`` from ``now`` (default: the clock)."""
    key = ring.current()
    at = int(now if now is not None else time.time())
    scope: tuple[str, ...] | str = stores if isinstance(stores, str) else tuple(stores)
    claims = Claims(sub, name, role, scope, uuid.uuid4().hex, at, at, at + ttl_s, key.kid)
    payload = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "jti": claims.jti,
        "iat": at,
        "nbf": at,
        "exp": claims.exp,
        "role": role,
        "stores": scope if isinstance(scope, str) else list(scope),
        "name": name,
    }
    token = jwt.encode(payload, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, claims


def verify(token: str, ring: KeyRing, *, issuer: str, audience: str, leeway: float = CLOCK_SKEW_S) -> Claims:
    """The claims of a token signed by a key of ``ring``, for ``audience`` from ``issuer``, valid now."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise BadToken("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise BadToken("malformed") from None
    if header.get("alg") != ALGORITHM:  # none, HS256 with the public key, RS/ES...: refused before any key is used
        raise BadToken("algorithm", repr(header.get("alg")))
    kid = header.get("kid")
    key = ring.find(kid)
    if key is None:
        raise BadToken("unknown_kid", repr(kid) if isinstance(kid, str) else "")
    try:
        payload = jwt.decode(
            token,
            key.public,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": REQUIRED, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError:
        raise BadToken("expired") from None
    except jwt.ImmatureSignatureError:
        raise BadToken("not_yet_valid") from None
    except jwt.InvalidAudienceError:
        raise BadToken("audience") from None
    except jwt.InvalidIssuerError:
        raise BadToken("issuer") from None
    except jwt.InvalidSignatureError:
        raise BadToken("signature") from None
    except jwt.InvalidAlgorithmError:
        raise BadToken("algorithm") from None
    except jwt.MissingRequiredClaimError as exc:
        raise BadToken("claims", str(exc)) from None
    except jwt.DecodeError:
        raise BadToken("malformed") from None
    except jwt.PyJWTError as exc:  # any other claim pyjwt finds wrong (a non-integer exp, a bad jti type)
        raise BadToken("claims", str(exc)) from None
    return _claims(payload, key.kid)


def _claims(payload: dict[str, Any], kid: str) -> Claims:
    sub, name, role, stores, jti = (payload.get(k) for k in ("sub", "name", "role", "stores", "jti"))
    if not all(isinstance(v, str) and v for v in (sub, role, jti)) or not isinstance(name, str):
        raise BadToken("claims", "sub, jti, role and name must be strings")
    if stores == "*":
        scope: tuple[str, ...] | str = "*"
    elif isinstance(stores, list) and all(isinstance(s, str) for s in stores):
        scope = tuple(stores)
    else:
        raise BadToken("claims", 'stores must be a list of store ids or "*"')
    times = [payload.get(k) for k in ("iat", "nbf", "exp")]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise BadToken("claims", "iat, nbf and exp must be numbers")
    iat, nbf, exp = (int(t) for t in times)  # type: ignore[arg-type]  # numbers, checked above
    return Claims(str(sub), name, str(role), scope, str(jti), iat, nbf, exp, kid)
