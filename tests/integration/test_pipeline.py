"""POS events over HTTP, through the real broker, into the stock tables of real worker processes."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from domain import tokens
from domain.quantities import milli_str
from tests.conftest import free_ports
from tests.integration.harness import Running

pytestmark = pytest.mark.integration

PKT = timezone(timedelta(hours=5))


def now_iso(minutes: int = 0) -> str:
    return (datetime.now(PKT) + timedelta(minutes=minutes)).isoformat()


def event(kind: str, store: str = "s1", minutes: int = 0, **fields) -> dict:
    return {"event_id": str(uuid.uuid4()), "type": kind, "store_id": store, "terminal_id": "t1", "occurred_at": now_iso(minutes), **fields}


@pytest.fixture
def one_worker(settings_factory):
    settings = settings_factory()
    running = Running(settings, [settings.worker_port]).start()
    yield running
    running.close()


def post_generated(running: Running, gen: Generator, batch: int = 100, on_half=None) -> int:
    bodies = [wire_body(b) for b in gen.events()]
    half = len(bodies) // 2
    for i in range(0, len(bodies), batch):
        if on_half and i <= half < i + batch:
            on_half()
        resp = running.post({"events": bodies[i : i + batch]})
        assert resp.status_code == 202, resp.text
    return len(bodies)


def assert_matches(running: Running, gen: Generator) -> int:
    expected = gen.expected()
    by_store: dict[str, dict[str, str]] = {}
    for key, milli in expected.items():
        store, sku = key.split("|")
        by_store.setdefault(store, {})[sku] = milli_str(milli)
    checked = 0
    for store, want in by_store.items():
        got = {sku: item["on_hand"] for sku, item in running.store_stock(store).items()}
        diff = {sku: (want.get(sku), got.get(sku)) for sku in set(want) | set(got) if want.get(sku) != got.get(sku)}
        assert not diff, f"store {store}: (expected, got) {diff}"
        checked += len(want)
    return checked


def test_posted_events_give_exact_stock_and_resends_count_once(one_worker):
    r = one_worker
    assert (
        r.post(
            event("purchase", supplier="Metro", lines=[{"sku": "atta", "quantity": "10", "unit_cost": "95.50"}], minutes=-10)
        ).status_code
        == 202
    )
    sale = event("sale", lines=[{"sku": "atta", "quantity": 0.125, "unit_price": "120.00"}], minutes=-5)
    for _ in range(3):  # a terminal re-sending after timeouts
        assert r.post(sale).status_code == 202
    resp = r.stock("s1", "atta", after=r.token, timeout_ms=20_000)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["on_hand"] == "9.875" and body["negative"] is False
    assert body["store_id"] == "s1" and body["sku"] == "atta" and body["updated_at"]

    # a sale bigger than stock still applies, and is flagged negative
    r.post(event("sale", lines=[{"sku": "atta", "quantity": "12", "unit_price": "120.00"}], minutes=-4))
    body = r.stock("s1", "atta", after=r.token, timeout_ms=20_000).json()
    assert body["on_hand"] == "-2.125" and body["negative"] is True
    assert body["movements_since_count"] == 3  # the purchase and two sales (the re-sends counted once)

    # a count is the truth as of its time; a late sale from before it changes nothing
    r.post(event("count", lines=[{"sku": "atta", "quantity": "4.5"}], minutes=-2))
    r.post(event("sale", lines=[{"sku": "atta", "quantity": "1", "unit_price": "120.00"}], minutes=-3))
    body = r.stock("s1", "atta", after=r.token, timeout_ms=20_000).json()
    assert body["on_hand"] == "4.5" and body["last_count_at"] is not None
    assert body["movements_since_count"] == 0  # the count covers every movement before it

    # a transfer moves stock once, visible at both stores with the same token
    r.post(event("transfer", to_store_id="s2", lines=[{"sku": "atta", "quantity": "1.5"}], minutes=-1))
    assert r.stock("s1", "atta", after=r.token, timeout_ms=20_000).json()["on_hand"] == "3"
    assert r.stock("s2", "atta", after=r.token, timeout_ms=20_000).json()["on_hand"] == "1.5"

    listed = r.store_stock("s1")
    assert listed["atta"]["on_hand"] == "3" and listed["atta"]["movements_since_count"] == 1
    assert r.http.get("/v1/stores/s1/stock", params={"negative": "true"}).json()["items"] == []

    # a lookup waiting for an offset not applied yet shows on the worker's metrics, then answers 504
    ahead = tokens.encode({tokens.partition_for(b"s1", r.settings.partitions): 10**9})
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(r.http.get, "/v1/stores/s1/stock/atta", params={"after": ahead, "timeout_ms": 4000}, timeout=30)
        deadline = time.monotonic() + 3
        while r.worker_metric(r.settings.worker_port, "bazaar_stream_lookup_waits") != 1:
            assert time.monotonic() < deadline and not waiting.done(), "the waiting lookup never showed on /metrics"
            time.sleep(0.05)
        assert waiting.result().status_code == 504
    assert r.worker_metric(r.settings.worker_port, "bazaar_stream_lookup_waits") == 0


def test_generated_day_matches_generator_totals(one_worker):
    gen = Generator(GenConfig(stores=8, events_per_store_day=120, skus=60, seed=11))
    post_generated(one_worker, gen)
    assert assert_matches(one_worker, gen) > 100


def _kill_halfway_then_check(settings_factory, gen: Generator) -> None:
    """Post the generated events with the worker SIGKILLed halfway, restart it, and compare every
    stock with the generator's expected totals."""
    settings = settings_factory()
    running = Running(settings, [settings.worker_port]).start()
    try:
        worker = running.workers[settings.worker_port]
        post_generated(running, gen, batch=50, on_half=worker.kill)
        assert not worker.alive
        running.restart_worker(settings.worker_port)
        assert assert_matches(running, gen) > 100
    finally:
        running.close()


