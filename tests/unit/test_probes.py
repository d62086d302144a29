"""domain.probes: ready means caught up, alive means not stuck; and what the analytics feeds and the
notifier's consumer watch hand the decision (a feed idle with nothing to do is not stuck, the figures
never reach a public answer)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bazaar_core.notifier.watch import CONSUMER_LOOP, EVENT_LOOP, ConsumerWatch
from bazaar_core.settings import Settings
from domain.probes import Feed, Verdict, liveness, readiness

pytestmark = pytest.mark.unit

BOUND, FRESH, STALL = 100, 10.0, 120.0


def feed(behind: int | None = 0, measured: float | None = 1.0, idle: float = 0.0, waiting: bool = False, name: str = "ledger") -> Feed:
    return Feed(name, behind, measured, idle, waiting)


# ---- readiness: caught up -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feeds", "want"),
    [
        ([feed(0)], Verdict(True, "ready")),
        ([feed(BOUND)], Verdict(True, "ready")),  # the bound itself is caught up
        ([feed(BOUND + 1)], Verdict(False, "behind", ("ledger",))),
        ([feed(None, None)], Verdict(False, "unmeasured", ("ledger",))),  # nothing assigned yet
        ([feed(0, FRESH + 0.1)], Verdict(False, "unmeasured", ("ledger",))),  # measured too long ago
        ([], Verdict(False, "unmeasured")),
        ([feed(0), feed(BOUND + 1, name="stores"), feed(None, name="products")], Verdict(False, "unmeasured", ("products",))),
        ([feed(0), feed(BOUND + 1, name="stores"), feed(BOUND + 5, name="products")], Verdict(False, "behind", ("stores", "products"))),
    ],
)
def test_readiness(feeds, want):
    assert readiness(feeds, BOUND, FRESH) == want


@given(st.lists(st.tuples(st.none() | st.integers(0, 10 * BOUND), st.none() | st.floats(0, 3 * FRESH)), min_size=1, max_size=5))
def test_ready_exactly_when_every_feed_is_measured_lately_and_within_the_bound(measures):
    feeds = [feed(behind, age, name=f"f{i}") for i, (behind, age) in enumerate(measures)]
    verdict = readiness(feeds, BOUND, FRESH)
    caught_up = all(b is not None and a is not None and a <= FRESH and b <= BOUND for b, a in measures)
    assert verdict.ok == caught_up
    assert verdict.ok == (verdict.status == "ready") and bool(verdict.feeds) == (not verdict.ok)
    assert set(verdict.feeds) <= {f.name for f in feeds}


# ---- liveness: not stuck -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feeds", "loops", "want"),
    [
        ([feed(5, idle=STALL + 1)], {}, Verdict(False, "stuck", ("ledger",))),  # behind and not moving
        ([feed(5, idle=STALL)], {}, Verdict(True, "alive")),  # (not yet)
        ([feed(0, idle=10 * STALL)], {}, Verdict(True, "alive")),  # nothing to do
        ([feed(5, idle=STALL + 1, waiting=True)], {}, Verdict(True, "alive")),  # retrying ClickHouse or the broker
        ([feed(5, FRESH + 1, idle=STALL + 1)], {}, Verdict(True, "alive")),  # lag not known lately: readiness says so
        ([feed(None, None, idle=STALL + 1)], {}, Verdict(True, "alive")),
        ([feed(0)], {"event loop": STALL + 1, "consumer": 0.2}, Verdict(False, "stuck", ("event loop",))),
        ([feed(5, idle=STALL + 1)], {"consumer": STALL + 1}, Verdict(False, "stuck", ("consumer", "ledger"))),
        ([], {}, Verdict(True, "alive")),
    ],
)
def test_liveness(feeds, loops, want):
    assert liveness(feeds, STALL, FRESH, loops) == want


@given(
    st.lists(st.tuples(st.integers(0, 1000), st.floats(0, 3 * STALL), st.booleans()), max_size=5),
    st.dictionaries(st.sampled_from(["event loop", "consumer"]), st.floats(0, 3 * STALL)),
)
def test_stuck_exactly_when_a_loop_stopped_or_a_feed_is_behind_idle_and_waits_on_nothing(measures, loops):
    feeds = [feed(behind, idle=idle, waiting=waiting, name=f"f{i}") for i, (behind, idle, waiting) in enumerate(measures)]
    verdict = liveness(feeds, STALL, FRESH, loops)
    stuck = any(age > STALL for age in loops.values()) or any(b > 0 and i > STALL and not w for b, i, w in measures)
    assert verdict.ok == (not stuck) and verdict.ok == (verdict.status == "alive")


def test_a_verdict_says_names_never_figures():
    assert Verdict(True, "ready").body() == {"status": "ready"}
    assert readiness([feed(12345, name="ledger")], BOUND, FRESH).body() == {"status": "behind", "feeds": ["ledger"]}


# ---- what the processes hand it -----------------------------------------------------------------


def test_an_analytics_feed_idle_with_nothing_to_do_is_not_stuck_when_work_comes():
    from clickhouse.app import Feed as AnalyticsFeed

    sink = SimpleNamespace(table="stores", pending=0, state=SimpleNamespace(unreachable=None, dead_letter_error=None))
    f = AnalyticsFeed(topic=None, sink=sink)  # type: ignore[arg-type]  # (the probe reads the sink only)
    assert f.probe(f.moved_at + 1).behind is None  # not measured: not ready, and not stuck either
    # caught up at 1000 s (refresh_lag moves moved_at along while there is nothing to do), then a
    # message arrives after hours of nothing: measured behind at once, idle only since 1000 s
    f.lag, f.measured_at, f.moved_at = 1, 1001.0, 1000.0
    assert f.probe(1001.0) == Feed("stores", 1, 0.0, 1.0) and liveness([f.probe(1001.0)], STALL, FRESH).ok
    later = 1000.0 + STALL + 1  # measured every second since, and never taken
    f.measured_at = later
    assert liveness([f.probe(later)], STALL, FRESH).body() == {"status": "stuck", "feeds": ["stores"]}
    sink.state.unreachable = "OperationalError: connection refused"
    assert liveness([f.probe(later)], STALL, FRESH).ok  # waiting on ClickHouse: a restart would not help
    sink.pending = BOUND + 1
    assert readiness([f.probe(later)], BOUND, FRESH).status == "behind"  # buffered counts as behind


class FakeConsumer:
    """position, committed and watermarks of a confluent Consumer, for ``ConsumerWatch.measure``."""

    def __init__(self, positions: dict[int, int], committed: dict[int, int], high: dict[int, int], low: int = 0) -> None:
        self.positions, self._committed, self.high, self.low = positions, committed, high, low

    def position(self, tps):
        for tp in tps:
            tp.offset = self.positions.get(tp.partition, -1001)
        return tps

    def committed(self, tps, timeout):
        for tp in tps:
            tp.offset = self._committed.get(tp.partition, -1001)
        return tps

    def get_watermark_offsets(self, tp, timeout, cached):
        assert not cached  # the broker's answer, not the last fetch's
        return self.low, self.high[tp.partition]


def test_the_notifier_measures_from_its_position_else_its_commit_else_the_start():
    watch = ConsumerWatch()
    settings = Settings(notifier_ready_lag=3)
    assert watch.readiness(True, settings).status == "unmeasured"
    watch.measure(FakeConsumer({0: 10}, {1: 4}, {0: 12, 1: 5, 2: 2}), "alerts", [0, 1, 2], lambda: False)
    assert watch.behind == 2 + 1 + 2  # read to 10 of 12; committed 4 of 5; nothing read or committed, 2 from the start
    assert watch.readiness(True, settings).body() == {"status": "behind", "feeds": ["alerts"]}
    assert watch.readiness(False, settings).status == "unmeasured"  # not consuming (its views unread, or stopped)
    watch.measure(FakeConsumer({0: 12, 1: 5, 2: 2}, {}, {0: 12, 1: 5, 2: 2}), "alerts", [0, 1, 2], lambda: False)
    assert watch.behind == 0 and watch.readiness(True, settings).ok
    before = watch.measured_at
    watch.measure(FakeConsumer({}, {}, {}), "alerts", [], lambda: False)  # nothing assigned: nothing recorded
    assert watch.measured_at == before


def test_the_notifier_is_stuck_when_a_loop_stops_turning():
    watch, settings = ConsumerWatch(), Settings(notifier_stall_s=5.0)
    assert watch.liveness(True, settings).ok
    watch.turned[CONSUMER_LOOP] -= 6
    assert watch.liveness(True, settings).body() == {"status": "stuck", "feeds": [CONSUMER_LOOP]}
    assert watch.liveness(False, settings).ok  # not consuming yet: its consumer loop is not asked
    watch.turned[EVENT_LOOP] -= 6
    assert watch.liveness(False, settings).body() == {"status": "stuck", "feeds": [EVENT_LOOP]}
