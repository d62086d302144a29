"""One batch of the stock agent from fetched events to committed offsets, in order (``Checkpoint``).

``apply`` then ``commit``, read top to bottom:

1. the batch, with any offsets Faust skipped in a rebalance read from the broker before the event
   that revealed them (``GapGuard``);
2. the compiled core (``streams.core``, when the worker runs it): the whole batch in one call from
   the raw messages; or, when there is none or it leaves the batch to them, the pure rules
   (``domain.batch.Applier``) over the states in memory, where a message that cannot be applied is
   set aside for the dead-letter topic;
3. RocksDB: every touched key written once, one write batch per partition (``BatchStates.flush``,
   or the core's writes), and its changelog record handed to the outbox; the sale book's buckets
   the same way (``BatchSales.flush``: in any order with the stock, as a replay makes either one
   right);
4. the outputs: ledger entries, alert transitions, dead letters (the outbox, one producer);
   the next batch is applied while the broker acks these;
5. ``commit``: the broker has acked every record of the batch (else the process exits and the
   batch is replayed: every update is idempotent);
6. the changelog offsets are remembered in RocksDB (what recovery skips), and the batch's offsets
   are marked applied for read-your-writes lookups;
7. the events are acknowledged, and gap-filled offsets acked past Faust: from here Faust may commit
   them (with the corrected commit rule of ``bazaar_core.kafka.faust_fence``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

from bazaar_core.kafka import deadletters
from bazaar_core.kafka.faust_fence import ack_unfetched
from bazaar_core.kafka.gapfill import GapGuard
from bazaar_core.kafka.outbox import Outbox
from bazaar_core.settings import Settings
from domain.batch import Applier, BatchOutput, InvalidEvent
from streams import metrics
from streams.core import StreamCore
from streams.progress import Progress
from streams.sales import BatchSales
from streams.state import BatchStates

log = logging.getLogger("bazaar.streams.checkpoint")
# While applying a batch the agent gives the event loop a turn every this many events: aiokafka's
# fetches and Faust's fetcher run on the same loop, so without it the next events are fetched only
# between batches, and /health, /metrics and lookups wait out a whole batch.
YIELD_EVERY = 100
APPLY_ATTEMPTS = 2  # a message whose rules raise this often is dead-lettered

Message = tuple  # (partition, offset, key, value, headers, tp if read past Faust to fill a gap)


@dataclass
class Applied:
    """A batch applied and written to RocksDB, its outputs on their way to the broker."""

    events: list[Any]
    sealed: Any
    started: float
    filled: list[tuple] = field(default_factory=list)  # (tp, offset) read past Faust
    last: dict[int, int] = field(default_factory=dict)  # partition -> last offset


def batch_rules(
    settings: Settings, table: Any, catalog: Any, extension: Any | None
) -> tuple[BatchStates, BatchSales, Applier, StreamCore | None]:
    """The stock agent's ways through a batch over ``table``: its states and sale book in RocksDB,
    the Python rules over them, and the compiled core when ``extension`` is given."""
    states = BatchStates(table, settings.stream_cache_keys)
    sales = BatchSales(table, lambda: states.partition)  # the sale book, beside the stock (domain/voids.py)
    applier = Applier(
        states,
        catalog,
        settings.late_window_days,
        settings.velocity_window_days,
        settings.ledger_topic,
        settings.alerts_topic,
        sales=sales,
        void_window_days=settings.void_window_days,
    )
    core = None if extension is None else StreamCore(extension, settings, states, sales, catalog)
    return states, sales, applier, core


class Checkpoint:
    def __init__(
        self,
        settings: Settings,
        states: BatchStates,
        applier: Applier,
        outbox: Outbox,
        gaps: GapGuard,
        progress: Progress,
        table: Any,
        consumer: Any,
        sales: BatchSales | None = None,
        core: StreamCore | None = None,
    ) -> None:
        self.settings, self.states, self.applier, self.outbox, self.gaps = settings, states, applier, outbox, gaps
        self.progress, self.table, self.consumer, self.sales = progress, table, consumer, sales
        self.core = core
        self.changelog_topic = table.changelog_topic_name

    async def apply(self, events: list[Any]) -> Applied:
        started = time.perf_counter()
        messages, last = await self._with_gaps(events)  # 1
        ran = self.core.run(messages) if self.core is not None else None  # 2: the compiled core, ...
        if ran is None:  # ... or the pure rules, when there is none or it leaves the batch to them
            out, dead = await self._through_rules(messages)
            flush = self._flush_states
        else:
            out, dead, flush = ran.out, [], ran.flush
        self.outbox.begin()
        keys = flush(self._send_changelog)  # 3
        for topic, partition, key, value in out.records:  # 4
            self.outbox.send(topic, partition, key, value)
        for m, error, attempts in dead:
            letter = deadletters.letter("worker", self.settings.events_topic, m[0], m[1], m[2], m[3], headers_of(m[4]), error, attempts)
            self.outbox.send(self.settings.dead_letters_topic, 0, letter.id.encode(), letter.to_bytes())
        _observe(out, len(events), keys, dead)
        filled = [(m[5], m[1]) for m in messages if m[5] is not None]
        return Applied(events, self.outbox.seal(), started, filled, last)

    async def commit(self, applied: Applied, stream: Any) -> None:
        await self.outbox.acked(applied.sealed, self._persisted)  # 5, 6
        for partition, offset in applied.last.items():
            self.progress.mark(partition, offset)
            metrics.APPLIED_OFFSET.labels(str(partition)).set(offset)
        for event in applied.events:  # 7
            await stream.ack(event)
        for tp, offset in applied.filled:
            ack_unfetched(self.consumer, tp, offset)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - applied.started)

    def forget(self) -> None:
        """Drop every cached state (on any rebalance: RocksDB, recovered from the changelog, is the truth)."""
        self.states.forget()
        if self.core is not None:
            self.core.forget()

    # ---- the steps ---------------------------------------------------------------------------

    async def _with_gaps(self, events: list[Any]) -> tuple[list[Message], dict[int, int]]:
        messages: list[Message] = []
        last: dict[int, int] = {}
        trace = self.settings.trace_events
        for event in events:
            msg = event.message
            if trace:
                log.info("event", extra={"partition": msg.partition, "offset": msg.offset, "key": msg.key})
            for partition, offset, key, value, headers in await self.gaps.check(msg):
                messages.append((partition, offset, key, value, headers, msg.tp))
            messages.append((msg.partition, msg.offset, msg.key, msg.value, msg.headers, None))
            last[msg.partition] = max(msg.offset, last.get(msg.partition, -1))
        return messages, last

    async def _through_rules(self, messages: list[Message]) -> tuple[BatchOutput, list[tuple]]:
        """A message that breaks the contract is set aside at once; one whose rules raise may have
        changed states half-way, so the batch starts again from RocksDB without it (after a second
        failure: one may be a fluke of the moment). Either way it is dead-lettered and the partition
        goes on: no single message can stop the worker."""
        states, applier = self.states, self.applier
        failures: dict[tuple[int, int], int] = {}
        poison: dict[tuple[int, int], BaseException] = {}
        while True:
            out, dead = BatchOutput(), []
            try:
                for i, m in enumerate(messages):
                    if i % YIELD_EVERY == YIELD_EVERY - 1:
                        await asyncio.sleep(0)  # fetching overlaps applying; health and lookups answer meanwhile
                    partition, offset = m[0], m[1]
                    if poison and (partition, offset) in poison:
                        dead.append((m, poison[partition, offset], failures[partition, offset]))
                        continue
                    states.partition = partition
                    try:
                        applier.apply(out, partition, offset, m[2], m[3], headers_of(m[4]))
                    except InvalidEvent as exc:
                        dead.append((m, exc, 1))
                    except Exception as exc:
                        raise _Failed(partition, offset, exc) from exc
                return out, dead
            except _Failed as failed:
                at = (failed.partition, failed.offset)
                failures[at] = failures.get(at, 0) + 1
                if failures[at] >= APPLY_ATTEMPTS:
                    poison[at] = failed.error
                log.warning(
                    "applying a batch failed; applying it again from RocksDB",
                    extra={"partition": at[0], "offset": at[1], "attempt": failures[at], "error": repr(failed.error)},
                )
                states.discard()
                if self.sales is not None:
                    self.sales.discard()

    def _flush_states(self, send: Callable[[int, bytes, bytes | None], None]) -> int:
        keys = self.states.flush(send)
        if self.sales is not None:  # the sale book's buckets, the same way (streams/sales.py)
            self.sales.flush(send)
        return keys

    def _send_changelog(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.outbox.send(self.changelog_topic, partition, key, value, changelog=True)

    def _persisted(self, partition: int, offset: int) -> None:
        self.table.data.set_persisted_offset(TP(self.changelog_topic, partition), offset)


class _Failed(Exception):
    def __init__(self, partition: int, offset: int, error: BaseException) -> None:
        super().__init__(partition, offset, error)
        self.partition, self.offset, self.error = partition, offset, error


def headers_of(raw: Any) -> dict[str, str]:
    if not raw:
        return {}
    items = raw.items() if isinstance(raw, dict) else raw
    return {k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in items if v is not None}


def _observe(out: BatchOutput, size: int, keys: int, dead: list) -> None:
    for (kind, leg), n in out.events.items():
        metrics.EVENTS.labels(kind, leg).inc(n)
    for outcome, n in out.outcomes.items():
        metrics.KEY_OUTCOMES.labels(outcome).inc(n)
    for (kind, alert_kind), n in out.alerts.items():
        metrics.ALERTS.labels(kind, alert_kind).inc(n)
    if out.negative:
        metrics.NEGATIVE.inc(out.negative)
    invalid = sum(1 for _, error, _ in dead if isinstance(error, InvalidEvent))
    if invalid:
        metrics.INVALID.inc(invalid)
    metrics.BATCH_EVENTS.observe(size)
    metrics.BATCH_KEYS.observe(keys)
