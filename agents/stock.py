"""The stock agent: applies events, in batches, to the per-(store, sku) stock table.

Faust hands the agent one fetched event; the batch is that event plus whatever else Faust has
fetched, up to ``stream_batch_max``. Each batch goes through ``streams.checkpoint.Checkpoint``:
``apply`` (rules, RocksDB, outputs sent) and, once the broker has acked every output, ``commit``
(offsets marked applied, events acknowledged, so Faust may commit them). The next batch is applied
while the broker acks the last ones' records. A crash anywhere replays every unacknowledged event;
every update is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque

from bazaar_core.kafka.fetched import take_fetched
from bazaar_core.kafka.gapfill import GapGuard
from streams import metrics
from streams.app import Pipeline, on_any_rebalance
from streams.checkpoint import Checkpoint, batch_rules

log = logging.getLogger("bazaar.agents.stock")
MAX_INFLIGHT = 4  # batches whose outputs the broker has not acked yet


def register(p: Pipeline) -> None:
    settings = p.settings
    # the compiled batch core when the worker runs it (streams/core.py), the Python rules otherwise
    states, sales, applier, core = batch_rules(settings, p.stock, p.catalog, p.core)
    # offsets Faust skipped in a rebalance are read from the broker and applied before the event
    # that revealed them (applying an event twice is harmless: every update is idempotent)
    gaps = GapGuard.of_app(p.app, settings, metrics.GAPS.inc)
    checkpoint = Checkpoint(settings, states, applier, p.outbox, gaps, p.progress, p.stock, p.app.consumer, sales, core)
    on_any_rebalance(p.app, checkpoint.forget)  # cached states: RocksDB, recovered from the changelog, is the truth
    app, batch_max = p.app, settings.stream_batch_max

    @app.agent(p.events, name="stock", concurrency=1)  # >1 can commit past unprocessed (faust #606)
    async def stock_agent(stream):
        inflight: deque[asyncio.Task] = deque()  # batches applied, waiting for the broker to ack their outputs
        events = stream.noack()
        queue = stream.channel.queue  # where Faust puts the events it fetched for this agent
        try:
            # Faust's stream hands over one event (waiting for it if none is fetched); the batch is
            # that event plus whatever else Faust has fetched (``take_fetched``), also what its fetcher
            # hands over while the agent yields a loop turn, until nothing more comes or the batch is
            # full: no timer, so a lone event is applied at once, and under load batches grow by
            # themselves. The agent never waits for an event while it holds some (see take_fetched).
            async for event in events.events():
                batch = [event]
                while take_fetched(app, queue, batch, batch_max) and len(batch) < batch_max:
                    await asyncio.sleep(0)  # one loop turn: Faust's fetcher hands over what it has (~100 events)
                applied = await checkpoint.apply(batch)
                inflight.append(asyncio.ensure_future(_commit(checkpoint, applied, events)))
                while inflight and (inflight[0].done() or len(inflight) > MAX_INFLIGHT):
                    await inflight.popleft()
        except Exception as exc:  # a bug: never skip the events
            _crash(exc)


async def _commit(checkpoint: Checkpoint, applied, stream) -> None:
    try:
        await checkpoint.commit(applied, stream)
    except Exception as exc:  # outputs the broker refused: the events must be replayed
        _crash(exc)


def _exit_now(code: int) -> None:
    """Leave like SIGKILL would: Faust's orderly shutdown could commit the failed event's offset,
    while a hard exit leaves it uncommitted, so it is replayed (and updates are idempotent)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(code)


def _crash(exc: BaseException) -> None:
    log.critical("stock agent crashed; exiting at once so the events are replayed after a restart", exc_info=exc)
    _exit_now(70)
