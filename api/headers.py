"""Security headers on every answer of the API: pages, JSON, event streams and errors alike.

* ``Content-Security-Policy``: the web app's scripts, styles, images, service worker, manifest and
  requests come from this origin only, no inline script or style, no plugin, no ``<base>``, and
  no page may frame it (``frame-ancestors 'none'``). An injected ``<script>`` then runs nowhere,
  which is what keeps the device's API key (auth.js keeps it in localStorage) to this origin's
  own code. The browser tests check the built app raises no violation under it.
* ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``; ``nosniff``;
  ``Referrer-Policy: no-referrer`` (an alert stream's URL carries a token); the opener and
  resource policies keep other sites' pages from holding a handle on, or embedding, these answers.
* The API's own documentation pages (FastAPI's ``/docs`` and ``/redoc``) load their viewer from
  a CDN with one inline script or style: they get a policy naming that CDN and the hashes of
  exactly those inline blocks, computed once from the pages as FastAPI renders them.

A pure ASGI middleware that appends prebuilt header tuples as the answer starts: one dict lookup
and a list per request, so the ingest route pays next to nothing (HSTS belongs to the TLS proxy).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

Header = tuple[bytes, bytes]

APP_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
COMMON: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
CDN = "https://cdn.jsdelivr.net"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def inline_hashes(html: str) -> dict[str, list[str]]:
    """``{"script": ["'sha256-...'"], "style": [...]}`` for the inline blocks of a page."""
    out: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        out[kind].append(f"'sha256-{digest}'")
    return out


def _docs_policy(html: str, *, scripts: str, styles: str, fonts: str = "'self'", workers: str = "'self'") -> str:
    found = inline_hashes(html)
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src", scripts, *found["script"]]),
            " ".join(["style-src", styles, *found["style"]]),
            "img-src 'self' data: https://fastapi.tiangolo.com",
            f"font-src {fonts}",
            "connect-src 'self'",
            f"worker-src {workers}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def docs_policies(app: FastAPI) -> dict[str, str]:
    """Path -> policy for FastAPI's documentation pages, rendered as FastAPI renders them."""
    out: dict[str, str] = {}
    if not app.openapi_url:
        return out
    root = (app.root_path or "").rstrip("/")
    openapi_url = root + app.openapi_url
    if app.docs_url:
        oauth = app.swagger_ui_oauth2_redirect_url
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + oauth if oauth else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        out[app.docs_url] = _docs_policy(bytes(page.body).decode(), scripts=CDN, styles=CDN)
        if oauth:
            redirect = bytes(get_swagger_ui_oauth2_redirect_html().body).decode()
            out[oauth] = _docs_policy(redirect, scripts="'none'", styles="'none'")
    if app.redoc_url:
        page = get_redoc_html(openapi_url=openapi_url, title=f"{app.title} - ReDoc")
        out[app.redoc_url] = _docs_policy(
            bytes(page.body).decode(),
            scripts=CDN,
            styles="https://fonts.googleapis.com",
            fonts="https://fonts.gstatic.com",
            workers="blob:",
        )
    return out


def _headers(policy: str) -> list[Header]:
    return [*COMMON, (b"content-security-policy", policy.encode())]


class SecurityHeaders:
    """Appends the security headers to every HTTP answer (``docs``: path -> policy overrides)."""

    def __init__(self, app: Any, docs: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = _headers(APP_POLICY)
        self.by_path = {path: _headers(policy) for path, policy in (docs or {}).items()}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.by_path.get(scope["path"], self.headers) if self.by_path else self.headers

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                # a new list: a response object reused across requests must not grow
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