def test_worker_killed_mid_stream_loses_and_doubles_nothing(settings_factory):
    _kill_halfway_then_check(settings_factory, Generator(GenConfig(stores=10, events_per_store_day=150, skus=60, seed=5)))


def test_a_day_synced_after_the_late_window_survives_a_killed_worker(settings_factory):
    """Terminals that were offline for 40 days sync a whole day (the late window is 30), with the
    generator's re-sends and mid-day counts, and the worker is killed mid-stream (it replays what it
    applied after its last commit). Every movement is kept with its id for a window after it was
    received, so re-sent and replayed events count once and a count is placed among the day's
    movements. (Before, each such movement was folded, its id forgotten, as it arrived: re-sends and
    replays counted twice and later counts were refused as stale; this failed with and without the kill.)"""
    day = datetime.now(PKT).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=40)
    _kill_halfway_then_check(settings_factory, Generator(GenConfig(stores=10, events_per_store_day=150, skus=60, seed=6, start=day)))


def test_two_workers_answer_for_every_store(settings_factory):
    settings = settings_factory()
    second = free_ports(1)[0]
    running = Running(settings, [settings.worker_port, second]).start()
    try:
        assigned = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the group settled with both members
            assigned = [running.http.get(f"http://127.0.0.1:{p}/health").json().get("assigned", []) for p in running.workers]
            if all(assigned) and sum(map(len, assigned)) == settings.partitions:
                break
            time.sleep(0.5)
        assert all(assigned), f"both workers should own partitions: {assigned}"
        gen = Generator(GenConfig(stores=12, events_per_store_day=80, skus=40, seed=3))
        post_generated(running, gen)
        assert assert_matches(running, gen) > 100
        # and the group commits everything (an offset applied past Faust, after a rebalance gap, is acked too)
        deadline = time.monotonic() + 30
        while (behind := uncommitted(settings)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert behind == 0, f"{behind} events applied but never committed"
    finally:
        running.close()


def test_worker_joining_during_a_backlog_stalls_nothing(settings_factory):
    """A rebalance while a worker works through a backlog: Faust suspends the flow and waits until
    every event it handed over is acknowledged, so an agent holding a half-gathered batch while it
    waits for more would stall the group for good (seen in the two-worker benchmark)."""
    settings = settings_factory()
    first, second = settings.worker_port, free_ports(1)[0]
    running = Running(settings, [first, second]).start(workers=[])
    try:
        gen = Generator(GenConfig(stores=24, events_per_store_day=2_000, skus=40, seed=11))  # ~10 s for one worker
        post_generated(running, gen, batch=500)  # the backlog, before any worker runs
        running.start_worker(first)
        deadline = time.monotonic() + 60
        while running.applied_events(first) < 500:  # first worker is busy with the backlog
            assert time.monotonic() < deadline, "the first worker applied nothing"
            time.sleep(0.05)
        running.start_worker(second)  # joins: a rebalance in the middle of the backlog
        try:
            assert assert_matches(running, gen) > 100
        except AssertionError:
            running.print_workers(
                sorted({k.split("|")[0] for k in gen.expected()})[:4]
            )  # which worker owns and applied what, for the failure report
            raise
        assert running.applied_events(second) > 0, "the rebalance came after the backlog: the test showed nothing"
    finally:
        running.close()


def uncommitted(settings) -> int:
    """Events on the events topic beyond the workers' group's committed offsets."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.group_id, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(settings.events_topic, p), timeout=10)[1] for p in range(settings.partitions)
        }
        return sum(max(0, end - max(committed[p], 0)) for p, end in ends.items())
    finally:
        consumer.close()
