"""Every route says what it needs: the API's side of ``domain.access``.

A route declares its access once, as a dependency: ``requires(P.STOCK_READ, store="path:store_id")``
(or ``PUBLIC`` for the few routes anyone may call: the token exchange, pairing, the JSON Web Key
Set, liveness, the web app's files). The dependency authenticates the caller (``app.state.auth``,
an ``Authenticator``), finds the route's store, and answers 401 or 403 before the route runs. The
declaration is also data: ``route_access(app)`` lists every route's, the OpenAPI carries it as
``x-permission`` / ``x-store``, and a test fails when a route declares none.

Where a route's store is:

* ``path:NAME`` / ``query:NAME``: that parameter (a missing or empty query parameter: every store in scope);
* ``body``: inside the body, more than one perhaps (events, a webhook's stores): the route checks
  each with ``check`` after parsing, all before it produces anything;
* ``None``: the route is not about one store; a list it answers is filtered to the caller's scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Request, routing
from fastapi.routing import APIRoute

from api.errors import ApiError, issue
from domain.access import ALL_STORES, Decision, Permission, Principal, Role, decide

BEARER = {"WWW-Authenticate": "Bearer"}
# Who a request is when BAZAAR_AUTH_REQUIRED=false (a benchmark's without-auth half, local experiments)
NOBODY = Principal(sub="anonymous", name="auth off", role=Role.ADMIN, stores=ALL_STORES)


class Authenticator(Protocol):
    """What ``app.state.auth`` does (api.authn): the bearer token of a request to a principal
    (401 ``ApiError`` when absent, bad, expired or revoked; 429 over the caller's rate)."""

    async def authenticate(self, request: Request, *, query_token: bool = False) -> Principal: ...


def unauthorized(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", [issue("authorization", reason)], headers=BEARER)


def forbidden(d: Decision) -> ApiError:
    field = "store_id" if d.store_id is not None and "store" in d.reason else None
    return ApiError(403, "forbidden", [issue(field, d.reason)], extra={"permission": d.permission.value, "store_id": d.store_id})


def check(who: Principal, permission: Permission, store_id: str | None = None) -> None:
    """403 unless ``who`` may use ``permission`` at ``store_id``."""
    d = decide(who, permission, store_id)
    if not d.allowed:
        raise forbidden(d)


def check_all(who: Principal, wanted: Iterable[tuple[Permission, str | None]]) -> None:
    """All or nothing: the first refusal of ``wanted`` refuses the whole request."""
    for permission, store_id in wanted:
        check(who, permission, store_id)


@dataclass(frozen=True)
class Access:
    permission: Permission | None  # None: public
    store: str | None = None  # "path:NAME", "query:NAME", "body", or None
    query_token: bool = False  # also take ``?access_token=`` (the browser's EventSource sends no header)

    def store_of(self, request: Request) -> str | None:
        if self.store is None or self.store == "body":
            return None
        where, _, name = self.store.partition(":")
        if where == "path":
            return request.path_params.get(name)
        return request.query_params.get(name) or None  # '' (as reports take it): every store in scope


class Requires:
    """The dependency behind ``requires``; returns the principal (None on a public route)."""

    def __init__(self, access: Access) -> None:
        self.access = access

    async def __call__(self, request: Request) -> Principal | None:
        access = self.access
        if access.permission is None:
            return None
        if not request.app.state.settings.auth_required:
            return NOBODY
        auth: Authenticator = request.app.state.auth
        who = await auth.authenticate(request, query_token=access.query_token)
        check(who, access.permission, access.store_of(request))
        request.state.principal = who
        return who


def requires(permission: Permission, store: str | None = None, *, query_token: bool = False) -> Any:
    """``Depends`` for a route needing ``permission`` (at the store ``store`` locates)."""
    return Depends(Requires(Access(permission, store, query_token)))


PUBLIC: Any = Depends(Requires(Access(None)))


def checked_inline(guard: Requires) -> Any:
    """For a route that calls ``await guard(request)`` itself, first thing, rather than as a
    dependency (``POST /v1/events``: solving a dependency costs about as much as the check): marks
    the endpoint with ``guard``'s access, so ``route_access`` and the OpenAPI still say it."""

    def mark(endpoint: Any) -> Any:
        endpoint.__dict__["access"] = guard.access
        return endpoint

    return mark


def principal_of(request: Request) -> Principal:
    """The caller a route's ``requires`` authenticated (``NOBODY`` when auth is off)."""
    return getattr(request.state, "principal", NOBODY)


def api_routes(app: FastAPI) -> list[APIRoute]:
    """The app's routes, through the routers it included (FastAPI >= 0.13x keeps those as branches:
    ``app.routes`` then holds no APIRoute of an included router)."""
    expand = getattr(routing, "iter_route_contexts", None)
    found = [getattr(r, "route", r) for r in expand(app.routes)] if expand else list(app.routes)
    return [r for r in found if isinstance(r, APIRoute)]


def route_access(app: FastAPI) -> dict[tuple[str, str], Access | None]:
    """(method, path) -> the route's declared access; None for a route that declares none (a bug:
    tests/unit/test_route_access.py fails on it)."""
    out: dict[tuple[str, str], Access | None] = {}
    for route in api_routes(app):
        found = next((d.call.access for d in route.dependant.dependencies if isinstance(d.call, Requires)), None)
        found = found or getattr(route.endpoint, "access", None)  # checked_inline
        for method in route.methods or ():
            out[(method, route.path)] = found
    return out


BEARER_SCHEME = "bearer"  # the OpenAPI security schemes: the header every client sends,
QUERY_TOKEN = "accessTokenQuery"  # and the query parameter only the alert stream also takes


def document(app: FastAPI, schema: dict) -> None:
    """Put each operation's access in the OpenAPI: its security (a bearer JWT, or none for a public
    route) and ``x-permission``, ``x-store``; with auth off the document says the same (the
    contract does not change with a setting)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /v1/auth/token (an API key) or POST /v1/auth/pair (a pairing code)",
    }
    for (method, path), access in route_access(app).items():
        op = schema.get("paths", {}).get(path, {}).get(method.lower())
        if op is None or access is None:
            continue
        op["x-permission"] = access.permission.value if access.permission else "public"
        if access.store:
            op["x-store"] = access.store
        if access.permission is None:
            op["security"] = []
            continue
        op["security"] = [{BEARER_SCHEME: []}]
        if access.query_token:
            schemes[QUERY_TOKEN] = {
                "type": "apiKey",
                "in": "query",
                "name": "access_token",
                "description": "The access token, for a browser's EventSource (it sends no header)",
            }
            op["security"].append({QUERY_TOKEN: []})
