"""`bazaar analytics`: the process that owns the analytics database.

It applies the migrations, sinks the ledger and catalog topics into ClickHouse (its own consumer
group) and serves reports, health and metrics on its web port. Embedded chDB opens its directory
in one process only, so everything else (the API, `bazaar report`) asks this process over HTTP;
with an http(s) ClickHouse server it is the same.
"""

from __future__ import annotations

import argparse
import logging
import time

from bazaar_core import logs
from bazaar_core.settings import Settings, get_settings

log = logging.getLogger("bazaar.analytics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="web port (default BAZAAR_ANALYTICS_PORT=6068)")


def open_databases(settings: Settings):
    """(sink, reports) clients on the configured database, migrated; waits while ClickHouse is down."""
    from clickhouse_connect.driver.exceptions import OperationalError

    from clickhouse import metrics
    from clickhouse.client import Database, redact, resolve_dsn
    from clickhouse.errors import ClickHouseUnavailable
    from clickhouse.migrate import migrate

    dsn = resolve_dsn(settings)
    delay = 0.5
    while True:
        try:
            sink_db = Database.open(dsn, settings.clickhouse_fault_file)
            report_db = Database.open(dsn)
            done = migrate(report_db)
            metrics.CLICKHOUSE_UP.set(1)  # it answered; the sinks say otherwise once an insert cannot reach it
            log.info("analytics database ready", extra={"dsn": redact(dsn), "migrations_applied": [m.version for m in done]})
            return sink_db, report_db
        except (ClickHouseUnavailable, OperationalError) as exc:  # a server not up yet: wait for it (DatabaseLocked is fatal)
            log.warning("ClickHouse unavailable at start-up; retrying", extra={"error": str(exc), "retry_in_s": delay})
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def build_worker(settings: Settings):
    from agents.analytics import register
    from bazaar_core.kafka.faust_fence import worker
    from clickhouse.app import build, data_dir
    from clickhouse.web import register_views

    sink_db, report_db = open_databases(settings)
    data_dir(settings).mkdir(parents=True, exist_ok=True)
    pipeline = build(settings, sink_db, report_db)
    register(pipeline)
    register_views(pipeline)
    return worker(pipeline.app, settings.log_level.lower())


def run(args: argparse.Namespace) -> int:
    from bazaar_core.kafka.admin import TopicSetupError, ensure_topics
    from bazaar_core.kafka.faust_fence import seed_committed_offsets
    from bazaar_core.kafka.topics import topic_configs, topic_specs
    from clickhouse.app import app_id
    from clickhouse.errors import DatabaseLocked

    settings = get_settings()
    if args.port:
        settings = settings.model_copy(update={"analytics_port": args.port})
    logs.setup(settings.log_level, settings.log_json)
    try:
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
    except TopicSetupError as exc:
        log.error(str(exc))
        return 2
    # a new group's commits start from the ledger's first offset (commits never pass an unacked one)
    seed_committed_offsets(settings, app_id(settings), settings.ledger_topic, settings.partitions)
    try:
        worker = build_worker(settings)
    except DatabaseLocked as exc:
        log.error(str(exc))
        return 2
    worker.execute_from_commandline()  # runs until SIGTERM / Ctrl-C, then stops cleanly
    return 0
