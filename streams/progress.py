"""Which source offsets each partition has applied, for read-your-writes waits."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

# A waiter re-checks the committed offset and whether this worker still owns the partition this
# often (and at once on ``wake_all``, which the worker calls on every rebalance signal).
RECHECK_S = 0.25


class Progress:
    """Applied offsets per partition of the events topic, with waiters woken on progress.

    ``committed(partition)`` returns the consumer's committed offset (the next offset to read),
    so after a restart everything below it counts as applied before any new event arrives.

    Each waiter sits in its partition's heap, ordered by the offset it waits for, and ``mark`` wakes
    only those it has reached: a batch applied wakes no waiter still behind, so a backlog (when many
    lookups wait at once) costs a heap push and pop per lookup, not a wake-up per lookup per batch.
    """

    def __init__(self, committed: Callable[[int], int | None]) -> None:
        self._committed = committed
        self.applied: dict[int, int] = {}
        self._waiters: dict[int, list[tuple[int, int, asyncio.Future]]] = {}  # partition -> heap of (offset, seq, future)
        self._seq = itertools.count()

    def mark(self, partition: int, offset: int) -> None:
        if offset > self.applied.get(partition, -1):
            self.applied[partition] = offset
        heap = self._waiters.get(partition)
        if not heap:
            return
        reached = self.applied[partition]
        while heap and (heap[0][0] <= reached or heap[0][2].done()):
            future = heapq.heappop(heap)[2]
            if not future.done():
                future.set_result(True)

    def wake_all(self) -> None:
        """Make every waiter re-check at once (a rebalance may have moved its partition)."""
        for heap in self._waiters.values():
            for _, _, future in heap:
                if not future.done():
                    future.set_result(False)
        self._waiters.clear()

    def waiting(self) -> int:
        """Waits in progress (the ``bazaar_stream_lookup_waits`` gauge, read at scrape time)."""
        return sum(1 for heap in self._waiters.values() for _, _, f in heap if not f.done())

    def caught_up(self, partition: int, offset: int) -> bool:
        if self.applied.get(partition, -1) >= offset:
            return True
        committed = self._committed(partition)
        return committed is not None and committed > offset

    async def wait(self, partition: int, offset: int, timeout_s: float, owned: Callable[[], bool] | None = None) -> bool | None:
        """True once ``offset`` of ``partition`` is applied, False when ``timeout_s`` ran out first, None
        as soon as ``owned()`` says this worker no longer owns the partition (a rebalance moved it while
        the request waited: the new owner must answer, so the caller should retry elsewhere)."""
        deadline = time.monotonic() + timeout_s
        future: asyncio.Future | None = None
        try:
            while not self.caught_up(partition, offset):
                if owned is not None and not owned():
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if future is None or future.done():
                    future = asyncio.get_running_loop().create_future()
                    heapq.heappush(self._waiters.setdefault(partition, []), (offset, next(self._seq), future))
                # (asyncio.wait leaves the future alone on a timeout: it stays in the heap)
                await asyncio.wait((future,), timeout=min(remaining, RECHECK_S))
            return True
        finally:
            if future is not None and not future.done():
                future.cancel()  # popped by a later mark, or dropped by wake_all
