"""api/headers.py: every answer carries the security headers; the docs pages get exactly their hashes."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.headers import APP_POLICY, SecurityHeaders, docs_policies, inline_hashes
from api.main import create_app
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

REQUIRED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def assert_secured(resp, policy: str = APP_POLICY) -> None:
    for name, value in REQUIRED.items():
        assert resp.headers.get_list(name) == [value], name
    assert resp.headers.get_list("content-security-policy") == [policy]


def test_the_app_policy_allows_this_origin_only_and_no_framing():
    d = directives(APP_POLICY)
    assert d["script-src"] == ["'self'"]  # no inline script, no eval
    assert d["style-src"] == ["'self'"]
    assert d["connect-src"] == ["'self'"] and d["worker-src"] == ["'self'"] and d["manifest-src"] == ["'self'"]
    assert d["img-src"] == ["'self'", "data:"]
    assert d["frame-ancestors"] == ["'none'"] and d["object-src"] == ["'none'"] and d["base-uri"] == ["'none'"]


def test_every_answer_gets_them_once_even_from_a_reused_response():
    shared = Response(b"{}", media_type="application/json")  # one object answering every request

    async def reused(request):
        return shared

    async def boom(request):
        return JSONResponse({"error": "not_found"}, status_code=404)

    client = TestClient(SecurityHeaders(Starlette(routes=[Route("/a", reused), Route("/b", boom)])))
    for _ in range(3):
        assert_secured(client.get("/a"))
    assert_secured(client.get("/b"))
    assert_secured(client.get("/nowhere"))  # the router's own 404


def test_the_api_pages_and_the_guards_refusals_carry_them(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Bazaar</title>")
    client = TestClient(create_app(Settings(data_dir=tmp_path, web_dist=dist)))  # no lifespan: no broker needed
    page = client.get("/counter")
    assert page.status_code == 200
    assert_secured(page)
    refused = client.post("/v1/events", content=b"x=1", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415  # answered by the guard, before any route
    assert_secured(refused)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_get_the_hash_of_each_inline_block(path):
    app = FastAPI(title="bazaar-inventory")
    client = TestClient(SecurityHeaders(app, docs=docs_policies(app)))
    resp = client.get(path)
    assert resp.status_code == 200
    policy = resp.headers["content-security-policy"]
    assert policy != APP_POLICY and "frame-ancestors 'none'" in policy
    d = directives(policy)
    blocks = re.findall(r"<(script|style)>(.*?)</\1>", resp.text, re.DOTALL)
    assert blocks, "the page has inline blocks to allow"
    for kind, body in blocks:  # hashed independently of api.headers: what the browser will compute
        digest = "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        assert digest in d[f"{kind}-src"], (kind, body[:60])
    assert "'unsafe-inline'" not in policy
    assert client.get("/openapi.json").headers["content-security-policy"] == APP_POLICY


def test_inline_hashes_skip_external_scripts():
    html = '<script src="https://cdn.example/x.js"></script><script>go()</script><style>b{}</style>'
    found = inline_hashes(html)
    assert len(found["script"]) == 1 and len(found["style"]) == 1
