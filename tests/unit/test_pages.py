"""api/routes/pages.py: the built web app served by the API, without a broker."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import pages
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit


def client(dist) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(web_dist=dist)

    @app.get("/v1/stores")
    def stores() -> dict:  # a JSON route next to the pages
        return {"items": []}

    app.include_router(pages.router)
    return TestClient(app)


@pytest.fixture
def dist(tmp_path):
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>Bazaar</title>")
    (d / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    (d / "manifest.webmanifest").write_text('{"name": "Bazaar"}')
    (d / "icon-192.png").write_bytes(b"\x89PNG fake")
    (d / "assets" / "index-abc.js").write_text("console.log('x');" * 50)
    return d


def test_pages_serve_index_html_without_caching(dist):
    c = client(dist)
    for path in ("/", "/counter"):
        r = c.get(path)
        assert r.status_code == 200 and r.text.startswith("<!doctype html>")
        assert r.headers["content-type"].startswith("text/html") and r.headers["cache-control"] == "no-cache"
    assert c.get("/v1/stores").json() == {"items": []}


def test_service_worker_may_control_the_whole_origin(dist):
    r = client(dist).get("/sw.js")
    assert r.status_code == 200
    assert r.headers["service-worker-allowed"] == "/"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"].startswith("text/javascript")


def test_assets_are_immutable_gzip_and_conditional(dist):
    c = client(dist)
    r = c.get("/assets/index-abc.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "immutable" in r.headers["cache-control"]
    assert r.text.startswith("console.log")  # the client decoded it
    plain = c.get("/assets/index-abc.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == (dist / "assets" / "index-abc.js").read_bytes()
    again = c.get("/assets/index-abc.js", headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    assert c.get("/manifest.webmanifest").headers["content-type"] == "application/manifest+json"
    assert c.get("/icon-192.png").headers["content-type"] == "image/png"


def test_nothing_outside_dist_and_unknown_assets_are_404(dist):
    (dist.parent / "secret.txt").write_text("no")
    c = client(dist)
    assert c.get("/assets/missing.js").status_code == 404
    assert c.get("/assets/..%2F..%2Fsecret.txt").status_code in (404, 422)
    assert c.get("/assets/../secret.txt").status_code == 404
    assert c.get("/nothing-here").status_code == 404


def test_without_a_build_pages_answer_503_with_the_fix(tmp_path):
    c = client(tmp_path / "missing")
    for path in ("/", "/counter", "/sw.js", "/assets/index-abc.js", "/manifest.webmanifest"):
        r = c.get(path)
        assert r.status_code == 503, path
        assert r.text.strip() == "web app not built: run ./bazaar.sh setup to build the web app"
    assert c.get("/v1/stores").status_code == 200
