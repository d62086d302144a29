"""The worker's HTTP pages: stock lookups routed to the owning worker, health, metrics, status.

Faust's router forwards a request to the worker that owns the store's partition (the partition
assignor knows it), so any worker answers for any store; it forwards the request's headers, its
``Authorization`` with them, and the owner checks the token again.

Access (``PAGES``, ``bazaar_core.page_access``): a stock lookup wants a Bearer token holding
``stock:read`` at its store (the API asks with its own service token); ``/status`` and ``/metrics``
want ``ops:read``; ``/livez``, ``/health`` and Faust's index ``/`` are public (probes carry no token;
they say up or down, and which partitions this worker holds). Faust's own ``/router`` and ``/table``
pages are off (``streams.app``): the second would give any store's stock to anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faust.exceptions import SameNode
from faust.types import TP
from faust.web.exceptions import ServiceUnavailable
from prometheus_client import generate_latest

from bazaar_core.kafka import faust_fence
from bazaar_core.page_access import Page, PageGuard, guarded
from domain import tokens
from domain.access import Permission
from domain.events import SEP, stock_key
from domain.lookup import stock_item
from streams import metrics
from streams.app import Pipeline, on_any_rebalance
from streams.codec import decode

log = logging.getLogger("bazaar.streams.web")


def readiness(recovered_once: bool, rebalancing: bool, in_recovery: bool) -> str:
    """A worker is ready only once it has joined the group, taken its assignment and recovered its
    tables from their changelogs (before that a lookup it routes to itself would answer stale or
    not at all), and not while a rebalance or a recovery is under way."""
    if not recovered_once:
        return "starting"
    if rebalancing or in_recovery:
        return "recovering"
    return "ok"


MAX_WAIT_MS = 30_000
MAX_LIMIT = 1000
PROMETHEUS_TEXT = "text/plain; version=0.0.4"  # aiohttp refuses a charset in content_type


# Every page of a worker's port and what it needs (tests/unit/test_route_access.py: no page without one).
PAGES: dict[str, Page] = {
    "/": Page(None),  # Faust's own index: {"status": "OK"}
    "/livez": Page(None),
    "/health": Page(None),
    "/status": Page(Permission.OPS_READ),
    "/metrics": Page(Permission.OPS_READ),
    "/stock/{store_id}/{sku}": Page(Permission.STOCK_READ, "path:store_id"),
    "/stock/{store_id}": Page(Permission.STOCK_READ, "path:store_id"),
}

Handler = Callable[..., Awaitable[Any]]  # (web, request, **path params) -> a response


def register_views(p: Pipeline) -> None:
    """Every page of the worker's port, registered here and only here, each behind the guard of its
    access in ``PAGES`` (Faust calls a page as ``get(view, request, **path params)``; the view,
    ``web``, makes the response)."""
    watch_rebalances(p)
    pages = WorkerPages(p)
    page = guarded(p.app, PageGuard(p.settings), PAGES)
    for path, handler in pages.by_path().items():
        page(path)(handler)


def watch_rebalances(p: Pipeline) -> None:
    """Log each assignment, and wake the lookups waiting for a partition that may have moved."""
    app, settings = p.app, p.settings

    async def log_assignment(*args, **kwargs) -> None:  # noqa: ARG001
        mine = sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic)
        log.info("partitions assigned", extra={"partitions": mine, "worker": app.conf.canonical_url})

    app.on_rebalance_complete.connect(log_assignment)
    on_any_rebalance(app, p.progress.wake_all)
    metrics.LOOKUP_WAITS.set_function(p.progress.waiting)


class WorkerPages:
    """The worker's pages: stock lookups (answered by the worker that owns the store's partition,
    after it applied the caller's ``after`` token), health, status and metrics."""

    def __init__(self, p: Pipeline) -> None:
        self.p, self.app, self.settings = p, p.app, p.settings

    def by_path(self) -> dict[str, Handler]:
        return {
            "/stock/{store_id}/{sku}": self.stock_one,
            "/stock/{store_id}": self.stock_list,
            "/livez": self.livez,
            "/health": self.health,
            "/status": self.status,
            "/metrics": self.metrics,
        }

    # ---- stock lookups -----------------------------------------------------------------------

    async def stock_one(self, web, request, store_id: str, sku: str) -> Any:
        return await self.routed(web, request, store_id, lambda: self._stock_one(web, request, store_id, sku))

    async def _stock_one(self, web, request, store_id: str, sku: str) -> Any:
        not_ready = await self.not_ready(web, request, store_id)
        if not_ready is not None:
            return not_ready
        db = self.db_for(store_id)
        key = stock_key(store_id, sku).encode()
        raw = db.get(key)
        if raw is None:
            return web.json({"error": "not_found", "detail": f"no stock recorded for sku {sku!r} at store {store_id!r}"}, status=404)
        return web.json(stock_item(store_id, sku, decode(raw, db, key)))

    async def stock_list(self, web, request, store_id: str) -> Any:
        return await self.routed(web, request, store_id, lambda: self._stock_list(web, request, store_id))

    async def _stock_list(self, web, request, store_id: str) -> Any:
        not_ready = await self.not_ready(web, request, store_id)
        if not_ready is not None:
            return not_ready
        q = request.query
        limit = max(1, min(int(q.get("limit", "100")), MAX_LIMIT))
        negative = q.get("negative")
        want_negative = None if negative is None else negative.lower() in ("1", "true", "yes")
        items, next_cursor = self.list_items(store_id, q.get("sku_prefix", ""), q.get("cursor"), limit, want_negative)
        return web.json({"items": items, "next_cursor": next_cursor})

    def list_items(
        self, store_id: str, sku_prefix: str, cursor: str | None, limit: int, want_negative: bool | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a store's stock in sku order, from its partition's database: the items after
        ``cursor`` whose sku starts with ``sku_prefix`` (and are negative or not, if asked), and the
        cursor of the next page (None: the last page)."""
        prefix = f"{store_id}{SEP}".encode()
        start = prefix + sku_prefix.encode()
        items: list[dict[str, Any]] = []
        db = self.db_for(store_id)
        it = db.iter()
        it.seek(prefix + cursor.encode() + b"\x00" if cursor else start)
        while it.valid():
            key = it.key()
            if not key.startswith(start):
                break
            sku = key[len(prefix) :].decode()
            item = stock_item(store_id, sku, decode(it.value(), db, key))
            if want_negative is None or item["negative"] == want_negative:
                if len(items) == limit:
                    return items, items[-1]["sku"]
                items.append(item)
            it.next()
        return items, None

    # ---- where a lookup is answered, and when ------------------------------------------------

    async def routed(self, web, request, store_id: str, handler: Callable[[], Awaitable[Any]]) -> Any:
        """Answer here if this worker owns the store's partition, else forward to the owner."""
        try:
            return await self.app.router.route_req(self.p.stock.name, store_id, web, request)
        except SameNode:
            return await handler()
        except (ServiceUnavailable, KeyError, TypeError):  # assignment or metadata not known yet
            return web.json({"error": "rebalancing", "detail": "partition owner not known yet; retry"}, status=503)

    async def not_ready(self, web, request, store_id: str) -> Any:
        """None when the owning partition has caught up with the request's token, else a response."""
        app = self.app
        if app.rebalancing or getattr(app, "in_recovery", False):
            return web.json({"error": "rebalancing", "detail": "tables are recovering; retry"}, status=503)
        token = request.query.get("after")
        if not token:
            return None
        try:
            offsets = tokens.decode(token)
        except tokens.BadToken as exc:
            return web.json({"error": "bad_token", "detail": str(exc)}, status=400)
        partition = self.partition_of(store_id)
        if partition not in offsets:
            return None
        wait_ms = min(int(request.query.get("wait_ms", "2000")), MAX_WAIT_MS)
        events_tp = TP(self.settings.events_topic, partition)

        def owned() -> bool:  # a rebalance may move the partition while the request waits
            return not app.rebalancing and events_tp in app.assignor.assigned_actives()

        caught_up = await self.p.progress.wait(partition, offsets[partition], wait_ms / 1000, owned)
        if caught_up:
            return None
        if caught_up is None:
            return web.json({"error": "rebalancing", "detail": f"partition {partition} moved to another worker; retry"}, status=503)
        return web.json(
            {"error": "not_caught_up", "detail": f"partition {partition} has not applied offset {offsets[partition]} within {wait_ms} ms"},
            status=504,
        )

    def partition_of(self, store_id: str) -> int:
        return tokens.partition_for(store_id.encode(), self.settings.partitions)

    def db_for(self, store_id: str) -> Any:
        return faust_fence.partition_db(self.p.stock, self.partition_of(store_id))

    # ---- the process ---------------------------------------------------------------------------

    async def livez(self, web, request) -> Any:
        return web.json({"status": "alive"})

    async def health(self, web, request) -> Any:
        app = self.app
        status = readiness(faust_fence.recovered_once(app), bool(app.rebalancing), bool(getattr(app, "in_recovery", False)))
        body = {"status": status, "assigned": self.assigned()}
        return web.json(body, status=200 if status == "ok" else 503)

    def assigned(self) -> list[int]:
        return sorted(tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.settings.events_topic)

    async def status(self, web, request) -> Any:
        p = self.p
        return web.json(
            {
                "applied": {str(k): v for k, v in sorted(p.progress.applied.items())},
                "rebalancing": bool(self.app.rebalancing),
                "core": "python" if p.core is None else "rust",  # which way batches go (streams/core.py)
                "catalog": {"products": len(p.catalog.products), "stores": len(p.catalog.stores), "overrides": len(p.catalog.overrides)},
            }
        )

    async def metrics(self, web, request) -> Any:
        return web.bytes(generate_latest(), content_type=PROMETHEUS_TEXT)
