"""Access to the internal web ports: the stream workers' pages and the analytics process's.

Reaching a worker's or the analytics port must not bypass the API: each page of those processes
declares what it needs in one table per process (``Page``: a permission of ``domain.access`` and
the path parameter naming its store, or public), and ``PageGuard`` answers a page's request from
its ``Authorization: Bearer`` token, verified with the signing key ring (``auth_path/signing``, the
same files the API signs with; it is read again as the API's is, on an unknown kid and every 30 s).

Two kinds of token are taken there:

* a caller's own access token, as the API issued it (audience ``auth_audience``): ``bazaar report``,
  an operator's ``/metrics`` or ``/status``, a test;
* the API's service token (``ServiceToken``): the API asks the workers (stock lookups) and the
  analytics process (reports) for its callers, whose own access the API has checked, with a token
  it mints itself: subject ``service:api``, role ``manager`` over every store (the narrowest role
  holding both ``stock:read`` and ``reports:read``; no ``ops:read``, no keys, no webhooks), for the
  audience ``auth_audience + "/internal"``, which the API itself refuses: a service token that leaks
  from an internal port opens no route of the API.

A verified token is kept until it expires (bounded), so a busy caller pays one signature check per
token, not per request. Revocations are the API's: these processes do not follow the revocations
topic, so a revoked token still opens an internal page until it expires (``access_token_ttl_s``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from bazaar_core.auth import tokens
from bazaar_core.auth.keys import KeyRing
from bazaar_core.settings import Settings
from domain.access import Decision, Permission, Principal, Role, decide

log = logging.getLogger("bazaar.page_access")

SERVICE_SUB = "service:api"
SERVICE_NAME = "api"
SERVICE_ROLE = Role.MANAGER
CACHE_MAX = 10_000  # verified tokens kept (a few hundred bytes each)
RENEW_LEFT = 0.5  # the service token is minted again once less than this share of its life is left


def service_audience(settings: Settings) -> str:
    """The audience of the API's service token: the internal ports take it, the API does not."""
    return settings.auth_audience + "/internal"


def ring_of(settings: Settings) -> KeyRing:
    return KeyRing(settings.auth_path / "signing")


