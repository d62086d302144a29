"""Seeding a new group's offsets survives the broker answer that crashes librdkafka's admin client.

librdkafka's mock broker answers the OffsetFetch with NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE,
as a starting Kafka broker does: ``AdminClient.list_consumer_group_offsets`` (what the seeding used)
dies of SIGSEGV on it, ``bazaar_core.kafka.faust_fence.seed_committed_offsets`` retries and commits.
Every call runs in a child process (tests/librdkafka_segfault.py), so a crash cannot take pytest down.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator

import pytest

from tests.librdkafka_segfault import (
    COORDINATOR_NOT_AVAILABLE,
    LIST_OFFSETS,
    NOT_COORDINATOR,
    OFFSET_COMMIT,
    OFFSET_FETCH,
    PARTITIONS,
    MockCluster,
    ended,
    run_child,
)

pytestmark = pytest.mark.unit

NOT_LEADER_FOR_PARTITION, COORDINATOR_LOAD_IN_PROGRESS = 6, 14


@pytest.fixture
def cluster() -> Iterator[MockCluster]:
    mock = MockCluster()
    yield mock
    mock.close()


@pytest.mark.parametrize("error", [NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE])
def test_the_admin_clients_group_offsets_request_is_what_crashes(cluster, error):
    """The root cause, kept as a check: if a librdkafka upgrade stops crashing here, the injected
    answer no longer proves anything below and docs/librdkafka-segfault.md is out of date."""
    cluster.answer_next(OFFSET_FETCH, error)
    admin = run_child("admin", cluster.bootstrap, f"g-{uuid.uuid4().hex[:8]}")
    assert admin.returncode == -signal.SIGSEGV, f"the admin client's call {ended(admin)}"

    cluster.answer_next(OFFSET_FETCH, error)
    consumer = run_child("consumer", cluster.bootstrap, f"g-{uuid.uuid4().hex[:8]}")
    assert consumer.returncode == 1 and "KafkaException" in consumer.stderr, ended(consumer)  # the same answer, raised


def test_seeding_retries_the_answers_that_crash_the_admin_client_and_commits(cluster):
    group = f"g-{uuid.uuid4().hex[:8]}"
    cluster.answer_next(OFFSET_FETCH, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS)
    cluster.answer_next(LIST_OFFSETS, NOT_LEADER_FOR_PARTITION)
    cluster.answer_next(OFFSET_COMMIT, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE)
    seed = run_child("seed", cluster.bootstrap, group)
    assert seed.returncode == 0 and seed.stdout.strip().endswith("seeded: True"), f"{ended(seed)}\n{seed.stderr[-2000:]}"
    assert "group offsets not seeded yet" in seed.stderr  # the injected answers reached it

    committed = run_child("consumer", cluster.bootstrap, group)
    assert committed.returncode == 0, ended(committed)
    assert committed.stdout.strip() == f"offsets {[0] * PARTITIONS}"  # every partition at its low watermark


def test_seeding_leaves_a_group_that_has_committed_alone(cluster):
    group = f"g-{uuid.uuid4().hex[:8]}"
    assert run_child("seed", cluster.bootstrap, group).returncode == 0
    again = run_child("seed", cluster.bootstrap, group)
    assert again.returncode == 0 and "seeded: True" in again.stdout
    assert "group offsets seeded" not in again.stderr  # nothing was missing the second time
