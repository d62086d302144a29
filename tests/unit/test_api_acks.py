"""One future per request, counted down by the delivery reports of its messages (api.producer._Acks)."""
from __future__ import annotations

import asyncio
import threading

import pytest

from api.producer import DeliveryResult, _Acks

pytestmark = pytest.mark.unit


def test_resolved_once_every_message_has_a_result_from_the_poll_thread():
    async def go():
        acks = _Acks(3, asyncio.get_running_loop())
        reports = [(2, DeliveryResult(1, 9)), (0, DeliveryResult(1, 7)), (1, DeliveryResult(error="x"))]

        def poll_thread():
            for i, r in reports:
                assert not acks.future.done()
                acks.set(i, r)

        t = threading.Thread(target=poll_thread)
        t.start()
        await asyncio.wait_for(acks.future, 5)
        t.join()
        return acks.results("missing")

    assert asyncio.run(go()) == [DeliveryResult(1, 7), DeliveryResult(error="x"), DeliveryResult(1, 9)]


def test_a_late_report_does_not_replace_a_result():
    async def go():
        acks = _Acks(1, asyncio.get_running_loop())
        acks.set(0, DeliveryResult(error="producer queue full"))
        acks.set(0, DeliveryResult(2, 3))
        await asyncio.wait_for(acks.future, 1)
        return acks.results("missing")

    assert asyncio.run(go()) == [DeliveryResult(error="producer queue full")]


def test_fail_fills_in_only_what_is_missing_and_unwaited_results_time_out():
    async def go():
        loop = asyncio.get_running_loop()
        failed, waiting = _Acks(2, loop), _Acks(2, loop)
        failed.set(0, DeliveryResult(0, 1))
        failed.fail(DeliveryResult(error="broker unavailable"))
        await asyncio.wait_for(failed.future, 1)
        waiting.set(1, DeliveryResult(0, 2))
        done, _ = await asyncio.wait([waiting.future], timeout=0.05)
        return failed.results("missing"), done, waiting.results("timed out")

    failed, done, waiting = asyncio.run(go())
    assert failed == [DeliveryResult(0, 1), DeliveryResult(error="broker unavailable")]
    assert not done and waiting == [DeliveryResult(error="timed out"), DeliveryResult(0, 2)]


def test_a_report_after_the_loop_closed_is_dropped():
    loop = asyncio.new_event_loop()
    acks = _Acks(1, loop)
    loop.close()
    acks.set(0, DeliveryResult(0, 1))  # no error: nobody waits any more
