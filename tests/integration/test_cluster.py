"""The whole stack on a three-node cluster (replication 3, two in sync), two workers and two API
replicas: a seeded day gives every stock exactly; then the broker leading the most events
partitions is SIGKILLed while clients keep posting (retrying with the same event ids), restarted,
and every stock is exact again: nothing acknowledged lost, nothing counted twice."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from bazaar.chaos import ClusterStack
from bazaar.load_client import RetryingClient
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cluster]


def day(seed: int, prefix: str, stores: int = 6) -> Generator:
    ids = [f"{prefix}-{i}" for i in range(stores)]
    return Generator(GenConfig(stores=stores, events_per_store_day=90, skus=30, seed=seed, store_ids=ids))


@pytest.mark.timeout(300)
def test_a_broker_killed_under_load_loses_and_doubles_nothing(tmp_path):
    stack = ClusterStack(tmp_path).start()
    events_topic = stack.settings.events_topic
    client = RetryingClient(stack.api_urls, stack.auth, give_up_s=90)
    figures: dict[str, object] = {**stack.timings}
    try:
        first = day(41, "before")
        client.post_all((wire_body(b) for b in first.events()), batch=25)
        checked, wrong = stack.wrong_stock(first, client.delivery.token)
        assert checked > 100 and wrong == {}, wrong
        figures["rss_mib_after_first_day"] = stack.jvm_rss_mib()

        second = day(42, "during")
        bodies = [wire_body(b) for b in second.events()]
        third = len(bodies) // 3
        client.post_all(bodies[:third], batch=25)
        victim = stack.busiest_node(events_topic)
        led = sum(1 for leader in stack.leaders(events_topic).values() if leader == victim.node.node_id)
        assert victim.pid is not None
        os.killpg(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        before = client.delivery.figures()
        client.post_all(bodies[third : 2 * third], batch=25)  # while the broker is down
        figures["failover_s"] = round(time.monotonic() - killed + stack.wait_led_elsewhere(victim.node.node_id, events_topic), 1)
        victim.restart()
        victim.wait_ready()
        client.post_all(bodies[2 * third :], batch=25)
        figures["in_sync_again_s"] = round(time.monotonic() - killed + stack.wait_in_sync(), 1)
        during = client.delivery.figures()

        assert client.delivery.acked_ids >= {b["event_id"] for b in bodies}
        for gen in (first, second):
            checked, wrong = stack.wrong_stock(gen, client.delivery.token)
            assert wrong == {}, f"{len(wrong)} of {checked} stocks wrong: {dict(list(wrong.items())[:10])}"
        check = stack.bazaar("topics", "--check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "as expected (replication factor 3, min.insync.replicas 2)" in check.stdout
        figures.update(
            killed_node=victim.node.node_id,
            events_partitions_it_led=led,
            client_while_down={k: during[k] - before[k] for k in ("http_503", "other_failures", "retries")},
            client_total=client.delivery.figures(),
            rss_mib_end=stack.jvm_rss_mib(),
        )
        print(json.dumps(figures))
    finally:
        client.close()
        stack.close()
