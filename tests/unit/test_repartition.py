"""What `bazaar repartition` copies and where, and when it refuses, without a broker: the copy itself
on a real broker is tests/integration/test_repartition.py."""

from __future__ import annotations

import pytest

from bazaar_core.kafka.repartition import FINAL_KEY, Found, copies, generation, problems
from bazaar_core.kafka.topics import stock_changelog, topic_configs, topic_specs
from bazaar_core.settings import Settings
from domain.partitioning import changelog_partition, store_partition

pytestmark = pytest.mark.unit

OLD = Settings(topic_prefix="gen1", partitions=8)
NEW = generation(OLD, "gen2", 32)


def test_every_compacted_topic_and_the_partitioned_state_are_copied_to_the_same_name_under_the_new_prefix():
    plan = {c.source: c for c in copies(OLD, NEW)}
    compacted = {n for n, conf in topic_configs(OLD).items() if conf.get("cleanup.policy") == "compact"}
    assert set(plan) == compacted | {OLD.alerts_topic}  # the changelog is compacted too; events and ledger stay
    assert OLD.events_topic not in plan and OLD.ledger_topic not in plan
    for c in plan.values():
        assert c.target == "gen2" + c.source.removeprefix("gen1"), c
        assert c.target in topic_specs(NEW)
    assert list(plan)[-1] == stock_changelog(OLD)  # the big one last
    assert [c.source for c in plan.values() if c.partitioned] == [OLD.alerts_topic, stock_changelog(OLD)]


def test_each_partitioned_record_goes_to_its_stores_new_partition():
    plan = {c.source: c for c in copies(OLD, NEW)}
    changelog, alerts = plan[stock_changelog(OLD)], plan[OLD.alerts_topic]
    for i in range(300):
        store = f"store-{i:05d}"
        for key in (f"{store}|rice".encode(), f"\x00{store}|rice|e-{i}".encode(), f"\x01{store}|20061".encode()):
            assert changelog.route(key, 32) == changelog_partition(key, 32) == store_partition(store, 32)
        assert alerts.route(store.encode(), 32) == store_partition(store, 32)
    assert plan[OLD.products_topic].route(b"anything", 32) == 0


def test_a_pass_may_run_on_an_empty_or_its_own_target():
    assert problems(OLD, NEW, "first", 8, {}, {}) == []
    progress = {c.source: {"next": {"0": 5}} for c in copies(OLD, NEW)}
    targets = {c.target: Found(32 if c.partitioned else 1, True) for c in copies(OLD, NEW)}
    assert problems(OLD, NEW, "first", 8, targets, progress) == []  # again: what was written since
    assert problems(OLD, NEW, "final", 8, targets, progress) == []
    assert problems(OLD, generation(OLD, "gen2", 8), "first", 8, {}, {}) == []  # the same count, a new generation


@pytest.mark.parametrize(
    ("pass_", "new", "old_partitions", "targets", "progress", "says"),
    [
        ("first", generation(OLD, "gen2", 4), 8, {}, {}, "4 partitions is fewer than the old generation's 8"),
        ("first", generation(OLD, "gen1", 32), 8, {}, {}, "a topic prefix of its own"),
        ("first", NEW, None, {}, {}, "no events topic gen1.events.v1"),
        ("first", NEW, 8, {"gen2.products.v1": Found(1, True)}, {}, "gen2.products.v1 already holds records but no pass"),
        ("first", NEW, 8, {stock_changelog(NEW): Found(8, False)}, {}, "exists with 8 partitions, expected 32"),
        ("final", NEW, 8, {}, {}, "has not been copied by a first pass yet"),
        ("first", NEW, 8, {}, {FINAL_KEY: {"at": "then"}}, "sealed by a final pass"),
    ],
)
def test_a_pass_refuses_clearly(pass_, new, old_partitions, targets, progress, says):
    found = problems(OLD, new, pass_, old_partitions, targets, progress)
    assert any(says in line for line in found), found
