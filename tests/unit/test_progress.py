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


def test_a_batch_wakes_only_the_waits_it_reached():
    """A backlog: many lookups wait for offsets far ahead while batches are applied. Each batch wakes
    only the waits it reached (their heap order), so the others do no work per batch: ``owned`` is
    asked about a waiter at its start and its periodic re-check, not once per applied batch."""

    async def run():
        asked = {"n": 0}

        def owned() -> bool:
            asked["n"] += 1
            return True

        progress = Progress(lambda partition: None)
        far = [asyncio.ensure_future(progress.wait(3, 10_000 + i, timeout_s=5, owned=owned)) for i in range(50)]
        near = asyncio.ensure_future(progress.wait(3, 150, timeout_s=5, owned=owned))
        await asyncio.sleep(0)
        asked_at_start = asked["n"]
        for offset in range(200):  # 200 batches applied, in well under the 0.25 s re-check
            progress.mark(3, offset)
            await asyncio.sleep(0)
        assert near.done() and near.result() is True
        assert not any(f.done() for f in far)
        assert asked["n"] - asked_at_start <= 1  # the near waiter's last check; the far ones were not woken
        assert progress.waiting() == 50
        progress.mark(3, 10_049)
        return await asyncio.wait_for(asyncio.gather(*far), 1), progress.waiting()

    results, left = asyncio.run(run())
    assert results == [True] * 50 and left == 0


def test_wake_all_makes_waits_check_ownership_at_once():
    """On a rebalance signal the worker calls ``wake_all``: a wait whose partition moved answers None
    at once, without waiting for its periodic re-check."""

    async def run():
        owned = {"now": True}
        progress = Progress(lambda partition: None)
        waiting = asyncio.ensure_future(progress.wait(3, 10, timeout_s=30, owned=lambda: owned["now"]))
        staying = asyncio.ensure_future(progress.wait(4, 10, timeout_s=30))
        await asyncio.sleep(0)
        owned["now"] = False
        progress.wake_all()
        moved = await asyncio.wait_for(waiting, 0.05)  # well under the re-check interval
        assert not staying.done()  # still owned: back to waiting
        progress.mark(4, 10)
        return moved, await asyncio.wait_for(staying, 1)

    assert asyncio.run(run()) == (None, True)


def test_a_timed_out_wait_leaves_nothing_behind():
    async def run():
        progress = Progress(lambda partition: None)
        result = await progress.wait(3, 10, timeout_s=0.02)
        progress.mark(3, 10)  # pops the cancelled entry
        return result, progress.waiting(), progress._waiters[3]

    assert asyncio.run(run()) == (False, 0, [])


@pytest.mark.parametrize(
    "recovered, rebalancing, in_recovery, want",
    [
        (False, False, False, "starting"),  # joined nothing yet: the restarted worker's early "ok" was a lie
        (False, True, True, "starting"),
        (True, True, False, "recovering"),
        (True, False, True, "recovering"),
        (True, False, False, "ok"),
    ],
)
def test_a_worker_is_ready_only_once_it_has_recovered_its_assignment(recovered, rebalancing, in_recovery, want):
    from streams.web import readiness

    assert readiness(recovered, rebalancing, in_recovery) == want
