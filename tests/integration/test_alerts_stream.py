"""Scripted event sequences through the real broker give the exact alert sequence."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.harness import Running
from tests.integration.kafka_read import produce_json, read_all

pytestmark = pytest.mark.integration

PKT = timezone(timedelta(hours=5))


def ev(kind, minutes, **fields):
    at = datetime.now(PKT) - timedelta(days=6) + timedelta(minutes=minutes)  # five days of sales stay in the past
    return {"event_id": str(uuid.uuid4()), "type": kind, "store_id": "s1", "terminal_id": "t1", "occurred_at": at.isoformat(), **fields}


def sale(q, minutes, sku="oil"):
    return ev("sale", minutes, lines=[{"sku": sku, "quantity": q, "unit_price": "550.00"}])


def purchase(q, minutes, sku="oil"):
    return ev("purchase", minutes, supplier="Dalda", lines=[{"sku": sku, "quantity": q, "unit_cost": "500.00"}])


@pytest.fixture
def running(settings_factory):
    settings = settings_factory()
    r = Running(settings, [settings.worker_port])
    produce_json(settings.kafka_bootstrap, settings.stores_topic, "s1", {"store_id": "s1", "name": "Karachi 1", "timezone": "Asia/Karachi"})
    produce_json(
        settings.kafka_bootstrap,
        settings.products_topic,
        "oil",
        {
            "sku": "oil",
            "name": "Dalda oil 1 L",
            "unit": "piece",
            "packs": [{"unit": "carton", "size": "12"}],
            "reorder_point": "5",
            "reorder_max": "24",
        },
    )
    produce_json(
        settings.kafka_bootstrap, settings.products_topic, "ghee", {"sku": "ghee", "name": "Desi ghee", "unit": "kg", "lead_time_days": 3}
    )
    r.start()
    r.wait_worker_catalog(products=2, stores=1)  # else a sale before it knows the lead time raises nothing
    yield r
    r.close()


def sequence(r: Running) -> list[tuple[str, str]]:
    r.store_stock("s1")  # waits until every posted event is applied
    msgs = read_all(r.settings.kafka_bootstrap, r.settings.alerts_topic, r.settings.partitions)
    seen, out = set(), []
    for m in msgs:  # consumers dedupe on alert_id
        if m["alert_id"] not in seen:
            seen.add(m["alert_id"])
            out.append((m["type"], m["kind"]))
    return out


def test_exact_alert_sequence_with_resend_and_worker_kill(running):
    r = running
    low = sale("5", 2)
    for body in [purchase("10", 0), low, sale("1", 3)]:
        assert r.post(body).status_code == 202
    assert r.post(low).status_code == 202  # a re-send raises nothing new
    assert sequence(r) == [("alert", "low_stock")]

    msgs = read_all(r.settings.kafka_bootstrap, r.settings.alerts_topic, r.settings.partitions)
    assert {m["alert_id"] for m in msgs} == {msgs[0]["alert_id"]}  # the re-send re-emitted the same alert id
    first = msgs[0]
    assert (first["on_hand"], first["threshold"], first["store_id"], first["sku"]) == ("5", "5", "s1", "oil")
    assert first["suggested_reorder"] == "24" and first["reorder_unit"] == "carton"  # up to 24: 19, in whole cartons

    r.post(purchase("20", 4))  # back above the reorder point: re-armed
    r.post(sale("25", 5))  # through zero: low, out of stock and negative at once
    assert sequence(r) == [
        ("alert", "low_stock"),
        ("cleared", "low_stock"),
        ("alert", "negative_stock"),
        ("alert", "out_of_stock"),
        ("alert", "low_stock"),
    ]

    worker = r.workers[r.settings.worker_port]
    worker.kill()
    r.post(sale("1", 6))  # still negative: nothing new
    r.post(low)  # an old re-send after the crash: nothing new
    r.restart_worker(r.settings.worker_port)
    after = sequence(r)
    assert after == [
        ("alert", "low_stock"),
        ("cleared", "low_stock"),
        ("alert", "negative_stock"),
        ("alert", "out_of_stock"),
        ("alert", "low_stock"),
    ]


def test_running_out_from_days_of_cover(running):
    r = running
    assert r.post(purchase("30", 0, sku="ghee")).status_code == 202
    for day in range(5):  # 4 kg a day for five days, on the store's local days
        assert r.post(sale("4", day * 1440 + 60, sku="ghee")).status_code == 202
    # 30 - 20 = 10 on hand, velocity 4/day: 2.5 days of cover < lead time 3
    got = sequence(r)
    assert got == [("alert", "running_out")]
    msgs = read_all(r.settings.kafka_bootstrap, r.settings.alerts_topic, r.settings.partitions)
    [ro] = [m for m in msgs if m["kind"] == "running_out"][:1]
    assert ro["velocity"] == "4.000" and ro["threshold"] == "3"
    assert float(ro["days_of_cover"]) < 3
