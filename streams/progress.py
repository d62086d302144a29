"""Which source offsets each partition has applied, for read-your-writes waits."""
from __future__ import annotations

import asyncio
import time
from typing import Callable


class Progress:
    """Applied offsets per partition of the events topic, with waiters woken on progress.

    ``committed(partition)`` returns the consumer's committed offset (the next offset to read),
    so after a restart everything below it counts as applied before any new event arrives.
    """

    def __init__(self, committed: Callable[[int], int | None]) -> None:
        self._committed = committed
        self.applied: dict[int, int] = {}
        self._wake: dict[int, asyncio.Event] = {}

    def mark(self, partition: int, offset: int) -> None:
        if offset > self.applied.get(partition, -1):
            self.applied[partition] = offset
        event = self._wake.pop(partition, None)
        if event is not None:
            event.set()

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
        while not self.caught_up(partition, offset):
            if owned is not None and not owned():
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wake = self._wake.setdefault(partition, asyncio.Event())
            try:
                # wake on progress, and re-check the committed offset and the ownership now and then
                await asyncio.wait_for(wake.wait(), min(remaining, 0.05))
            except asyncio.TimeoutError:
                pass
        return True
