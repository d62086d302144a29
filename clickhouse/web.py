"""The analytics process's HTTP pages (its Faust web port, 6068 by default).

``GET /reports`` lists the reports; ``GET /reports/<name>?param=...&format=json|csv`` runs one
(the API's /v1/reports routes and `bazaar report` ask here); ``/health``, ``/metrics`` (Prometheus,
with the sink backlog) and ``/status`` (feeds, offsets, dead letters, ledger rows stored and distinct).

``/health`` says what failed: ``degraded`` with ``clickhouse: unreachable`` while ClickHouse does not
answer or inserts fail for a transient reason (the sinks wait and retry), or while the broker does
not take dead letters; messages ClickHouse refused (or that could not be read) were dead-lettered
and the feeds went on, so they are counted and named there but do not make the process degraded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from prometheus_client import generate_latest

from clickhouse import formats, reports
from clickhouse.app import AnalyticsPipeline
from clickhouse.errors import BadParameter, UnknownReport
from clickhouse.migrate import applied

log = logging.getLogger("bazaar.streams.analytics_web")

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
JSON = "application/json"


def register_views(p: AnalyticsPipeline) -> None:
    app = p.app

    def error(web, status: int, code: str, field: str | None, reason: str) -> Any:
        body = {"error": code, "detail": [{"index": None, "field": field, "reason": reason}]}
        return web.bytes(orjson.dumps(body), content_type=JSON, status=status)

    @app.page("/health")
    async def health(web, request) -> Any:
        return web.json(await asyncio.to_thread(health_body, p))

    @app.page("/metrics")
    async def metrics_page(web, request) -> Any:
        return web.bytes(generate_latest(), content_type=PROMETHEUS_TEXT)

    @app.page("/status")
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

    @app.page("/reports")
    async def report_list(web, request) -> Any:
        return web.json({"reports": [r.describe() for r in reports.REPORTS.values()]})

    @app.page("/reports/{name}")
    async def report(web, request, name: str) -> Any:
        query = dict(request.query)
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
