"""Batches of topic messages into one ClickHouse table: nothing lost, nothing counted twice, and no
single message can stop the feed.

The agent hands each message to ``Sink.add`` together with an ``ack`` callback and never acks it
itself. ``flush`` inserts the buffered rows in one insert and only then calls the acks, in order,
so Faust's offset commit never passes a message that is neither in ClickHouse nor on the
dead-letter topic.

Two kinds of failure are told apart (``clickhouse.errors.is_transient``):

* transient (ClickHouse unreachable, a timeout, overload; the test fault file): the same insert is
  retried with exponential backoff, forever. The sink stops consuming (its buffer stays full), the
  backlog grows, ``failing`` is set, and a restart replays from the last commit.
* refused (ClickHouse answered and will refuse these rows again: a value a column cannot hold, too
  many partitions in one block, a type error): the batch is split in halves, recursively, until the
  refusing messages are alone. Those are dead-lettered (the original message, its partition,
  offset and the error), the rest is inserted.

A message that cannot even be turned into rows is dead-lettered too. Dead letters are written (and
acknowledged by the broker) before any message of the batch is acked.

Rows inserted twice (a replay after a crash, a retry after an ambiguous failure) carry the same key
and are collapsed by the ledger table's ReplacingMergeTree and the FINAL views; a retried identical
batch also carries the same insert deduplication token and is dropped by ClickHouse.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bazaar_core.kafka.deadletters import letter
from clickhouse import metrics
from clickhouse.client import Database
from clickhouse.errors import InsertRefused, UnreadableMessage, is_transient
from clickhouse.rows import Converter, Row
from schemas.deadletters import DeadLetter

log = logging.getLogger("bazaar.clickhouse.sink")

Ack = Callable[[], Awaitable[object]]
# Puts dead letters on the dead-letter topic; returns once the broker acknowledged every one, raises otherwise.
DeadLetterWriter = Callable[[list[DeadLetter]], Awaitable[None]]


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: tuple[str, ...]
    convert: Converter
    stamps_token: bool = False  # the last column is the batch token


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.2
    max_s: float = 5.0


@dataclass
class _Pending:
    partition: int
    offset: int
    rows: list[Row]
    ack: Ack
    key: bytes | None = None
    value: bytes | None = None  # the original bytes, for a dead letter
    headers: dict[str, str] | None = None
    error: Exception | None = None  # set when it is to be dead-lettered instead of inserted


@dataclass
class SinkState:
    """What ``/health`` and ``/status`` tell about one sink (counts since the process started)."""

    unreachable: str | None = None  # while inserts fail for a transient reason: the last error
    dead_letter_error: str | None = None  # while the broker does not take this sink's dead letters
    refused_inserts: int = 0  # inserts ClickHouse refused (each one split)
    dead_lettered: int = 0  # messages on the dead-letter topic: refused + unreadable
    refused: int = 0
    unreadable: int = 0
    last_dead_letter: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "clickhouse": "unreachable" if self.unreachable else "up",
            "error": self.unreachable,
            "dead_letter_error": self.dead_letter_error,
            "refused_inserts": self.refused_inserts,
            "dead_lettered": {"total": self.dead_lettered, "refused": self.refused, "unreadable": self.unreadable},
            "last_dead_letter": self.last_dead_letter,
        }


@dataclass
class Sink:
    db: Database
    spec: TableSpec
    max_batch: int = 500
    max_wait_s: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)
    topic: str = ""  # where the messages come from (named in their dead letters)
    dead_letters: DeadLetterWriter | None = None
    state: SinkState = field(default_factory=SinkState, init=False)
    _pending: list[_Pending] = field(default_factory=list, init=False)
    _inflight: int = field(default=0, init=False)
    _oldest: float | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    @property
    def table(self) -> str:
        return self.spec.table

    @property
    def failing(self) -> bool:
        """The last insert attempt failed for a transient reason (ClickHouse unreachable)."""
        return self.state.unreachable is not None

    @property
    def pending(self) -> int:
        """Messages consumed but neither in ClickHouse nor dead-lettered yet (buffered or in flight)."""
        return len(self._pending) + self._inflight

    def add(
        self, partition: int, offset: int, raw: bytes | None, ack: Ack, key: bytes | None = None, headers: dict[str, str] | None = None
    ) -> bool:
        """Buffer one message; True when the batch is full and should be flushed now."""
        metrics.CONSUMED.labels(self.table).inc()
        rows: list[Row] = []
        error: Exception | None = None
        if raw is not None:  # a tombstone: nothing to record (the catalog never deletes)
            try:
                rows = self.spec.convert(raw, partition, offset)
            except Exception as exc:  # not JSON, breaks its contract, or a value no row can hold: never stops the feed
                metrics.INVALID.labels(self.table).inc()
                error = UnreadableMessage(f"{type(exc).__name__}: {exc}")
        self._pending.append(_Pending(partition, offset, rows, ack, key, raw, headers, error))
        if self._oldest is None:
            self._oldest = time.monotonic()
        self._observe()
        return len(self._pending) >= self.max_batch

    def due(self) -> bool:
        return self._oldest is not None and time.monotonic() - self._oldest >= self.max_wait_s

    async def flush(self) -> int:
        """Insert everything buffered (waiting out ClickHouse outages), dead-letter what it refuses
        or what could not be read, then ack every message in order; messages flushed."""
        async with self._lock:
            batch, self._pending, self._oldest = self._pending, [], None
            if not batch:
                return 0
            self._inflight = len(batch)
            try:
                await self._settle([p for p in batch if p.error is None and p.rows])
                dead = [p for p in batch if p.error is not None]
                if dead:
                    await self._dead_letter(dead)
                for p in batch:
                    await p.ack()
                metrics.INSERTED_MESSAGES.labels(self.table).inc(len(batch) - len(dead))
                return len(batch)
            finally:
                self._inflight = 0
                self._observe()

    async def _settle(self, msgs: list[_Pending]) -> None:
        """Insert the rows of ``msgs``; where ClickHouse refuses, halve until each refusing message is
        alone, and mark it to be dead-lettered. A message's rows go in together or not at all."""
        if not msgs:
            return
        refusal = await self._insert(msgs)
        if refusal is None:
            return
        if len(msgs) == 1:
            msgs[0].error = InsertRefused(f"{type(refusal).__name__}: {refusal}")
            return
        half = len(msgs) // 2
        await self._settle(msgs[:half])
        await self._settle(msgs[half:])

    async def _insert(self, msgs: list[_Pending]) -> Exception | None:
        """Insert the rows of ``msgs`` in one insert, retrying transient failures forever; None once
        inserted, or the error with which ClickHouse refused them."""
        token = batch_token(self.table, [(p.partition, p.offset) for p in msgs])
        rows = [r for p in msgs for r in p.rows]
        if self.spec.stamps_token:
            rows = [(*r[:-1], token) for r in rows]
        delay = self.backoff.first_s
        while True:
            started = time.perf_counter()
            try:
                await asyncio.to_thread(self.db.insert, self.table, rows, self.spec.columns, token)
            except Exception as exc:
                # a refusal counts only if ClickHouse still answers: an odd error from a server going
                # down must not dead-letter good messages
                if not is_transient(exc) and await asyncio.to_thread(self.db.ping):
                    self._answered()
                    self.state.refused_inserts += 1
                    metrics.REFUSED_INSERTS.labels(self.table).inc()
                    log.warning(
                        "ClickHouse refused an insert; isolating the messages it refuses",
                        extra={"table": self.table, "messages": len(msgs), "rows": len(rows), "error": str(exc)[:500]},
                    )
                    return exc
                metrics.INSERT_FAILURES.labels(self.table).inc()
                metrics.CLICKHOUSE_UP.set(0)
                self.state.unreachable = f"{type(exc).__name__}: {str(exc)[:300]}"
                log.warning(
                    "insert failed; retrying", extra={"table": self.table, "rows": len(rows), "retry_in_s": delay, "error": str(exc)[:500]}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff.max_s)
                continue
            metrics.INSERT_SECONDS.labels(self.table).observe(time.perf_counter() - started)
            metrics.INSERTED_ROWS.labels(self.table).inc(len(rows))
            metrics.LAST_INSERT.labels(self.table).set(time.time())
            self._answered()
            return None

    async def _dead_letter(self, dead: list[_Pending]) -> None:
        """Put ``dead`` on the dead-letter topic, retrying until the broker has every letter."""
        if self.dead_letters is None:
            raise RuntimeError(f"sink {self.table} has no dead-letter writer")
        letters = [
            letter("analytics", self.topic, p.partition, p.offset, p.key, p.value, p.headers, p.error)  # type: ignore[arg-type]
            for p in dead
        ]  # (each has its error: flush passes only those)
        delay = self.backoff.first_s
        while True:
            try:
                await self.dead_letters(letters)
                break
            except Exception as exc:  # the broker unreachable: the batch waits, nothing is acked
                metrics.DEAD_LETTER_WRITE_FAILURES.labels(self.table).inc()
                self.state.dead_letter_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                log.warning(
                    "dead letters not written; retrying",
                    extra={"table": self.table, "letters": len(letters), "retry_in_s": delay, "error": str(exc)[:500]},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff.max_s)
        self.state.dead_letter_error = None
        for p, d in zip(dead, letters):
            reason = "refused" if isinstance(p.error, InsertRefused) else "unreadable"
            metrics.DEAD_LETTERED.labels(self.table, reason).inc()
            self.state.dead_lettered += 1
            setattr(self.state, reason, getattr(self.state, reason) + 1)
            self.state.last_dead_letter = {
                "table": self.table,
                "id": d.id,
                "partition": d.partition,
                "offset": d.offset,
                "reason": reason,
                "error": d.error[:500],
                "at": datetime.now(UTC).isoformat(),
            }

    def _answered(self) -> None:
        metrics.CLICKHOUSE_UP.set(1)
        self.state.unreachable = None

    def _observe(self) -> None:
        metrics.PENDING.labels(self.table).set(self.pending)


def batch_token(table: str, positions: list[tuple[int, int]]) -> str:
    """The same messages give the same token, so ClickHouse drops a retried batch it already has."""
    text = ",".join(f"{p}:{o}" for p, o in positions)
    return f"{table}:{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"
