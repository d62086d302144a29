"""No single message stalls analytics, on the real stack (API, broker, stock worker, `bazaar analytics`
on embedded chDB), with the sink's default batch size so that one POST is one insert:

* one POST of 101 events in 101 months (ClickHouse used to refuse that insert, "too many partitions",
  and the sink retried it forever): a normal sale posted next is in `daily_sales` within 60 s;
* ledger messages ClickHouse refuses, or that cannot be read, put straight on the ledger topic: they
  are on the dead-letter topic (source "analytics") and the good messages after them are inserted;
* its probes: not ready while more than its bound wait for a ClickHouse that is down, yet alive (a
  restart would not bring ClickHouse back); ready again once they are in.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bazaar_core.kafka.deadletters import read_all
from tests.conftest import stack_settings
from tests.integration.analytics_harness import Analytics
from tests.integration.harness import Running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory):
    base = tmp_path_factory.mktemp("analytics-poison")
    settings = stack_settings(
        kafka_bootstrap,
        base,
        "apoison",
        analytics_batch_max=500,
        analytics_batch_seconds=1.0,  # the defaults: 101 events, one insert
        analytics_ready_lag=20,  # (the probes' test: a backlog of a few dozen is "behind")
        clickhouse_fault_file=str(base / "clickhouse-down"),  # ClickHouse "down" while it exists
    )
    running = Running(settings, [settings.worker_port]).start()
    analytics = Analytics(running).start()
    try:
        yield running, analytics
    finally:
        analytics.close()
        running.close()


def _sale(store: str, occurred_at: str, quantity: str = "1", price: str = "10.00") -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": occurred_at,
        "lines": [{"sku": "atta", "quantity": quantity, "unit_price": price}],
    }


def _report(running: Running, name: str, **params) -> list[dict]:
    resp = running.http.get(f"/v1/reports/{name}", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["rows"]


def test_one_post_spanning_101_months_does_not_stall_analytics(stack):
    running, analytics = stack
    store = f"months-{uuid.uuid4().hex[:6]}"
    months = [_sale(store, f"{2000 + i // 12:04d}-{i % 12 + 1:02d}-15T12:00:00Z") for i in range(101)]
    assert len({b["occurred_at"][:7] for b in months}) == 101
    resp = running.post({"events": months})
    assert resp.status_code == 202, resp.text
    now = datetime.now(UTC)
    resp = running.post(_sale(store, now.isoformat(), quantity="2", price="55.50"))
    assert resp.status_code == 202, resp.text
    posted = time.monotonic()
    window = {"from": (now - timedelta(days=1)).date().isoformat(), "to": (now + timedelta(days=1)).date().isoformat()}
    while not (rows := _report(running, "daily_sales", store_id=store, **window)):
        assert time.monotonic() - posted < 60, (
            f"the sale after the 101-month POST is not in daily_sales within 60 s: {analytics.health()}\n{analytics.log_tail()}"
        )
        time.sleep(0.5)
    [today] = rows
    assert (today["day"], today["bills"], Decimal(today["revenue"])) == (now.date().isoformat(), 1, Decimal("111"))
    # the 101 months went in too, none dead-lettered, and ClickHouse was never blamed
    history = _report(running, "daily_sales", store_id=store, **{"from": "2000-01-01", "to": window["to"]})
    assert len(history) == 102 and {r["day"][:7] for r in history} == {b["occurred_at"][:7] for b in months} | {today["day"][:7]}
    health = analytics.health()
    assert (health["status"], health["clickhouse"], health["dead_lettered"]) == ("ok", "up", {}), health
    assert analytics.metric("bazaar_analytics_insert_failures_total") == 0


def _ledger_entry(store: str, quantity: str) -> dict:
    at = datetime.now(UTC).isoformat()
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "type": "adjustment",
        "leg": "out",
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": at,
        "received_at": at,
        "rows": [
            {
                "sku": "atta",
                "quantity": quantity,
                "reason": "correction",
                "on_hand_before": "0",
                "on_hand_after": quantity,
                "changed": True,
                "outcome": "applied",
            }
        ],
    }


def test_ledger_messages_refused_or_unreadable_are_dead_lettered_and_the_feed_goes_on(stack):
    running, analytics = stack
    settings, store = running.settings, f"dlq-{uuid.uuid4().hex[:6]}"
    good = [_ledger_entry(store, "3"), _ledger_entry(store, "4")]
    messages = [
        ("refused", json.dumps(_ledger_entry(store, "1e20")).encode()),  # a valid entry; Decimal(18, 3) cannot hold it
        ("unreadable", b"{not a ledger entry"),
        ("good", json.dumps(good[0]).encode()),
        ("good", json.dumps(good[1]).encode()),
    ]
    producer = _producer(settings)
    where: list = []
    for label, value in messages:  # one key: one partition, in this order, past the API and the stock worker
        producer.produce(
            settings.ledger_topic,
            key=store.encode(),
            value=value,
            on_delivery=lambda err, msg, label=label: where.append((label, err, msg.partition(), msg.offset())),
        )
    assert producer.flush(30) == 0
    assert [(label, err) for label, err, _, _ in where] == [(label, None) for label, _ in messages]
    ids = {label: f"{settings.ledger_topic}|{p}|{o}" for label, _, p, o in where[:2]}

    deadline = time.monotonic() + 60
    while len(history := _report(running, "movement_history", store_id=store, sku="atta")) < 2:
        assert time.monotonic() < deadline, (
            f"the good entries after the poison ones are not in: {analytics.status()['feeds']['ledger']}\n{analytics.log_tail()}"
        )
        time.sleep(0.5)
    assert sorted(r["event_id"] for r in history) == sorted(e["event_id"] for e in good)

    letters = read_all(settings)
    for label, value in messages[:2]:
        dead = letters[ids[label]]
        assert (dead.source, dead.topic, dead.store_id, dead.raw_key(), dead.raw_value()) == (
            "analytics",
            settings.ledger_topic,
            store,
            store.encode(),
            value,
        )
        assert dead.error_type == {"refused": "InsertRefused", "unreadable": "UnreadableMessage"}[label], dead
    assert sorted(d.id for d in letters.values() if d.store_id == store) == sorted(ids.values())  # not the good ones

    assert analytics.metric("bazaar_analytics_dead_lettered_total", reason="refused") == 1
    assert analytics.metric("bazaar_analytics_dead_lettered_total", reason="unreadable") == 1
    assert analytics.metric("bazaar_analytics_refused_inserts_total") >= 1
    health = analytics.health()
    assert (health["status"], health["clickhouse"]) == ("ok", "up"), health
    assert health["dead_lettered"] == {"ledger": {"refused": 1, "unreadable": 1}}, health
    assert health["last_dead_letter"]["id"] in ids.values()
    ledger = analytics.status()["feeds"]["ledger"]
    assert ledger["pending"] == 0 and ledger["dead_lettered"] == {"total": 2, "refused": 1, "unreadable": 1}


def _producer(settings) -> Producer:
    return Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True, "partitioner": "murmur2_random"}
    )


def test_not_ready_while_behind_a_clickhouse_outage_yet_alive_and_ready_once_caught_up(stack):
    running, analytics = stack
    settings, store = running.settings, f"ready-{uuid.uuid4().hex[:6]}"
    analytics.wait_ready()
    assert analytics.probe("/livez") == (200, {"status": "alive"})
    entries = [_ledger_entry(store, "1") for _ in range(settings.analytics_ready_lag + 10)]
    fault = Path(settings.clickhouse_fault_file)
    fault.touch()
    try:
        producer = _producer(settings)
        for entry in entries:
            producer.produce(settings.ledger_topic, key=store.encode(), value=json.dumps(entry).encode())
        assert producer.flush(30) == 0
        deadline = time.monotonic() + 30
        while (ready := analytics.probe("/ready")) != (503, {"status": "behind", "feeds": ["ledger"]}):
            assert time.monotonic() < deadline, f"not behind within 30 s: {ready} {analytics.status()['feeds']['ledger']}"
            time.sleep(0.2)
        assert analytics.status()["feeds"]["ledger"]["backlog"] > settings.analytics_ready_lag
        assert analytics.probe("/livez") == (200, {"status": "alive"})  # waiting on ClickHouse, not stuck
    finally:
        fault.unlink(missing_ok=True)
    analytics.wait_ready(timeout=60)
    # ready means caught up: all but at most the bound in ClickHouse (a batch may still be on its way)
    inserted = len(_report(running, "movement_history", store_id=store, sku="atta"))
    assert len(entries) - settings.analytics_ready_lag <= inserted <= len(entries)
    assert analytics.probe("/livez") == (200, {"status": "alive"})
