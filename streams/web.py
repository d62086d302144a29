"""The worker's HTTP pages: stock lookups routed to the owning worker, health, metrics, status.

Faust's router forwards a request to the worker that owns the store's partition (the partition
assignor knows it), so any worker answers for any store.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.exceptions import SameNode
from faust.types import TP
from faust.web.exceptions import ServiceUnavailable
from prometheus_client import generate_latest

from bazaar_core.kafka import faust_fence
from domain import tokens
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


def register_views(p: Pipeline) -> None:
    app, settings = p.app, p.settings

    @app.on_rebalance_complete.connect
    async def _log_assignment(*args, **kwargs) -> None:  # noqa: ARG001
        mine = sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic)
        log.info("partitions assigned", extra={"partitions": mine, "worker": app.conf.canonical_url})

    on_any_rebalance(app, p.progress.wake_all)  # a waited-for partition may have moved
    metrics.LOOKUP_WAITS.set_function(p.progress.waiting)

    def partition_of(store_id: str) -> int:
        return tokens.partition_for(store_id.encode(), settings.partitions)

    def db_for(partition: int):
        return faust_fence.partition_db(p.stock, partition)

    async def ready_for(web, request, store_id: str) -> Any:
        """None when the owning partition has caught up with the request's token, else a response."""
        if app.rebalancing or getattr(app, "in_recovery", False):
            return web.json({"error": "rebalancing", "detail": "tables are recovering; retry"}, status=503)
        token = request.query.get("after")
        if not token:
            return None
        try:
            offsets = tokens.decode(token)
        except tokens.BadToken as exc:
            return web.json({"error": "bad_token", "detail": str(exc)}, status=400)
        partition = partition_of(store_id)
        if partition not in offsets:
            return None
        wait_ms = min(int(request.query.get("wait_ms", "2000")), MAX_WAIT_MS)
        events_tp = TP(settings.events_topic, partition)

        def owned() -> bool:  # a rebalance may move the partition while the request waits
            return not app.rebalancing and events_tp in app.assignor.assigned_actives()

        caught_up = await p.progress.wait(partition, offsets[partition], wait_ms / 1000, owned)
        if caught_up:
            return None
        if caught_up is None:
            return web.json({"error": "rebalancing", "detail": f"partition {partition} moved to another worker; retry"}, status=503)
        return web.json(
            {"error": "not_caught_up", "detail": f"partition {partition} has not applied offset {offsets[partition]} within {wait_ms} ms"},
            status=504,
        )

    async def routed(web, request, store_id: str, handler) -> Any:
        """Answer here if this worker owns the store's partition, else forward to the owner."""
        try:
            return await app.router.route_req(p.stock.name, store_id, web, request)
        except SameNode:
            return await handler()
        except (ServiceUnavailable, KeyError, TypeError):  # assignment or metadata not known yet
            return web.json({"error": "rebalancing", "detail": "partition owner not known yet; retry"}, status=503)

    @app.page("/stock/{store_id}/{sku}")
    async def stock_one(web, request, store_id: str, sku: str) -> Any:
        return await routed(web, request, store_id, lambda: _stock_one(web, request, store_id, sku))

    async def _stock_one(web, request, store_id: str, sku: str) -> Any:
        not_ready = await ready_for(web, request, store_id)
        if not_ready is not None:
            return not_ready
        db = db_for(partition_of(store_id))
        key = stock_key(store_id, sku).encode()
        raw = db.get(key)
        if raw is None:
            return web.json({"error": "not_found", "detail": f"no stock recorded for sku {sku!r} at store {store_id!r}"}, status=404)
        return web.json(stock_item(store_id, sku, decode(raw, db, key)))

    @app.page("/stock/{store_id}")
    async def stock_list(web, request, store_id: str) -> Any:
        return await routed(web, request, store_id, lambda: _stock_list(web, request, store_id))

    async def _stock_list(web, request, store_id: str) -> Any:
        not_ready = await ready_for(web, request, store_id)
        if not_ready is not None:
            return not_ready
        q = request.query
        limit = max(1, min(int(q.get("limit", "100")), MAX_LIMIT))
        negative = q.get("negative")
        want_negative = None if negative is None else negative.lower() in ("1", "true", "yes")
        prefix = f"{store_id}{SEP}".encode()
        start = prefix + q.get("sku_prefix", "").encode()
        cursor = q.get("cursor")
        items: list[dict[str, Any]] = []
        next_cursor = None
        db = db_for(partition_of(store_id))
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
                    next_cursor = items[-1]["sku"]
                    break
                items.append(item)
            it.next()
        return web.json({"items": items, "next_cursor": next_cursor})

    @app.page("/health")
    async def health(web, request) -> Any:
        status = readiness(faust_fence.recovered_once(app), bool(app.rebalancing), bool(getattr(app, "in_recovery", False)))
        body = {
            "status": status,
            "assigned": sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic),
        }
        return web.json(body, status=200 if status == "ok" else 503)

    @app.page("/status")
    async def status(web, request) -> Any:
        return web.json(
            {
                "applied": {str(k): v for k, v in sorted(p.progress.applied.items())},
                "rebalancing": bool(app.rebalancing),
                "catalog": {"products": len(p.catalog.products), "stores": len(p.catalog.stores), "overrides": len(p.catalog.overrides)},
            }
        )

    @app.page("/metrics")
    async def metrics_page(web, request) -> Any:
        return web.bytes(generate_latest(), content_type=PROMETHEUS_TEXT)
