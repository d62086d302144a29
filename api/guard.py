"""Bounds on every request, checked before any route sees it (a pure ASGI middleware, outermost).

* **Content type.** A POST, PUT, PATCH or DELETE that carries a body, or names a type, must say
  ``application/json`` (the catalog import: ``text/csv``); else 415 ``unsupported_media_type``.
  A web page may make its visitor's browser send text/plain, form and multipart bodies to any
  site without asking that site first (no CORS preflight); JSON and CSV need the preflight, which
  this API never grants. A request a browser marks ``Sec-Fetch-Site: cross-site`` or ``same-site``
  is refused too (403 ``cross_site``): that also covers a bodiless POST (acknowledging an alert).
* **Size.** A body longer than ``max_body_bytes`` (``max_import_bytes`` for the import) is 413
  ``body_too_large``: at once when Content-Length says so, else (chunked) once the bytes received
  pass it, before anything is parsed.
* **Time.** A request may spend at most ``body_timeout_s`` (``import_timeout_s``) waiting for its
  body to arrive: the time the route spends on its own work between reads does not count. Past
  it, 408 ``body_timeout`` and the connection is closed (a client trickling a byte a second is let
  go). Headers are bounded by the server itself (``api.server``).
* **Concurrency.** At most ``api_max_requests`` requests in flight; beyond, 503 ``overloaded`` with
  ``Retry-After: 1``. /livez, /health, /metrics and alert streams (long-lived by design) are not counted.
* An answer given before the request's body was read to its end says ``Connection: close``, so a
  client still sending a body nobody reads cannot keep the connection. A client that goes away
  while sending its body is nobody's error: nothing is answered or logged.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from starlette.requests import ClientDisconnect

from api import metrics
from api.errors import issue
from bazaar_core.settings import Settings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IMPORT_PATH = "/v1/products:import"
JSON, CSV = "application/json", "text/csv"
UNCOUNTED = frozenset({"/livez", "/health", "/metrics"})
STREAM_SUFFIX = "/alerts/stream"
CROSS_SITE = frozenset({b"cross-site", b"same-site"})


class Refused(Exception):
    """A request refused by the guard; rendered in the API's error shape."""

    def __init__(self, status: int, error: str, reason: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.reason, self.headers = status, error, reason, headers or []


def media_type(value: bytes | None) -> str | None:
    """``b"Application/JSON; charset=utf-8"`` -> ``"application/json"``."""
    if value is None:
        return None
    if value == b"application/json":
        return JSON
    return value.split(b";", 1)[0].strip().lower().decode("latin-1")


class _Body:
    """The request's ``receive``, counting bytes and the time spent waiting for them."""

    __slots__ = ("_receive", "limit", "budget_s", "received", "waited_s", "done")

    def __init__(self, receive, limit: int, budget_s: float) -> None:
        self._receive, self.limit, self.budget_s = receive, limit, budget_s
        self.received, self.waited_s = 0, 0.0
        self.done = False  # once the body is read, later receives wait for the disconnect, unbounded

    async def receive(self):
        if self.done:
            return await self._receive()
        remaining = self.budget_s - self.waited_s
        if remaining <= 0:
            raise _timeout(self.budget_s)
        started = time.monotonic()
        try:
            async with asyncio.timeout(remaining):
                message = await self._receive()
        except TimeoutError:
            raise _timeout(self.budget_s) from None
        finally:
            self.waited_s += time.monotonic() - started
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise _too_large(self.limit)
            if not message.get("more_body", False):
                self.done = True
        else:  # http.disconnect
            self.done = True
        return message


class Guard:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.in_flight = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])  # names are lower case; a repeated header: its last value
        path = scope["path"]
        importing = path == IMPORT_PATH
        length = headers.get(b"content-length")
        expected = (length is not None and length != b"0") or b"transfer-encoding" in headers
        try:
            if scope["method"] in UNSAFE:
                _check_origin(headers)
                _check_type(headers, CSV if importing else JSON, expected)
            limit = self.settings.max_import_bytes if importing else self.settings.max_body_bytes
            if length is not None and length.isdigit() and int(length) > limit:
                raise _too_large(limit)
            counted = path not in UNCOUNTED and not path.endswith(STREAM_SUFFIX)
            if counted and self.in_flight >= self.settings.api_max_requests:
                raise Refused(
                    503, "overloaded", f"more than {self.settings.api_max_requests} requests in flight; try again", [(b"retry-after", b"1")]
                )
        except Refused as refused:
            await _answer(send, refused, close=expected)
            return
        if counted:
            self.in_flight += 1
        try:
            if expected:
                await self._with_body(
                    scope, receive, send, limit, self.settings.import_timeout_s if importing else self.settings.body_timeout_s
                )
            else:  # nothing to count or wait for
                await self.app(scope, receive, send)
        finally:
            if counted:
                self.in_flight -= 1

    async def _with_body(self, scope, receive, send, limit: int, budget_s: float) -> None:
        body = _Body(receive, limit, budget_s)
        started = False

        async def guarded_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body.done:  # the rest of the body is never read: do not wait for it
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, body.receive, guarded_send)
        except Refused as refused:
            if started:
                raise  # the answer is under way: the server closes the connection
            await _answer(send, refused, close=True)
        except ClientDisconnect:
            if started:
                raise


def _check_origin(headers: dict[bytes, bytes]) -> None:
    if headers.get(b"sec-fetch-site") in CROSS_SITE:
        raise Refused(403, "cross_site", "a browser sent this from another site's page; changes come from this API's own pages and clients")


def _check_type(headers: dict[bytes, bytes], wanted: str, expected: bool) -> None:
    given = media_type(headers.get(b"content-type"))
    if given == wanted or (given is None and not expected):
        return
    raise Refused(415, "unsupported_media_type", f"the body must be {wanted} (Content-Type: {wanted}), got {given or 'no Content-Type'}")


def _too_large(limit: int) -> Refused:
    return Refused(413, "body_too_large", f"the body may be at most {limit:,} bytes")


def _timeout(budget_s: float) -> Refused:
    return Refused(408, "body_timeout", f"the body did not arrive within {budget_s:g} s")


async def _answer(send, refused: Refused, close: bool) -> None:
    metrics.count_rejected(refused.error)
    body = orjson.dumps({"error": refused.error, "detail": [issue(None, refused.reason)]})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *refused.headers]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
