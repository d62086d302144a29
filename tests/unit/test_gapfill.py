"""Offsets Faust skipped in a rebalance are noticed and read from the broker (``bazaar_core.kafka.gapfill``)."""

import asyncio
from collections import defaultdict
from types import SimpleNamespace

import pytest

from bazaar_core.kafka.faust_fence import ack_unfetched
from bazaar_core.kafka.gapfill import GapGuard
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

TOPIC = "ledger"


def msg(partition: int, offset: int):
    return SimpleNamespace(tp=(TOPIC, partition), topic=TOPIC, partition=partition, offset=offset)


class Broker:
    """``read_range`` over an in-memory log: every offset of every partition exists."""

    def __init__(self) -> None:
        self.reads: list[tuple] = []

    def read(self, settings, topic, partition, start, end):
        self.reads.append((topic, partition, start, end))
        return [(partition, o, b"k", f"v{o}".encode(), []) for o in range(start, end)]


def guard(committed: dict | None = None):
    broker, gaps = Broker(), []
    committed = committed or {}
    g = GapGuard(Settings(kafka_bootstrap="127.0.0.1:1"), lambda tp: committed.get(tp), lambda: gaps.append(1), read=broker.read)
    return g, broker, gaps, committed


def check_all(g: GapGuard, *messages) -> list[list]:
    async def run():
        return [await g.check(m) for m in messages]

    return asyncio.run(run())


def test_messages_in_order_read_nothing():
    g, broker, gaps, _ = guard()
    assert check_all(g, msg(0, 0), msg(0, 1), msg(1, 0), msg(0, 2), msg(1, 1)) == [[]] * 5
    assert broker.reads == [] and gaps == []


def test_a_skipped_range_is_read_and_returned_before_the_message():
    g, broker, gaps, _ = guard()
    out = check_all(g, msg(0, 0), msg(0, 1), msg(0, 5), msg(0, 6))
    assert [[o for _, o, *_ in r] for r in out] == [[], [], [2, 3, 4], []]
    assert out[2][0][3] == b"v2"
    assert broker.reads == [(TOPIC, 0, 2, 5)] and gaps == [1]


def test_the_first_message_of_a_partition_counts_from_the_committed_offset():
    g, broker, _, committed = guard({(TOPIC, 3): 40})
    assert check_all(g, msg(3, 40)) == [[]]
    g, broker, _, committed = guard({(TOPIC, 3): 40})
    assert [o for _, o, *_ in check_all(g, msg(3, 43))[0]] == [40, 41, 42]
    # nothing committed: a full-history topic starts at 0
    g, broker, _, _ = guard()
    assert [o for _, o, *_ in check_all(g, msg(0, 2))[0]] == [0, 1]


def test_a_replay_from_before_what_was_handled_is_not_a_gap():
    # a rebalance hands the partition back from the committed offset, below what this process handled
    g, broker, gaps, committed = guard()
    check_all(g, *(msg(0, o) for o in range(10)))
    committed[(TOPIC, 0)] = 4
    assert check_all(g, msg(0, 4), msg(0, 5)) == [[], []]
    assert broker.reads == [] and gaps == []


def test_another_members_progress_raises_the_floor():
    # the partition was with another member, which committed up to 20: resuming there is no gap
    g, broker, _, committed = guard()
    check_all(g, msg(0, 0), msg(0, 1))
    committed[(TOPIC, 0)] = 20
    assert check_all(g, msg(0, 20)) == [[]]
    assert broker.reads == []


def test_a_read_that_hangs_raises_instead_of_waiting_for_ever():
    def hang(*args):
        import time

        time.sleep(2)
        return []

    g = GapGuard(Settings(kafka_bootstrap="127.0.0.1:1"), lambda tp: None, read=hang, timeout_s=0.2)
    check_all(g, msg(0, 0))
    with pytest.raises(asyncio.TimeoutError):
        check_all(g, msg(0, 3))


def test_ack_offset_records_a_filled_offset_once_and_never_below_the_commit():
    tp = (TOPIC, 0)
    c = SimpleNamespace(_committed_offset=defaultdict(lambda: None, {tp: 5}), _acked_index=defaultdict(set), _acked=defaultdict(list))
    for offset in (6, 6, 4, 5):
        ack_unfetched(c, tp, offset)
    assert c._acked[tp] == [6, 5] and c._acked_index[tp] == {5, 6}


def test_an_apps_guard_takes_its_floor_from_the_consumers_committed_offsets():
    app = SimpleNamespace(consumer=SimpleNamespace(_committed_offset={(TOPIC, 0): 7}))
    g = GapGuard.of_app(app, "127.0.0.1:1", lambda: None)
    assert g.committed((TOPIC, 0)) == 7 and g.committed((TOPIC, 1)) is None
