"""The analytics agents: each feed's messages into its ClickHouse sink, acked only once inserted
(or dead-lettered).

The stream is consumed with manual acks (``noack``): ``Sink.flush`` acks a batch after its rows are
in ClickHouse and the messages it could not insert are on the dead-letter topic, so the offset
commit never runs past a message that is neither. Concurrency 1 keeps acks in offset order (faust #606).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from bazaar_core.kafka.faust_fence import ack_unfetched
from bazaar_core.kafka.fetched import take_fetched
from bazaar_core.kafka.gapfill import GapGuard
from clickhouse import metrics
from clickhouse.app import AnalyticsPipeline, Feed

log = logging.getLogger("bazaar.agents.analytics")

FLUSH_TICK_S = 0.1
LAG_TICK_S = 1.0


def register(p: AnalyticsPipeline) -> None:
    for feed in p.feeds:
        _sink_agent(p, feed)

    @p.app.task
    async def flush_due() -> None:  # a batch that did not fill up goes after max_wait_s
        while not p.app.should_stop:
            await asyncio.sleep(FLUSH_TICK_S)
            for feed in p.feeds:
                if feed.sink.due():
                    await feed.sink.flush()

    @p.app.task
    async def observe_lag() -> None:
        while not p.app.should_stop:
            await asyncio.sleep(LAG_TICK_S)
            try:
                await p.refresh_lag()
            except Exception as exc:  # no assignment yet, a rebalance: try again next tick
                log.debug("lag not known", extra={"error": str(exc)})


def _sink_agent(p: AnalyticsPipeline, feed: Feed) -> None:
    sink = feed.sink

    app = p.app
    limit = p.settings.analytics_batch_max
    gaps = GapGuard.of_app(app, p.settings, metrics.GAPS.labels(sink.table).inc) if feed.contiguous else None

    @p.app.agent(feed.topic, name=f"sink-{sink.table}", concurrency=1)
    async def sink_agent(stream):
        manual = stream.noack()
        queue = stream.channel.queue  # where Faust puts the messages it fetched for this agent
        try:
            # Faust's stream hands over one message (waiting for it if none is fetched), then the
            # rest already fetched are taken straight from the queue: Faust's per-message hand-over
            # costs more than the sink's own work per row.
            async for event in manual.events():
                batch = [event]
                take_fetched(app, queue, batch, limit)
                feed.moved_at = time.monotonic()  # (the liveness probe: this feed is not stuck)
                for taken in batch:
                    msg = taken.message
                    if gaps is not None:  # offsets Faust skipped go in first (a row inserted twice is deduped)
                        for partition, offset, key, value, headers in await gaps.check(msg):
                            if sink.add(
                                partition, offset, value, partial(_ack_skipped, app.consumer, msg.tp, offset), key, _headers(headers)
                            ):
                                await sink.flush()
                    feed.next_offset[msg.partition] = msg.offset + 1
                    if sink.add(msg.partition, msg.offset, msg.value, partial(manual.ack, taken), msg.key, _headers(msg.headers)):
                        await sink.flush()
        except Exception as exc:  # a bug, not bad input: stop the process so it restarts and replays
            log.critical("sink agent crashed; stopping so it restarts and replays", extra={"table": sink.table}, exc_info=exc)
            await p.app.crash(exc)
            raise


def _headers(headers: Iterable[tuple[str, Any]] | Mapping[str, Any] | None) -> dict[str, str] | None:
    """A message's headers as text, for its dead letter."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k): v.decode(errors="replace") if isinstance(v, (bytes, bytearray)) else str(v) for k, v in items}


async def _ack_skipped(consumer, tp, offset: int) -> None:
    ack_unfetched(consumer, tp, offset)  # (the sink awaits its acks)
