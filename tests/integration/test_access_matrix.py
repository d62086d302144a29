"""The access matrix, generated from the route tables, against the real stack: every route of the
API (``api.authz.route_access``), every page of a stream worker (``streams.web.PAGES``) and of the
analytics process (``clickhouse.web.PAGES``), asked without a token and by a key of every role, at
a store in the key's scope and at one outside it. Each answer must be the table's:

* no token: 401 ``unauthorized`` with ``WWW-Authenticate: Bearer`` (a public route: anything else);
* a role and store the table allows (``domain.access.decide``): neither 401 ``unauthorized`` nor
  403 ``forbidden`` (the route ran: 404 for an unknown alert, 422 for a refused webhook address are
  its own answers), and no 5xx (a 503 would say the API's service token was refused behind it);
* any other: 403 ``forbidden`` naming the permission and the store.

``POST /v1/events`` is asked once per event type (each needs its own permission at its store, a
transfer at the sending store). One stack for the module: Kafka, the API, one worker, analytics;
one key per role, rate limits raised so that the matrix's own pace is not what it measures.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.authz import Access, route_access
from api.main import create_app
from bazaar_core.page_access import Page
from bazaar_core.settings import Settings
from clickhouse import web as analytics_web
from domain.access import ALL_STORES, EVENT_PERMISSIONS, Permission, Principal, Role, decide
from streams import web as worker_web
from tests.authclient import make_key
from tests.conftest import free_ports, stack_settings
from tests.integration.analytics_harness import Analytics
from tests.integration.harness import Running

pytestmark = pytest.mark.integration

IN, OUT = "lahore-007", "karachi-001"  # every scoped key holds IN; none holds OUT
SKU = "matrix-sku"
FAST = (100_000.0, 100_000)  # (per second, burst): every role, and per address
ROLES = list(Role)
PARAMS = {"sku": SKU, "name": "daily_sales", "path:path": "x.js", "path": "x.js"}


@dataclass(frozen=True)
class Route:
    port: str  # "api", "worker", "analytics"
    method: str
    path: str
    permission: Permission | None  # None: public
    store: str | None  # "path:store_id", "query:store_id", "body", or None
    query_token: bool = False

    @property
    def id(self) -> str:
        return f"{self.port} {self.method} {self.path}"


def routes() -> list[Route]:
    """The three tables, as data (read at collection: a new route is a new case by itself)."""
    out = []
    table: dict[tuple[str, str], Access | None] = route_access(create_app(Settings()))
    for (method, path), access in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        assert access is not None, f"{method} {path} declares no access (tests/unit/test_route_access.py says so too)"
        if method == "HEAD" or (access.permission is None and not path.startswith(("/v1/", "/health", "/livez", "/.well-known"))):
            continue  # the web app's files: public, their own tests
        out.append(Route("api", method, path, access.permission, access.store, access.query_token))
    for port, pages in (("worker", worker_web.PAGES), ("analytics", analytics_web.PAGES)):
        for path, page in sorted(pages.items()):
            out.append(Route(port, "GET", path, page.permission, page.store))
    return out


ROUTES = routes()


@dataclass
class Stack:
    running: Running
    analytics: Analytics
    keys: dict[Role, str]
    tokens: dict[Role, str]
    principals: dict[Role, Principal]
    http: httpx.Client

    def base(self, port: str) -> str:
        s = self.running.settings
        return {
            "api": self.running.api_url,
            "worker": s.worker_urls[0],
            "analytics": s.analytics_base_url,
        }[port]

    def exchange(self, key: str) -> str:
        r = self.http.post(f"{self.running.api_url}/v1/auth/token", json={"api_key": key})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def scope_of(role: Role) -> list[str] | str:
    return ALL_STORES if role is Role.ADMIN else [IN]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("access-matrix")
    limits = {role.value: FAST for role in Role}
    settings = stack_settings(kafka_bootstrap, base, "matrix", auth=True, rate_limits=limits, auth_rate_per_address=FAST)
    running = Running(settings, [free_ports(1)[0]])
    analytics = Analytics(running)
    try:
        running.start()
        analytics.start()
        analytics.wait_ready()  # its /ready is in the matrix: a public page that answers (200)
        keys = {role: make_key(running.settings, role, scope_of(role), name=f"matrix {role.value}") for role in ROLES}
        http = httpx.Client(timeout=60)
        stack = Stack(running, analytics, keys, {}, {}, http)
        for role, key in keys.items():
            stack.tokens[role] = stack.exchange(key)
            stores = scope_of(role)
            stack.principals[role] = Principal("x", "x", role, stores if isinstance(stores, str) else tuple(stores))
        yield stack
    finally:
        analytics.close()
        running.close()


# ---- one request of the matrix ------------------------------------------------------------------------


def event_body(kind: str, store: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "store_id": store,
        "terminal_id": "pos-1",
        "occurred_at": "2026-11-22T18:04:11+05:00",
        "lines": [{"sku": SKU, "quantity": 1}],
    }
    if kind in ("sale", "return"):
        body["lines"][0]["unit_price"] = "10.00"
    if kind == "purchase":
        body["supplier"] = "matrix"
        body["lines"][0]["unit_cost"] = "8.00"
    if kind == "adjustment":
        body["reason"] = "damage"
        body["lines"][0]["quantity"] = -1
    if kind == "transfer":
        body["to_store_id"] = OUT if store == IN else IN
    return body


def request_of(route: Route, store: str, variant: str | None) -> tuple[str, dict[str, Any], dict[str, Any] | None, bytes | None]:
    """(path, query, JSON body, raw body) of ``route`` about ``store``."""
    path = route.path
    for name, value in {**PARAMS, "store_id": store, "alert_id": str(uuid.uuid4()), "webhook_id": str(uuid.uuid4())}.items():
        path = path.replace("{" + name + "}", value)
    path = path.replace("{credential_id}", "000000000000")
    query: dict[str, Any] = {}
    if route.store == "query:store_id":
        query["store_id"] = store
    body: dict[str, Any] | None = None
    raw = None
    key = (route.method, route.path)
    if key == ("POST", "/v1/events"):
        body = event_body(variant or "sale", store)
    elif key == ("POST", "/v1/webhooks"):  # an address the rules refuse without a lookup: 422 when allowed
        body = {"url": "https://127.0.0.1/matrix", "store_ids": [store]}
    elif key == ("POST", "/v1/credentials"):
        # a manager's key: its grant is credentials:manage's (a cashier's or terminal's is pairing:manage's)
        body = {"name": "matrix made", "role": "manager", "stores": [store]}
    elif key == ("POST", "/v1/stores/{store_id}/pairing-codes"):
        body = {"role": "terminal"}
    elif key == ("PUT", "/v1/products/{sku}"):
        body = {"name": "Matrix product", "price": "10.00"}
    elif key == ("PUT", "/v1/stores/{store_id}"):
        body = {"name": f"Matrix {store}"}
    elif key == ("PUT", "/v1/stores/{store_id}/products/{sku}"):
        body = {"price": "11.00"}
    elif key == ("POST", "/v1/products:import"):
        raw = b"sku,name,unit,price\nmatrix-import,Matrix import,piece,5.00\n"
    elif key == ("POST", "/v1/stores/{store_id}/alerts/{alert_id}/ack"):
        body = {"note": "matrix"}
    elif route.method in ("POST", "PUT"):
        body = {}
    if route.store == "body":
        assert body is not None, f"{route.id}: its store is in the body; say how to build one here"
    return path, query, body, raw


def ask(stack: Stack, route: Route, token: str | None, store: str, variant: str | None = None) -> httpx.Response:
    path, query, body, raw = request_of(route, store, variant)
    headers: dict[str, str] = {}
    if token is not None:
        if route.query_token:
            query["access_token"] = token  # as a browser's EventSource sends it
        else:
            headers["Authorization"] = f"Bearer {token}"
    if route.path == "/v1/auth/token":
        body = {"api_key": stack.keys[Role.CASHIER]}
    if route.path == "/v1/auth/pair":
        body = {"code": "ZZZZ2222"}  # no such code: the route's own 401 invalid_code, not an access refusal
    url = stack.base(route.port) + path
    if raw is not None:
        headers["Content-Type"] = "text/csv"
    if route.path.endswith("/alerts/stream"):
        with stack.http.stream(route.method, url, params=query, headers=headers) as r:
            content = r.read() if r.status_code != 200 else b""  # an open stream: its status is the answer
            return httpx.Response(r.status_code, headers=r.headers, content=content, request=r.request)
    return stack.http.request(route.method, url, params=query, headers=headers, json=body, content=raw)


def refused_401(r: httpx.Response) -> bool:
    return r.status_code == 401 and r.json().get("error") == "unauthorized"


def refused_403(r: httpx.Response) -> bool:
    return r.status_code == 403 and r.json().get("error") == "forbidden"


def expected(stack: Stack, route: Route, role: Role, store: str, variant: str | None) -> tuple[bool, Permission | None]:
    """(allowed, the permission a refusal names) from the table. Events are checked twice: the
    route's own permission first (before the body is read), then each event's at its store."""
    who = stack.principals[role]
    if route.permission is None:
        return True, None
    if variant is not None:
        if not decide(who, route.permission).allowed:
            return False, route.permission
        return decide(who, EVENT_PERMISSIONS[variant], store).allowed, EVENT_PERMISSIONS[variant]
    d = decide(who, route.permission, store if route.store is not None else None)
    return d.allowed, route.permission


def check(stack: Stack, route: Route, role: Role | None, store: str, variant: str | None = None) -> str | None:
    """What is wrong with the answer to one cell of the matrix (None: it is the table's)."""
    token = None if role is None else stack.tokens[role]
    if route.path == "/v1/auth/logout" and role is not None:
        token = stack.exchange(stack.keys[role])  # logout revokes the token it presents: a fresh one
    r = ask(stack, route, token, store, variant)
    cell = f"{route.id}{' ' + variant if variant else ''} as {role.value if role else 'nobody'} at {store}: {r.status_code} {r.text[:200]}"
    if role is None:
        if route.permission is None and route.path != "/v1/auth/logout":
            return None if not (refused_401(r) or refused_403(r)) else cell
        ok = refused_401(r) and r.headers.get("www-authenticate") == "Bearer"
        return None if ok else cell
    allowed, permission = expected(stack, route, role, store, variant)
    if allowed:
        return None if not (refused_401(r) or refused_403(r) or r.status_code >= 500) else cell
    if not refused_403(r):
        return cell
    body = r.json()
    if body.get("permission") != permission.value:  # type: ignore[union-attr]  # refused: it has one
        return f"{cell} (names {body.get('permission')!r}, not {permission.value!r})"  # type: ignore[union-attr]
    who = stack.principals[role]
    if route.store is not None and who.can(permission) and not who.covers(store) and body.get("store_id") != store:  # type: ignore[arg-type]
        return f"{cell} (names store {body.get('store_id')!r}, not {store!r})"  # refused for the store: it says which
    return None


def cells(route: Route) -> list[tuple[Role | None, str, str | None]]:
    """Every (role or no token, store, event type) the route is asked with."""
    variants: list[str | None] = list(EVENT_PERMISSIONS) if (route.method, route.path) == ("POST", "/v1/events") else [None]
    stores = [IN, OUT] if route.store is not None else [IN]
    out: list[tuple[Role | None, str, str | None]] = [(None, IN, variants[0])]
    out += [(role, store, v) for role in ROLES for store in stores for v in variants]
    return out


@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
def test_every_answer_is_the_tables(stack, route):
    wrong = [w for role, store, variant in cells(route) if (w := check(stack, route, role, store, variant))]
    assert not wrong, "\n".join(wrong)


def test_the_matrix_covers_every_table():
    ports = {r.port for r in ROUTES}
    assert ports == {"api", "worker", "analytics"}
    assert sum(1 for r in ROUTES if r.port == "api") > 30
    assert {r.path for r in ROUTES if r.port == "worker"} == set(worker_web.PAGES)
    assert {r.path for r in ROUTES if r.port == "analytics"} == set(analytics_web.PAGES)
    assert any(r.store == "body" for r in ROUTES) and any(r.query_token for r in ROUTES)
    assert len({Page(r.permission) for r in ROUTES}) > 10  # many permissions, not one
