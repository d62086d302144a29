"""`bazaar worker`: run one stream worker (Faust) holding a share of the stock tables."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bazaar_core import gcwatch, logs
from bazaar_core.settings import get_settings

# Full collections walk every decoded key state the worker caches (a long pause); spaced
# out a hundred times more than by default (only reference cycles need them; the stock path makes none).
WORKER_GC_OLDEST = 1000

log = logging.getLogger("bazaar.worker")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="web port of this worker (default BAZAAR_WORKER_PORT=6066)")


def build_worker(settings):
    from agents import register_all
    from bazaar_core.kafka.faust_fence import worker
    from streams.app import build
    from streams.web import register_views

    pipeline = build(settings)
    register_all(pipeline)
    register_views(pipeline)
    pipeline.catalog.start()
    pipeline.outbox.start()

    @pipeline.app.on_before_shutdown.connect
    async def stop_following_the_catalog(app, **kwargs) -> None:
        # its consumer closes now rather than at exit, so it is not still connecting while a stopping broker refuses
        await asyncio.to_thread(pipeline.catalog.stop)

    return worker(pipeline.app, settings.log_level.lower())


def run(args: argparse.Namespace) -> int:
    from bazaar_core.kafka.admin import TopicSetupError, ensure_topics, require_co_partitioning
    from bazaar_core.kafka.faust_fence import seed_committed_offsets
    from bazaar_core.kafka.topics import topic_configs, topic_specs

    settings = get_settings()
    if args.port:
        settings = settings.model_copy(update={"worker_port": args.port})
    logs.setup(settings.log_level, settings.log_json)
    gcwatch.install()
    try:
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
        require_co_partitioning(settings)
    except TopicSetupError as exc:
        log.error("bazaar worker refuses to start: %s", exc)
        return 2
    seed_committed_offsets(settings, settings.group_id, settings.events_topic, settings.partitions)
    settings.worker_dir.mkdir(parents=True, exist_ok=True)
    worker = build_worker(settings)
    gcwatch.tune(oldest=WORKER_GC_OLDEST)
    worker.execute_from_commandline()  # runs until SIGTERM / Ctrl-C, then stops cleanly
    return 0
