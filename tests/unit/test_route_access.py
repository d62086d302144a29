"""Every route declares its access: each route of the API (and so each operation of its OpenAPI
document), each page a stream worker serves and each page the analytics process serves (Faust's
built-in pages included) names the permission it needs (or says it is public), and the public ones
are the few that must be."""

from __future__ import annotations

import pytest

from api.authz import route_access
from api.main import create_app
from api.routes import events
from bazaar_core.page_access import Page
from bazaar_core.settings import Settings
from domain.access import EVENT_PERMISSIONS, ROLE_PERMISSIONS, Permission

pytestmark = pytest.mark.unit

# Public API routes: the token exchange and pairing (a caller has no token yet), the key set that
# verifies tokens, liveness and readiness (probes carry no token), and the web app's files (its
# first screen asks for a pairing code).
PUBLIC_API = {
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/pair"),
    ("POST", "/v1/auth/logout"),  # checks its own token: any valid one may end itself, whatever its role
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/livez"),
    ("GET", "/health"),
}


@pytest.fixture(scope="module")
def app():
    return create_app(Settings())


def test_every_api_route_declares_its_access(app):
    table = route_access(app)
    assert len(table) > 30  # the routes were found (FastAPI keeps included routers as branches)
    missing = sorted(k for k, access in table.items() if access is None)
    assert not missing, f"routes declaring no access (add requires(...) or PUBLIC): {missing}"


def test_only_the_few_routes_that_must_be_public_are(app):
    public = {k for k, access in route_access(app).items() if access is not None and access.permission is None}
    assert {("GET", "/livez"), ("GET", "/health")} <= public
    # anything else public is a file of the web app: nothing of the API's data or metrics
    assert not {(m, p) for m, p in public - PUBLIC_API if p.startswith(("/v1/", "/metrics", "/.well-known/"))}


def test_every_operation_of_the_document_carries_its_access(app):
    document = app.openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "x-permission" in operation, f"{method.upper()} {path}"
            permission = operation["x-permission"]
            assert permission == "public" or permission in {p.value for p in Permission}, (path, permission)
            # what a generated client reads: a bearer JWT on every route but the public ones
            if permission == "public":
                assert operation["security"] == [], (method, path)
            else:
                assert {"bearer": []} in operation["security"], (method, path)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    stream = document["paths"]["/v1/stores/{store_id}/alerts/stream"]["get"]
    assert stream["security"] == [{"bearer": []}, {"accessTokenQuery": []}]
    stock = document["paths"]["/v1/stores/{store_id}/stock/{sku}"]["get"]
    assert stock["x-permission"] == "stock:read" and stock["x-store"] == "path:store_id"
    assert document["paths"]["/metrics"]["get"]["x-permission"] == "ops:read"


def test_store_routes_name_where_their_store_is(app):
    """A route under /v1/stores/{store_id}/ is about that store: its access says so (else a store-
    scoped credential would reach every store's)."""
    for (method, path), access in route_access(app).items():
        if path.startswith("/v1/stores/{store_id}") and access is not None and access.permission is not None:
            assert access.store == "path:store_id", (method, path)


def test_the_event_routes_own_check_refuses_only_roles_that_may_write_no_event():
    """POST /v1/events checks one permission before reading the body; each event is then checked
    for its type's: every role holding any event permission must hold the route's."""
    writers = [role for role, held in ROLE_PERMISSIONS.items() if held & set(EVENT_PERMISSIONS.values())]
    assert writers and all(events.ROUTE_PERMISSION in ROLE_PERMISSIONS[role] for role in writers)
    assert any(events.ROUTE_PERMISSION not in held for held in ROLE_PERMISSIONS.values())  # it refuses someone


# ---- the internal ports -----------------------------------------------------------------------------

PUBLIC_PAGES = {"/", "/livez", "/health"}  # Faust's index ({"status": "OK"}), liveness, readiness
ANALYTICS_PUBLIC = PUBLIC_PAGES | {"/ready"}  # its readiness (caught up) apart from /health (serving)


def served(app) -> set[str]:
    """Every path a Faust app's web server answers (its own blueprints' pages too)."""
    web = app.web
    web.init_server()
    return {route.resource.canonical for route in web.web_app.router.routes()}


def check_pages(paths: set[str], table: dict[str, Page], public: set[str] = PUBLIC_PAGES) -> None:
    assert paths, "no page found"
    assert not paths - set(table), f"pages declaring no access: {sorted(paths - set(table))}"
    assert not set(table) - paths, f"declared pages that are not served: {sorted(set(table) - paths)}"
    assert {p for p, page in table.items() if page.permission is None} == public
    for path, page in table.items():
        if "{store_id}" in path:
            assert page.store == "path:store_id", path


def test_every_worker_page_declares_its_access(tmp_path):
    from streams import web
    from streams.app import build

    pipeline = build(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"))
    web.register_views(pipeline)
    check_pages(served(pipeline.app), web.PAGES)
    assert web.PAGES["/metrics"].permission is Permission.OPS_READ


def test_every_analytics_page_declares_its_access(tmp_path):
    from clickhouse import web
    from clickhouse.app import build

    pipeline = build(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"), None, None)  # type: ignore[arg-type]  # no query at build
    web.register_views(pipeline)
    check_pages(served(pipeline.app), web.PAGES, ANALYTICS_PUBLIC)
    assert web.PAGES["/reports/{name}"] == Page(Permission.REPORTS_READ, "query:store_id")
