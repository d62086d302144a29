"""Every route declares its access: each route of the API (and so each operation of its OpenAPI
document), each page of a stream worker and each page of the analytics process names the permission
it needs (or says it is public), and the public ones are the few that must be."""

from __future__ import annotations

import pytest

from api.authz import route_access
from api.main import create_app
from api.routes import events
from bazaar_core.settings import Settings
from domain.access import EVENT_PERMISSIONS, ROLE_PERMISSIONS, Permission

pytestmark = pytest.mark.unit

# Public API routes: the token exchange and pairing (a caller has no token yet), the key set that
# verifies tokens, liveness and readiness (probes carry no token), and the web app's files (its
# first screen asks for a pairing code).
PUBLIC_API = {
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/pair"),
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
