"""The API gzips what is read when the client asks, and leaves writes (the ingest path) alone."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from api.main import GZIP_MIN_BYTES, GzipReads, create_app

pytestmark = pytest.mark.unit

BIG = b'{"items": [' + b",".join(b'{"sku": "rice", "on_hand": "12.5"}' for _ in range(200)) + b"]}"


def _client() -> TestClient:
    async def big(request):
        return Response(BIG, media_type="application/json")

    async def small(request):
        return Response(b'{"ok": true}', media_type="application/json")

    app = Starlette(routes=[Route("/big", big, methods=["GET", "POST"]), Route("/small", small)])
    return TestClient(GzipReads(app))


def test_a_large_read_is_gzipped_when_asked():
    client = _client()
    resp = client.get("/big", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip" and resp.content == BIG  # (the client inflates it)
    assert int(resp.headers["content-length"]) < len(BIG) // 5
    assert "content-encoding" not in client.get("/big", headers={"Accept-Encoding": "identity"}).headers


def test_small_answers_and_writes_are_not_compressed():
    client = _client()
    assert len(b'{"ok": true}') < GZIP_MIN_BYTES
    assert "content-encoding" not in client.get("/small", headers={"Accept-Encoding": "gzip"}).headers
    assert "content-encoding" not in client.post("/big", headers={"Accept-Encoding": "gzip"}).headers


def test_the_api_app_is_wrapped():
    app = create_app()
    assert any(m.cls is GzipReads for m in app.user_middleware)
