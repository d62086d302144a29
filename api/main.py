"""``create_app(settings)``: routers, error handlers, and a lifespan owning the producer and HTTP client."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.gzip import GZipMiddleware

from api import errors, metrics, openapi
from api import http as api_http
from api.authn import Authenticator
from api.guard import Guard
from api.headers import SecurityHeaders, docs_policies
from api.producer import EventProducer
from api.readiness import ViewsReady
from api.routes import (
    alerts,
    auth,
    catalog,
    events,
    health,
    pages,
    products,
    reports,
    stock,
    store_lists,
    store_products,
    stores,
    webhooks,
)
from api.services import Services
from api.workers import WorkerClient
from bazaar_core import gcwatch, logs
from bazaar_core.auth.keys import KeyRing, NoSigningKey
from bazaar_core.page_access import ServiceToken
from bazaar_core.settings import Settings, get_settings

log = logging.getLogger("bazaar.api")
GZIP_MIN_BYTES = 1024


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    ring = _signing_keys(settings)  # before anything starts: a missing key stops the API here
    producer = EventProducer(settings)
    producer.start()
    await producer.check()  # know at once whether the broker is there (no-broker POSTs fail fast)
    metrics.watch_broker(lambda: not producer.is_down)
    http = api_http.session()  # asks the workers (lookups) and the analytics process (reports)
    service = ServiceToken(settings, ring)  # the workers' and the analytics pages want a token too: the API's own
    app.state.producer, app.state.http_get = producer, api_http.getter(http, service.headers)
    app.state.workers = WorkerClient(app.state.http_get, settings.worker_urls)
    services = app.state.services = Services.create(settings, broker_down=lambda: producer.is_down)
    services.start()  # catalog, alert, webhook, auth and uncatalogued views: read in the background, /health waits for them
    app.state.auth = Authenticator(settings, services.auth, ring, ready=lambda: services.wait_ready("auth"))
    publisher = asyncio.create_task(_publish_uncatalogued(services))
    gcwatch.install()  # pauses as a metric
    gcwatch.tune()
    try:
        yield
    finally:
        logs.stopping()  # its Kafka clients' refused connections while the broker may be going too are not news
        publisher.cancel()
        try:
            await publisher
        except asyncio.CancelledError:
            pass
        await _publish_once(services)  # what changed since the last tick
        await asyncio.to_thread(services.stop)
        await http.close()
        await asyncio.to_thread(producer.close, settings.produce_timeout_s)


async def _publish_uncatalogued(services: Services) -> None:
    """Every instance's uncatalogued totals reach the others (api/uncatalogued.py) every
    ``uncatalogued_publish_s``: a busy store's record carries all its unknown skus, so not per request."""
    while True:
        await asyncio.sleep(services.settings.uncatalogued_publish_s)
        await _publish_once(services)


async def _publish_once(services: Services) -> None:
    if services.broker_down():  # kept for the next round: ``take_changes`` leaves them be
        return
    try:
        await services.publish_uncatalogued()
    except Exception:  # a bug: say so, keep the API (and the next tick) going
        log.exception("publishing uncatalogued totals failed")


def _signing_keys(settings: Settings) -> KeyRing:
    """The ring that signs and verifies access tokens; with auth required, an empty one is a setup
    error said at start (every replica must share the keys: one made here would be this replica's alone)."""
    ring = KeyRing(settings.auth_path / "signing")
    ring.load()
    if settings.auth_required and not ring.kids:
        raise NoSigningKey(f"no signing key in {ring.directory}: run `bazaar auth init` (or mount the auth Secret there)")
    return ring


class GzipReads:
    """Gzip for what is read (GET: lists, reports, the web app's files compress 5-10x for phones on
    slow links) when the client asks; answers under GZIP_MIN_BYTES and event streams go as they are.
    Writes (POST /v1/events, ...) skip the wrapper: their answers are small, and the ingest path does
    not pay its per-request cost (bench/gzip_cost.py)."""

    def __init__(self, app) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MIN_BYTES, compresslevel=5)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class IngestLane:
    """``POST /v1/events``, the route every terminal calls, straight to its endpoint.

    FastAPI's routing (every route tried in turn), its request handler (dependency solving, exit
    stacks, telemetry hooks) and Starlette's exception middleware cost a single-event POST about as
    much as validating and producing its event. The route declares no parameter FastAPI would
    fill in and makes its answer itself, so this calls it with the request and renders an
    ``ApiError`` with the app's own handler, as the exception middleware would: the same status,
    body and headers. The route stays registered, for the OpenAPI document and for any request this
    lane does not take (other methods, a ``root_path``). Inside the guard, the security headers and
    the views' readiness, like every route."""

    def __init__(self, app, endpoint, on_error) -> None:
        self.app, self.endpoint, self.on_error = app, endpoint, on_error

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != events.PATH or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except errors.ApiError as exc:
            response = await self.on_error(request, exc)
        await response(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    # FastAPI's OpenTelemetry hooks: no tracer, meter or logger provider is set up in these
    # processes, yet each request asked whether one was (environment lookups included)
    off: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    app = FastAPI(title="bazaar-inventory", version="1", lifespan=lifespan, telemetry=off)
    app.state.settings = settings or get_settings()
    errors.install(app, on_error=metrics.count_rejected)
    for module in (events, stock, health, reports, store_lists):
        app.include_router(module.router)
    for module in (products, stores, store_products, catalog, alerts, webhooks, auth):
        app.include_router(module.router)
    app.include_router(pages.router)  # the web app's pages, last: JSON routes come first
    openapi.install(app)
    app.add_middleware(IngestLane, endpoint=events.post_events, on_error=app.exception_handlers[errors.ApiError])
    app.add_middleware(ViewsReady)
    app.add_middleware(GzipReads)
    app.add_middleware(Guard, settings=app.state.settings)  # before any route or view wait
    app.add_middleware(SecurityHeaders, docs=docs_policies(app))  # outermost: the guard's refusals carry them too
    return app
