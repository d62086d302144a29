"""streams.progress.Progress: a read-your-writes wait ends caught up, timed out, or moved away."""
from __future__ import annotations

import asyncio

import pytest

from streams.progress import Progress

pytestmark = pytest.mark.unit


def test_wait_is_woken_by_progress():
    async def run():
        progress = Progress(lambda partition: None)
        waiting = asyncio.ensure_future(progress.wait(3, 10, timeout_s=5))
        await asyncio.sleep(0.01)
        progress.mark(3, 9)
        await asyncio.sleep(0.01)
        assert not waiting.done()
        progress.mark(3, 10)
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(run()) is True


def test_committed_offset_counts_as_applied():
    progress = Progress(lambda partition: 11 if partition == 3 else None)  # next offset to read: 11
    assert asyncio.run(progress.wait(3, 10, timeout_s=0.01)) is True
    assert asyncio.run(progress.wait(4, 10, timeout_s=0.01)) is False


def test_wait_ends_when_the_partition_moves_away():
    """A rebalance that takes the partition from this worker ends the wait at once (None), instead of
    waiting out the timeout for offsets this worker will never apply: the new owner must answer."""
    async def run():
        owned = {"now": True}
        progress = Progress(lambda partition: None)
        waiting = asyncio.ensure_future(progress.wait(3, 10, timeout_s=30, owned=lambda: owned["now"]))
        await asyncio.sleep(0.06)
        assert not waiting.done()
        owned["now"] = False
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(run()) is None


def test_caught_up_wins_over_moved():
    progress = Progress(lambda partition: None)
    progress.mark(3, 10)
    assert asyncio.run(progress.wait(3, 10, timeout_s=1, owned=lambda: False)) is True
