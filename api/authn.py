"""Who is asking: the ``Authenticator`` behind ``app.state.auth`` (``api.authz`` calls it for every
route that requires a permission).

* The token: ``Authorization: Bearer <JWT>`` (or ``?access_token=`` where a route allows it: the
  browser's ``EventSource`` sends no header). Missing, malformed, refused by
  ``bazaar_core.auth.tokens.verify`` or revoked: 401 with ``WWW-Authenticate: Bearer``.
* A verified token is cached until it expires (bounded), so a terminal posting one event at a
  time pays a dict lookup, not an Ed25519 check, per request. Revocation is checked on every
  request all the same: the credential's id and the token's jti against the view's sets.
* A token bucket per credential (``domain.ratelimit.ROLE_LIMITS`` by role, ``settings.rate_limits``
  over them): 429 ``rate_limited`` with ``Retry-After``, counted in
  ``bazaar_api_rate_limited_total{role}``. The token and pairing routes are also limited per client
  address (``settings.auth_rate_per_address``) against guessing. Each replica counts on its own.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from prometheus_client import Counter

from api.auth_view import AuthView
from api.authz import unauthorized
from api.errors import ApiError, issue
from bazaar_core.auth import tokens
from bazaar_core.auth.keys import CLOCK_SKEW_S, KeyRing
from bazaar_core.auth.tokens import BadToken, Claims
from bazaar_core.settings import Settings
from domain.access import ALL_STORES, Principal, Role
from domain.ratelimit import Buckets, Limit, role_limits
from schemas.auth import CredentialRecord

RATE_LIMITED = Counter("bazaar_api_rate_limited_total", "Requests refused 429 over a rate limit", ["role"])
MAX_CACHED = 100_000  # verified tokens kept (a few hundred bytes each)
ADDRESS = "address"  # the metric's role label of a refusal by client address
READY_WAIT_S = 10.0  # a request arriving while the auth view is still loading waits this long


@dataclass(frozen=True, slots=True)
class Verified:
    principal: Principal
    claims: Claims
    until: float  # epoch seconds: the token's exp plus the allowed skew


def bearer(request: Request, query_token: bool) -> str:
    """The token a request presents; 401 when there is none."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("the Authorization header must be `Bearer <access token>`")
        return value.strip()
    if query_token:
        query = request.query_params.get("access_token")
        if query:
            return query
    raise unauthorized("an access token is required: `Authorization: Bearer <token>` (POST /v1/auth/token gives one)")


def too_many(wait_s: float, reason: str) -> ApiError:
    return ApiError(429, "rate_limited", [issue(None, reason)], headers={"Retry-After": str(max(1, math.ceil(wait_s)))})


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        view: AuthView,
        ring: KeyRing,
        *,
        ready: Callable[[], Awaitable[bool]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.view, self.ring, self.clock = settings, view, ring, clock
        self.limits: dict[Role, Limit] = role_limits(settings.rate_limits)
        self._buckets = {role: Buckets(limit) for role, limit in self.limits.items()}
        self._addresses = Buckets(Limit(*settings.auth_rate_per_address))
        self._cache: dict[str, Verified] = {}
        self._ready = ready or self._wait_view

    # ---- the request path ------------------------------------------------------------------------------

    async def authenticate(self, request: Request, *, query_token: bool = False) -> Principal:
        token = bearer(request, query_token)
        hit = self._cache.get(token)
        if hit is None or hit.until <= time.time():
            hit = self._verify(token)
        if not self.view.ready and not await self._ready():
            raise ApiError(
                503, "loading", [issue(None, "the credentials are still being read from Kafka; try again")], headers={"Retry-After": "1"}
            )
        who = hit.principal
        if self.view.is_revoked(who.sub, who.jti):
            self._cache.pop(token, None)
            raise unauthorized(tokens.REASONS["revoked"])
        wait = self._buckets[who.role].take(who.sub, self.clock())
        if wait > 0:
            RATE_LIMITED.labels(role=who.role.value).inc()
            limit = self.limits[who.role]
            raise too_many(wait, f"over this credential's rate ({limit.rate:g} a second, bursts of {limit.burst}, role {who.role.value!r})")
        request.state.principal = who
        request.state.claims = hit.claims
        return who

    def _verify(self, token: str) -> Verified:
        try:
            claims = tokens.verify(token, self.ring, issuer=self.settings.auth_issuer, audience=self.settings.auth_audience)
            role = Role(claims.role)
        except BadToken as exc:
            raise unauthorized(str(exc)) from None
        except ValueError:
            raise unauthorized(f"{tokens.REASONS['claims']}: unknown role {claims.role!r}") from None
        stores = ALL_STORES if claims.stores == ALL_STORES else tuple(claims.stores)
        hit = Verified(Principal(claims.sub, claims.name, role, stores, claims.jti), claims, claims.exp + CLOCK_SKEW_S)
        self._remember(token, hit)
        return hit

    def _remember(self, token: str, hit: Verified) -> None:
        cache = self._cache
        if len(cache) >= MAX_CACHED:
            now = time.time()
            for old in [t for t, v in cache.items() if v.until <= now]:
                del cache[old]
            while len(cache) >= MAX_CACHED:  # all still valid: forget the oldest (it is verified again if it comes back)
                del cache[next(iter(cache))]
        cache[token] = hit

    async def _wait_view(self) -> bool:
        return await asyncio.to_thread(self.view.follower.wait_ready, READY_WAIT_S)

    # ---- for the auth routes ---------------------------------------------------------------------------

    def limit_address(self, request: Request) -> None:
        """429 when this client address has asked the token or pairing routes too often."""
        address = request.client.host if request.client else "unknown"
        wait = self._addresses.take(address, self.clock())
        if wait > 0:
            RATE_LIMITED.labels(role=ADDRESS).inc()
            rate, burst = self.settings.auth_rate_per_address
            raise too_many(wait, f"too many token or pairing requests from this address ({rate:g} a second, bursts of {burst})")

    def issue(self, rec: CredentialRecord, ttl_s: int | None = None) -> tuple[str, Claims]:
        """An access token for a credential (the caller has checked it is known and not revoked)."""
        return tokens.issue(
            self.ring,
            sub=rec.id,
            name=rec.name,
            role=rec.role,
            stores=rec.stores,
            issuer=self.settings.auth_issuer,
            audience=self.settings.auth_audience,
            ttl_s=ttl_s or self.settings.access_token_ttl_s,
        )
