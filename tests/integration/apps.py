"""In-process API replicas for tests, set up and asked as a deployment is: ``bazaar auth init``
first (the API will not start without a signing key), then every request with an access token
exchanged for the admin key (or the key a test is about)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from bazaar_core.settings import Settings
from tests.authclient import BazaarAuth, admin_key


def api(settings: Settings, key: str | None = None, token: str | None = None) -> TestClient:
    """A ``TestClient`` of ``create_app(settings)`` (use it in a ``with``: the lifespan runs then)
    that authenticates with ``key``, or the admin key when auth is required; or sends ``token`` as
    it is (no exchange)."""
    client = TestClient(create_app(settings))
    if token is not None:
        client.headers["Authorization"] = f"Bearer {token}"
    elif key is not None or settings.auth_required:
        client.auth = BazaarAuth(key or admin_key(settings))
    return client
