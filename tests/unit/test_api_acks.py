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


class _Msg:
    def partition(self):
        return 0

    def offset(self):
        return 41


def _producer_with_probe(answers):
    from api.producer import EventProducer
    from bazaar_core.settings import Settings

    producer = EventProducer(Settings(kafka_bootstrap="127.0.0.1:1"))
    producer._producer = object()  # never used: the probe is replaced
    producer._metadata_answers = answers
    return producer


def test_a_delivery_acked_while_a_probe_fails_keeps_the_broker_up():
    """After an outage librdkafka can fail a metadata probe (reconnect backoff) a moment after its
    own connection delivered a message: the delivery is fresher news, /health must not stay 503."""

    async def go():
        acks = _Acks(1, asyncio.get_running_loop())

        def probe_while_a_delivery_lands():
            producer._on_delivery(acks, 0, None, _Msg())
            return False

        producer = _producer_with_probe(lambda: False)
        assert producer.probe(max_age=0.0) is False and producer.is_down
        producer._metadata_answers = probe_while_a_delivery_lands
        assert producer.probe(max_age=0.0) is True
        assert not producer.is_down
        return acks.results("missing")

    assert asyncio.run(go()) == [DeliveryResult(0, 41)]


def test_a_cached_failed_probe_does_not_outvote_a_later_delivery():
    async def go():
        producer = _producer_with_probe(lambda: False)
        assert producer.probe(max_age=0.0) is False and producer.is_down
        producer._on_delivery(_Acks(1, asyncio.get_running_loop()), 0, None, _Msg())
        assert not producer.is_down
        # within the probe's cache time: the answer is the delivery's, not the earlier failed probe
        assert producer.probe() is True and not producer.is_down
        producer._metadata_answers = lambda: False
        assert producer.probe(max_age=0.0) is False and producer.is_down  # a fresh failure still counts

    asyncio.run(go())


class _FakeKafka:
    """produce() queues the delivery report; poll() serves what is queued, like librdkafka, and
    records on which thread it ran."""

    def __init__(self) -> None:
        self.queued: list = []
        self.poll_threads: set[str] = set()
        self.offset = 0

    def produce(self, topic, value=None, key=None, headers=None, on_delivery=None):
        self.offset += 1
        self.queued.append((on_delivery, self.offset))

    def poll(self, timeout=0):
        self.poll_threads.add(threading.current_thread().name)
        served, self.queued = self.queued, []
        for report, offset in served:
            report(None, _Delivered(offset))
        return len(served)


class _Delivered:
    def __init__(self, offset):
        self._offset = offset

    def partition(self):
        return 0

    def offset(self):
        return self._offset


def _producer_with(fake):
    from api.producer import EventProducer
    from bazaar_core.settings import Settings

    producer = EventProducer(Settings())
    producer._producer = fake  # no poll thread: only the loop's pump serves reports
    return producer


def test_delivery_reports_are_served_on_the_event_loop_while_a_request_waits():
    fake = _FakeKafka()
    producer = _producer_with(fake)
    items = [(b"s1", b"{}", []), (b"s2", b"{}", [])]
    results = asyncio.run(asyncio.wait_for(producer.send_many(items, timeout=5), 5))
    assert results == [DeliveryResult(0, 1), DeliveryResult(0, 2)]
    assert fake.poll_threads == {threading.main_thread().name}
    assert not producer._pending  # the pump stops once nobody waits


def test_a_pump_left_behind_by_a_closed_loop_does_not_stall_the_next_loop():
    fake = _FakeKafka()
    producer = _producer_with(fake)

    async def leave_a_pump():
        loop = asyncio.get_running_loop()
        producer._pending.add(_Acks(1, loop))  # someone waiting: the pump keeps running
        producer._pump_on(loop)
        await asyncio.sleep(0.01)

    asyncio.run(leave_a_pump())  # this loop closes with the pump task unfinished
    assert not producer._pumping()  # so the poll thread would serve reports again
    producer._pending.clear()
    results = asyncio.run(asyncio.wait_for(producer.send_many([(b"s", b"{}", [])], timeout=5), 5))
    assert results == [DeliveryResult(0, 1)]
