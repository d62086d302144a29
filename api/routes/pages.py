"""The web app (``web/``, built into ``web/dist`` by ``./bazaar.sh setup``), served by the API.

* ``GET /`` (owner's dashboard) and ``GET /counter``: ``index.html``, ``Cache-Control: no-cache``.
* ``GET /assets/...``: the built, content-hashed JS and CSS, cached for a year (immutable).
* ``GET /manifest.webmanifest``, the icons, and ``GET /sw.js`` (the service worker, with
  ``Service-Worker-Allowed: /`` and ``no-cache`` so a new build is picked up at once).

Text files go gzip-compressed to clients that accept it. Without a build every page answers 503
with a one-line hint. Only these exact paths are claimed, so no JSON route is shadowed.

Access: public (``PUBLIC``). The app's files hold no data: a device without a key gets the app,
whose first screen asks for a pairing code (web/src/auth.js); everything it then reads or writes
goes through the API's routes with a token. The security headers are api/headers.py's.
"""

from __future__ import annotations

import gzip
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, Response

from api.authz import PUBLIC
from api.deps import SettingsDep

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])

MISSING = "web app not built: run ./bazaar.sh setup to build the web app\n"
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}
COMPRESSIBLE = {".js", ".css", ".html", ".webmanifest", ".svg", ".json"}
TOP_FILES = ("manifest.webmanifest", "icon.svg", "icon-192.png", "icon-512.png")
AssetPath = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]


@lru_cache(maxsize=64)
def _read(path: Path, mtime_ns: int, compress: bool) -> bytes:
    data = path.read_bytes()
    return gzip.compress(data, 9, mtime=0) if compress else data


def _send(request: Request, dist: Path, relative: str, cache: str, extra: dict[str, str] | None = None) -> Response:
    if not (dist / "index.html").is_file():
        return PlainTextResponse(MISSING, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "60"})
    path = (dist / relative).resolve()
    if not path.is_relative_to(dist.resolve()) or not path.is_file():
        return PlainTextResponse("not found\n", status_code=404)
    suffix = path.suffix
    media = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    gz = suffix in COMPRESSIBLE and "gzip" in request.headers.get("accept-encoding", "")
    stat = path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{"-gz" if gz else ""}"'
    headers = {"Cache-Control": cache, "ETag": etag, "Vary": "Accept-Encoding", **(extra or {})}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    return Response(_read(path, stat.st_mtime_ns, gz), media_type=media, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
@router.api_route("/counter", methods=["GET", "HEAD"])
async def app_page(request: Request, settings: SettingsDep) -> Response:
    return _send(request, settings.web_dist, "index.html", NO_CACHE)


@router.api_route("/sw.js", methods=["GET", "HEAD"])
async def service_worker(request: Request, settings: SettingsDep) -> Response:
    return _send(request, settings.web_dist, "sw.js", NO_CACHE, {"Service-Worker-Allowed": "/"})


@router.api_route("/assets/{path:path}", methods=["GET", "HEAD"])
async def asset(path: AssetPath, request: Request, settings: SettingsDep) -> Response:
    return _send(request, settings.web_dist, f"assets/{path}", IMMUTABLE)


def _top_file(name: str):
    async def serve(request: Request, settings: SettingsDep) -> Response:
        return _send(request, settings.web_dist, name, NO_CACHE)

    serve.__name__ = f"page_{name.replace('.', '_').replace('-', '_')}"
    return serve


for _name in TOP_FILES:
    router.add_api_route(f"/{_name}", _top_file(_name), methods=["GET", "HEAD"])
