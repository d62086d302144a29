"""A catalog CSV import as a stream: memory holds one batch of rows, not the file.

A thread reads the body as it arrives (each piece fetched from the event loop), parses and
validates the rows (``domain.catalog_csv.read``) and makes each good product's JSON and search
keys; every ``BATCH_ROWS`` good rows it hands the batch to ``store`` on the event loop (written to
Kafka, then applied to the catalog) and waits for it, so a slow broker slows the reading of the
body instead of filling memory. The event loop only moves bytes and records: parsing 100,000 rows
would otherwise hold it for seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from domain import catalog_csv
from domain.catalog_csv import Row, RowError
from domain.catalog_search import Entry

BATCH_ROWS = 1000
LISTED_ERRORS = 1000  # errors listed in the answer; beyond, only counted (``more_errors``)


@dataclass(frozen=True, slots=True)
class Ready:
    """A good row, ready to store: its product's JSON and search keys."""

    row: Row
    raw: bytes
    entry: Entry


Store = Callable[[list[Ready]], Awaitable[list[RowError]]]  # -> the rows it could not store


@dataclass
class Report:
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0

    def add(self, stored: int, errors: list[RowError]) -> None:
        self.imported += stored
        errors.sort(key=lambda e: e.line)
        room = max(0, LISTED_ERRORS - len(self.errors))
        self.errors.extend(errors[:room])
        self.more_errors += len(errors[room:])

    def as_dict(self) -> dict:
        out = {"imported": self.imported, "errors": [e.as_dict() for e in self.errors]}
        if self.more_errors:
            out["more_errors"] = self.more_errors
        return out


async def run(chunks: AsyncIterator[bytes], store: Store, hop_timeout_s: float = 600.0) -> Report:
    """Import the CSV whose bytes ``chunks`` yields; CsvFileError when its header is refused (then
    nothing was stored). Errors reading the body (the client went away, too slow, too large)
    propagate as they are. ``hop_timeout_s`` bounds each wait of the thread for the event loop
    (the request's own bounds come first: it only keeps a thread from outliving a stopped loop)."""
    loop = asyncio.get_running_loop()

    def on_loop(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(hop_timeout_s)

    async def next_chunk() -> bytes | None:
        return await anext(chunks, None)

    def pieces():
        while (chunk := on_loop(next_chunk())) is not None:
            if chunk:
                yield chunk

    def work() -> Report:
        report = Report()
        batch: list[Ready] = []
        errors: list[RowError] = []
        for item in catalog_csv.read(catalog_csv.lines_of(pieces())):
            if isinstance(item, RowError):
                errors.append(item)
                continue
            batch.append(Ready(item, item.product.model_dump_json().encode(), Entry.of(item.product)))
            if len(batch) >= BATCH_ROWS:
                failed = on_loop(store(batch))
                report.add(len(batch) - len(failed), errors + failed)
                batch, errors = [], []
        failed = on_loop(store(batch)) if batch else []
        report.add(len(batch) - len(failed), errors + failed)
        return report

    return await asyncio.to_thread(work)
