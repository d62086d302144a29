"""The analytics process's HTTP pages (its Faust web port, 6068 by default).

``GET /reports`` lists the reports; ``GET /reports/<name>?param=...&format=json|csv`` runs one
(the API's /v1/reports routes and `bazaar report` ask here); ``/health``, ``/metrics`` (Prometheus,
with the sink backlog) and ``/status`` (feeds, offsets, dead letters, ledger rows stored and distinct).

``/ready`` and ``/livez`` are its probes (``domain.probes``): ready once each feed has partitions
assigned and is at most ``BAZAAR_ANALYTICS_READY_LAG`` messages behind (caught up), alive unless a
feed is behind and has not moved for ``BAZAAR_ANALYTICS_STALL_S`` while ClickHouse and the broker
answer (stuck); the event loop that answers them is the one the sinks run on.

``/health`` says what failed: ``degraded`` with ``clickhouse: unreachable`` while ClickHouse does not
answer or inserts fail for a transient reason (the sinks wait and retry), or while the broker does
not take dead letters; messages ClickHouse refused (or that could not be read) were dead-lettered
and the feeds went on, so they are counted and named there but do not make the process degraded.

Access (``PAGES``, ``bazaar_core.page_access``): every page but the probes and Faust's index wants a
Bearer token (the API asks with its own service token; ``bazaar report`` and operators with theirs).
``/livez``, ``/ready`` and the index ``/`` say only a status and which feeds it is about (no figure:
those are on ``/status``); ``/health`` is public for probes and says ``status`` and ``clickhouse``
alone, its detail (problems, backlogs, dead letters) only to a token holding ``ops:read``.
``/metrics`` and ``/status`` need ``ops:read``, the reports ``reports:read`` (at ``store_id`` when
one is named); a store-scoped caller asking for every store gets its own stores only (``scope``:
narrowed by what the caller asks, never widened).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from prometheus_client import generate_latest

from bazaar_core.page_access import PRINCIPAL, Page, PageGuard, forbidden, guarded
from clickhouse import formats, reports
from clickhouse.app import LAG_FRESH_S, AnalyticsPipeline
from clickhouse.errors import BadParameter, UnknownReport
from clickhouse.migrate import applied
from domain import probes
from domain.access import ALL_STORES, Permission, Principal, decide

log = logging.getLogger("bazaar.streams.analytics_web")

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
JSON = "application/json"
P = Permission
# Every page of this port and what it needs (tests/unit/test_route_access.py: no page without one).
PAGES: dict[str, Page] = {
    "/": Page(None),  # Faust's own index: {"status": "OK"}
    "/livez": Page(None),
    "/ready": Page(None),
    "/health": Page(None),  # the detail for ops:read only (health_view)
    "/metrics": Page(P.OPS_READ),
    "/status": Page(P.OPS_READ),
    "/reports": Page(P.REPORTS_READ),
    "/reports/{name}": Page(P.REPORTS_READ, "query:store_id"),
}


def scope_of(who: Principal, asked_text: str) -> list[str] | None:
    """The stores a report over every store may cover for ``who``: what it asked (``scope``) within
    its own; [] for every store; None when it asked only for stores outside its own."""
    asked = [s.strip() for s in asked_text.split(",") if s.strip()]
    if who.stores == ALL_STORES:
        return asked
    visible = who.visible(asked) if asked else list(who.stores)
    return visible or None


def register_views(p: AnalyticsPipeline) -> None:
    app = p.app
    guard = PageGuard(p.settings)
    page = guarded(app, guard, PAGES)

    def error(web, status: int, code: str, field: str | None, reason: str) -> Any:
        body = {"error": code, "detail": [{"index": None, "field": field, "reason": reason}]}
        return web.bytes(orjson.dumps(body), content_type=JSON, status=status)

    @page("/livez")
    async def livez(web, request) -> Any:
        verdict = liveness(p)
        return web.json(verdict.body(), status=200 if verdict.ok else 503)

    @page("/ready")
    async def ready(web, request) -> Any:
        verdict = readiness(p)
        return web.json(verdict.body(), status=200 if verdict.ok else 503)

    @page("/health")
    async def health(web, request) -> Any:
        body = await asyncio.to_thread(health_body, p)
        who = guard.principal(request.headers.get("Authorization"))
        detailed = isinstance(who, Principal) and who.can(P.OPS_READ)
        return web.json(body if detailed else {k: body[k] for k in ("status", "clickhouse")})

    @page("/metrics")
    async def metrics_page(web, request) -> Any:
        return web.bytes(generate_latest(), content_type=PROMETHEUS_TEXT)

    @page("/status")
    async def status(web, request) -> Any:
        stored = await asyncio.to_thread(_ledger_counts, p)
        migrations = await asyncio.to_thread(applied, p.report_db)
        body = {
            "feeds": {
                f.sink.table: {
                    "pending": f.sink.pending,
                    "lag": f.lag,
                    "backlog": f.backlog,
                    "next_offsets": {str(k): v for k, v in sorted(f.next_offset.items())},
                    **f.sink.state.describe(),
                }
                for f in p.feeds
            },
            "assigned": sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment()),
            "ledger": stored,
            "migrations": [{"version": v, "name": n} for v, (n, _) in sorted(migrations.items())],
        }
        return web.json(body)

    @page("/reports")
    async def report_list(web, request) -> Any:
        return web.json({"reports": [r.describe() for r in reports.REPORTS.values()]})

    @page("/reports/{name}")
    async def report(web, request, name: str) -> Any:
        query = dict(request.query)
        who: Principal = request[PRINCIPAL]
        scope = scope_of(who, query.get("scope", ""))
        if scope is None:
            refused = forbidden(decide(who, P.REPORTS_READ, query.get("scope", "").split(",")[0].strip() or ALL_STORES))
            return web.json(refused.body, status=refused.status)
        query["scope"] = ",".join(scope)
        fmt = query.pop("format", "json")
        if fmt not in ("json", "csv"):
            return error(web, 422, "invalid_parameter", "format", "json or csv")
        try:
            rep = reports.get(name)
            # a default day reads the stores' time zones from the database, like the report itself
            values = await asyncio.to_thread(reports.resolve, rep, query, lambda store: reports.store_today(p.report_db, store))
            table = await asyncio.to_thread(reports.run, p.report_db, rep, values)
        except UnknownReport as exc:
            return error(web, 404, "unknown_report", None, str(exc))
        except BadParameter as exc:
            return error(web, 422, "invalid_parameter", exc.name, exc.reason)
        except Exception as exc:
            log.error("report failed", extra={"report": name, "error": str(exc)[:1000]})
            return error(web, 503, "analytics_unavailable", None, f"the report query failed: {str(exc)[:300]}")
        if fmt == "csv":
            headers = {"Content-Disposition": f'attachment; filename="{name}.csv"', "X-Bazaar-Rounding": formats.ROUNDING_NOTE}
            return web.bytes(formats.to_csv(table), content_type="text/csv", headers=headers)
        return web.bytes(formats.to_json(table), content_type=JSON)


def readiness(p: AnalyticsPipeline) -> probes.Verdict:
    """Caught up: every feed assigned, measured lately and at most ``analytics_ready_lag`` behind."""
    now = time.monotonic()
    return probes.readiness([f.probe(now) for f in p.feeds], p.settings.analytics_ready_lag, LAG_FRESH_S)


def liveness(p: AnalyticsPipeline) -> probes.Verdict:
    """Not stuck: no feed behind and idle for ``analytics_stall_s`` unless it waits on ClickHouse or the broker."""
    now = time.monotonic()
    return probes.liveness([f.probe(now) for f in p.feeds], p.settings.analytics_stall_s, LAG_FRESH_S)


def health_body(p: AnalyticsPipeline) -> dict[str, Any]:
    """ok, or degraded with what failed; the dead letters of each feed either way."""
    problems = []
    if not p.report_db.ping():
        problems.append("clickhouse unreachable: it does not answer a query")
    for f in p.feeds:
        state = f.sink.state
        if state.unreachable:
            problems.append(f"clickhouse unreachable: inserts into {f.sink.table} fail and are retried ({state.unreachable})")
        if state.dead_letter_error:
            problems.append(f"dead-letter topic unreachable: {f.sink.table} waits to dead-letter messages ({state.dead_letter_error})")
    unreachable = any(m.startswith("clickhouse unreachable") for m in problems)
    dead = {f.sink.table: f.sink.state for f in p.feeds if f.sink.state.dead_lettered}
    return {
        "status": "degraded" if problems else "ok",
        "clickhouse": "unreachable" if unreachable else "up",
        "problems": problems,
        "backlog": {f.sink.table: f.backlog for f in p.feeds},
        "refused_inserts": {f.sink.table: f.sink.state.refused_inserts for f in p.feeds if f.sink.state.refused_inserts},
        "dead_lettered": {table: {"refused": s.refused, "unreadable": s.unreadable} for table, s in dead.items()},
        "last_dead_letter": max((s.last_dead_letter for s in dead.values() if s.last_dead_letter), key=lambda d: d["at"], default=None),
    }


def _ledger_counts(p: AnalyticsPipeline) -> dict[str, int]:
    """Rows stored (copies from replays and re-sends included) and distinct (store, sku, event) keys."""
    stored = p.report_db.query("SELECT count() FROM ledger").result_rows[0][0]
    distinct = p.report_db.query("SELECT count() FROM ledger_first").result_rows[0][0]
    return {"rows": int(stored), "distinct": int(distinct)}