@dataclass(frozen=True)
class Page:
    """One page's access: ``permission`` (None: public) at the store ``store`` locates:
    ``"path:NAME"`` or ``"query:NAME"`` (absent or empty: not about one store), as the API's
    ``requires`` does."""

    permission: Permission | None
    store: str | None = None

    @property
    def label(self) -> str:
        return self.permission.value if self.permission is not None else "public"

    def store_of(self, path_params: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        if self.store is None:
            return None
        where, _, name = self.store.partition(":")
        return (path_params if where == "path" else query).get(name) or None


PRINCIPAL = "bazaar.principal"  # where a guarded page finds its caller on the request


def guarded(app: Any, guard: PageGuard, table: Mapping[str, Page]) -> Callable[[str], Callable[[Callable[..., Any]], Any]]:
    """``app.page`` for the pages of ``table``: ``@page("/stock/{store_id}")`` registers a Faust page
    that first answers 401/403 from ``guard`` (the page's own code runs only for a caller allowed
    there, found as ``request[PRINCIPAL]``). A path missing from ``table`` is an error at start."""

    def page(path: str) -> Callable[[Callable[..., Any]], Any]:
        access = table[path]

        def register(handler: Callable[..., Any]) -> Any:
            async def checked(web: Any, request: Any, **params: str) -> Any:
                who = guard.check(access, request.headers.get("Authorization"), access.store_of(params, request.query))
                if isinstance(who, Refusal):
                    return web.json(who.body, status=who.status, headers=who.headers)
                request[PRINCIPAL] = who
                return await handler(web, request, **params)

            checked.__name__ = checked.__qualname__ = handler.__name__  # Faust names the view after it
            checked.__doc__ = handler.__doc__
            return app.page(path)(checked)

        return register

    return page


@dataclass(frozen=True)
class Refusal:
    """A page's 401 or 403, in the API's error shape."""

    status: int
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


def _unauthorized(reason: str) -> Refusal:
    return Refusal(401, {"error": "unauthorized", "detail": [{"index": None, "field": "authorization", "reason": reason}]})


def forbidden(d: Decision) -> Refusal:
    field = "store_id" if d.store_id is not None and "store" in d.reason else None
    detail = [{"index": None, "field": field, "reason": d.reason}]
    return Refusal(403, {"error": "forbidden", "detail": detail, "permission": d.permission.value, "store_id": d.store_id})


# Who a page's caller is with BAZAAR_AUTH_REQUIRED=false (as the API's api.authz.NOBODY)
NOBODY = Principal(sub="anonymous", name="auth off", role=Role.ADMIN, stores="*")


class PageGuard:
    """Checks the requests of one process's pages (``required=False``: everyone is admin, as the
    API's ``NOBODY`` with ``BAZAAR_AUTH_REQUIRED=false``)."""

    def __init__(self, settings: Settings, ring: KeyRing | None = None, clock=time.time) -> None:
        self.required = settings.auth_required
        self.issuer = settings.auth_issuer
        self.audiences = frozenset({settings.auth_audience, service_audience(settings)})
        self.ring = ring if ring is not None else ring_of(settings)
        self.clock = clock
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[Principal, int]] = {}  # token -> (who, exp)

    def check(self, page: Page, authorization: str | None, store_id: str | None) -> Principal | Refusal | None:
        """The caller (None on a public page), or the refusal to answer."""
        if page.permission is None:
            return None
        who = self.principal(authorization)
        if isinstance(who, Refusal):
            return who
        d = decide(who, page.permission, store_id)
        return who if d.allowed else forbidden(d)

    def principal(self, authorization: str | None) -> Principal | Refusal:
        """Who the ``Authorization`` header says (``NOBODY`` with auth off), or why not (401)."""
        if not self.required:
            return NOBODY
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("an Authorization: Bearer <access token> header is required")
        now = self.clock()
        held = self._verified.get(token)
        if held is not None and held[1] > now:
            return held[0]
        try:
            who, exp = self._verify(token)
        except tokens.BadToken as exc:
            return _unauthorized(str(exc))
        with self._lock:
            if len(self._verified) >= CACHE_MAX:
                self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
                if len(self._verified) >= CACHE_MAX:
                    self._verified = {}
            self._verified[token] = (who, exp)
        return who

    def _verify(self, token: str) -> tuple[Principal, int]:
        try:  # which of the two audiences it claims (the signature is checked below, for that one)
            claimed = jwt.decode(token, options={"verify_signature": False}).get("aud")
        except jwt.PyJWTError:
            raise tokens.BadToken("malformed") from None
        audience = claimed if isinstance(claimed, str) and claimed in self.audiences else next(iter(sorted(self.audiences)))
        c = tokens.verify(token, self.ring, issuer=self.issuer, audience=audience)
        try:
            role = Role(c.role)
        except ValueError:
            raise tokens.BadToken("claims", f"unknown role {c.role!r}") from None
        return Principal(sub=c.sub, name=c.name, role=role, stores=c.stores, jti=c.jti), c.exp


class ServiceToken:
    """The API's own access token for the internal ports, minted with the ring's current key and
    minted again when half its life is gone (or the key it names is no longer current)."""

    def __init__(self, settings: Settings, ring: KeyRing | None = None, clock=time.time) -> None:
        self.settings = settings
        self.ring = ring if ring is not None else ring_of(settings)
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._kid = ""

    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}``; ``{}`` with auth off."""
        if not self.settings.auth_required:
            return {}
        now = self.clock()
        if self._token is None or now >= self._renew_at or self.ring.current().kid != self._kid:
            with self._lock:
                self._mint(now)
        return {"Authorization": f"Bearer {self._token}"}

    def _mint(self, now: float) -> None:
        s = self.settings
        token, claims = tokens.issue(
            self.ring,
            sub=SERVICE_SUB,
            name=SERVICE_NAME,
            role=SERVICE_ROLE.value,
            stores="*",
            issuer=s.auth_issuer,
            audience=service_audience(s),
            ttl_s=s.access_token_ttl_s,
            now=now,
        )
        self._token, self._kid = token, claims.kid
        self._renew_at = now + s.access_token_ttl_s * RENEW_LEFT
