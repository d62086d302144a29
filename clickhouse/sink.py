"""Batches of topic messages into one ClickHouse table: nothing lost, nothing counted twice.

The agent hands each message to ``Sink.add`` together with an ``ack`` callback and never acks it
itself. ``flush`` inserts the buffered rows in one insert and only then calls the acks, in order,
so Faust's offset commit never passes a message whose rows are not in ClickHouse. An insert that
fails is retried with exponential backoff, forever: while ClickHouse is down the sink stops
consuming (its buffer stays full) and the backlog grows, and a restart replays from the last
commit. Rows inserted twice (a replay after a crash, a retry after an ambiguous failure) carry the
same key and are collapsed by the ledger table's ReplacingMergeTree and the FINAL views; a retried
identical batch also carries the same insert deduplication token and is dropped by ClickHouse.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from clickhouse import metrics
from clickhouse.client import Database
from clickhouse.rows import Converter, Row

log = logging.getLogger("bazaar.clickhouse.sink")

Ack = Callable[[], Awaitable[object]]


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


@dataclass
class Sink:
    db: Database
    spec: TableSpec
    max_batch: int = 500
    max_wait_s: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)
    _pending: list[_Pending] = field(default_factory=list, init=False)
    _inflight: int = field(default=0, init=False)
    failing: bool = field(default=False, init=False)  # the last insert attempt failed
    _oldest: float | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    @property
    def table(self) -> str:
        return self.spec.table

    @property
    def pending(self) -> int:
        """Messages consumed whose rows are not in ClickHouse yet (buffered or being inserted)."""
        return len(self._pending) + self._inflight

    def add(self, partition: int, offset: int, raw: bytes | None, ack: Ack) -> bool:
        """Buffer one message; True when the batch is full and should be flushed now."""
        metrics.CONSUMED.labels(self.table).inc()
        rows: list[Row] = []
        if raw is not None:  # a tombstone: nothing to record (the catalog never deletes)
            try:
                rows = self.spec.convert(raw, partition, offset)
            except ValueError as exc:
                metrics.INVALID.labels(self.table).inc()
                log.error("message breaks its contract; skipped", extra={"table": self.table, "partition": partition, "offset": offset, "error": exc})
        self._pending.append(_Pending(partition, offset, rows, ack))
        if self._oldest is None:
            self._oldest = time.monotonic()
        self._observe()
        return len(self._pending) >= self.max_batch

    def due(self) -> bool:
        return self._oldest is not None and time.monotonic() - self._oldest >= self.max_wait_s

    async def flush(self) -> int:
        """Insert everything buffered (retrying until it succeeds), then ack it; messages flushed."""
        async with self._lock:
            batch, self._pending, self._oldest = self._pending, [], None
            if not batch:
                return 0
            self._inflight = len(batch)
            try:
                token = batch_token(self.table, [(p.partition, p.offset) for p in batch])
                rows = [r for p in batch for r in p.rows]
                if self.spec.stamps_token:
                    rows = [(*r[:-1], token) for r in rows]
                if rows:
                    await self._insert(rows, token)
                for p in batch:
                    await p.ack()
                metrics.INSERTED_MESSAGES.labels(self.table).inc(len(batch))
                return len(batch)
            finally:
                self._inflight = 0
                self._observe()

    async def _insert(self, rows: list[Row], token: str) -> None:
        delay = self.backoff.first_s
        while True:
            started = time.perf_counter()
            try:
                await asyncio.to_thread(self.db.insert, self.table, rows, self.spec.columns, token)
            except Exception as exc:  # ClickHouse down, network, disk: wait and retry, never drop
                metrics.INSERT_FAILURES.labels(self.table).inc()
                metrics.CLICKHOUSE_UP.set(0)
                self.failing = True
                log.warning("insert failed; retrying", extra={"table": self.table, "rows": len(rows), "retry_in_s": delay, "error": str(exc)[:500]})
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff.max_s)
                continue
            metrics.INSERT_SECONDS.labels(self.table).observe(time.perf_counter() - started)
            metrics.INSERTED_ROWS.labels(self.table).inc(len(rows))
            metrics.LAST_INSERT.labels(self.table).set(time.time())
            metrics.CLICKHOUSE_UP.set(1)
            self.failing = False
            return

    def _observe(self) -> None:
        metrics.PENDING.labels(self.table).set(self.pending)


def batch_token(table: str, positions: list[tuple[int, int]]) -> str:
    """The same messages give the same token, so ClickHouse drops a retried batch it already has."""
    text = ",".join(f"{p}:{o}" for p, o in positions)
    return f"{table}:{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"
