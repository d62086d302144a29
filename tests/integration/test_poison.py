"""No single message can stop a worker: whatever lands on the events topic (random bytes, events
with extreme but valid values, events the contract refuses, written straight to the topic past the
API), the worker stays up, applies every valid event exactly, dead-letters every invalid one, and
goes on with the partition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bazaar_core.kafka.deadletters import read_all
from domain import tokens
from domain.events import LEG_HEADER
from domain.quantities import milli_str, to_milli
from tests.conftest import stack_settings
from tests.integration.harness import Running
from tests.integration.test_pipeline import event

pytestmark = pytest.mark.integration

UTC = UTC


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory):
    settings = stack_settings(kafka_bootstrap, tmp_path_factory.mktemp("poison"), "poison")
    running = Running(settings, [settings.worker_port]).start()
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random", "acks": "all"})
    yield running, producer
    producer.flush(10)
    running.close()


def _send(running: Running, producer: Producer, key: bytes | None, value: bytes | None, headers=None) -> tuple[int, int]:
    """Write one message straight to the events topic; (partition, offset) once the broker has it."""
    where: list = []
    producer.produce(
        running.settings.events_topic,
        key=key,
        value=value,
        headers=headers,
        on_delivery=lambda err, msg: where.append((err, msg.partition(), msg.offset())),
    )
    producer.flush(30)
    [(err, partition, offset)] = where
    assert err is None, err
    tokens.merge(running.offsets, partition, offset)
    return partition, offset


def _when(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


# events the contract refuses: each must be dead-lettered, none may stop the worker
HOSTILE: list[tuple[str, object]] = [
    ("year 9999", {"occurred_at": "9999-12-31T23:59:59-05:00"}),
    ("year 1", {"occurred_at": "0001-01-01T00:00:00+05:00"}),
    ("1999", {"occurred_at": "1999-12-31T23:59:59Z"}),
    ("two days ahead", {"occurred_at": None}),  # filled in below: now + 2 days
    ("underscore", {"lines": [{"sku": "rice", "quantity": "1_000", "unit_price": "1"}]}),
    ("spaces", {"lines": [{"sku": "rice", "quantity": " 5 ", "unit_price": "1"}]}),
    ("huge exponent", {"lines": [{"sku": "rice", "quantity": "1E+1000000", "unit_price": "1"}]}),
    ("float", {"lines": [{"sku": "rice", "quantity": 0.1, "unit_price": "1"}]}),
    ("bad sku", {"lines": [{"sku": "a|b", "quantity": "1", "unit_price": "1"}]}),
    ("no lines", {"lines": []}),
    ("unknown type", {"type": "theft"}),
    ("fat finger", {"lines": [{"sku": "rice", "quantity": "1000001", "unit_price": "1"}]}),
    ("void of nothing", {"type": "return", "reason": "void"}),
]


def _hostile(store: str, label: str, patch: dict) -> bytes:
    body = event("sale", store=store, lines=[{"sku": "rice", "quantity": "1", "unit_price": "10"}])
    body.update(patch)
    if label == "two days ahead":
        body["occurred_at"] = _when(2 * 24 * 60)
    return json.dumps(body).encode()


# up to the contract's bound on a line (schemas.events.MAX_LINE_QUANTITY); past it an event is poison too
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000000"), places=3)
valid_events = st.tuples(
    st.sampled_from(["sale", "purchase", "return"]),
    st.sampled_from(["rice", "atta", "ghee"]),
    quantities,
    st.sampled_from([-60 * 24 * 365 * 26 + 60 * 24 * 30, -5, 0, 60 * 23]),  # early 2000s .. nearly a day ahead
)
junk = st.one_of(
    st.binary(max_size=200),
    st.just(b""),
    st.just(b"{}"),
    st.just(b"null"),
    st.just(b"\xff\xfe"),
    st.text(max_size=50).map(lambda t: json.dumps({"type": "sale", "store_id": t}).encode()),
)


@given(
    plan=st.lists(
        st.one_of(
            valid_events.map(lambda v: ("valid", v)),
            junk.map(lambda j: ("junk", j)),
            st.sampled_from(HOSTILE).map(lambda h: ("hostile", h)),
        ),
        min_size=20,
        max_size=60,
    )
)
@hsettings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_message_stops_the_worker(stack, plan):
    running, producer = stack
    store = f"p{uuid.uuid4().hex[:10]}"
    worker = running.workers[running.settings.worker_port]
    pid = worker.proc.pid
    expected: dict[str, int] = {}
    poisoned: set[str] = set()
    for kind, item in plan:
        if kind == "valid":
            typ, sku, quantity, minutes = item
            line = {"sku": sku, "quantity": str(quantity), "unit_price": "12.50"}
            if typ == "purchase":
                line = {"sku": sku, "quantity": str(quantity), "unit_cost": "9.99"}
            extra = {"supplier": "Metro"} if typ == "purchase" else {}
            body = event(typ, store=store, lines=[line], **extra)
            body["occurred_at"] = _when(minutes)
            sign = -1 if typ == "sale" else 1
            expected[sku] = expected.get(sku, 0) + sign * to_milli(quantity)
            _send(running, producer, store.encode(), json.dumps(body).encode())
        elif kind == "junk":
            p, o = _send(running, producer, store.encode(), item)
            poisoned.add(f"{running.settings.events_topic}|{p}|{o}")
        else:
            label, patch = item
            p, o = _send(running, producer, store.encode(), _hostile(store, label, patch))
            poisoned.add(f"{running.settings.events_topic}|{p}|{o}")
    # a tombstone and a message whose header is not UTF-8 are refused too
    p, o = _send(running, producer, store.encode(), None)
    poisoned.add(f"{running.settings.events_topic}|{p}|{o}")
    p, o = _send(running, producer, store.encode(), b"{", headers=[(LEG_HEADER, b"\xff")])
    poisoned.add(f"{running.settings.events_topic}|{p}|{o}")

    # a normal sale through the API after all that is applied at once
    sale = event("sale", store=store, lines=[{"sku": "rice", "quantity": "2", "unit_price": "10"}])
    assert running.post(sale).status_code == 202
    expected["rice"] = expected.get("rice", 0) - 2000
    stock = running.stock(store, "rice", after=running.token, timeout_ms=5000)
    assert stock.status_code == 200, stock.text
    assert stock.json()["on_hand"] == milli_str(expected["rice"])

    got = {sku: item["on_hand"] for sku, item in running.store_stock(store).items()}
    assert got == {sku: milli_str(m) for sku, m in expected.items()}
    letters = {k: v for k, v in read_all(running.settings).items() if v.store_id == store}
    assert set(letters) == poisoned
    assert all(v.source == "worker" for v in letters.values())
    assert worker.proc.pid == pid and worker.alive, "the worker restarted"


def _dlq(running: Running, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **running.settings.to_env()}
    return subprocess.run([sys.executable, "-m", "bazaar.cli", "dlq", *args], env=env, capture_output=True, text=True, timeout=120)


def _letters_of(running: Running, store: str, want: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        letters = {k: v for k, v in read_all(running.settings).items() if v.store_id == store}
        if len(letters) >= want or time.monotonic() > deadline:
            return letters
        time.sleep(0.3)


def test_operators_list_show_replay_and_drop_dead_letters(stack):
    running, producer = stack
    store = f"d{uuid.uuid4().hex[:10]}"
    hostile = event("sale", store=store, lines=[{"sku": "rice", "quantity": "1", "unit_price": "10"}])
    hostile["occurred_at"] = "9999-12-31T23:59:59-05:00"
    hostile["terminal_id"] = "t\x1b[31mred"
    _send(running, producer, store.encode(), json.dumps(hostile).encode())
    _send(running, producer, store.encode(), b"\x00not json")
    letters = _letters_of(running, store, 2)
    assert len(letters) == 2
    far_future = next(d for d in letters.values() if b"9999" in d.raw_value())
    garbage = next(d for d in letters.values() if d is not far_future)

    listed = _dlq(running, "list", "--store", store)
    assert listed.returncode == 0, listed.stderr
    assert far_future.id in listed.stdout and garbage.id in listed.stdout and "2 dead letter(s)" in listed.stdout
    as_json = json.loads(_dlq(running, "list", "--store", store, "--format", "json").stdout)
    assert {d["id"] for d in as_json} == set(letters)

    shown = _dlq(running, "show", far_future.id)
    assert shown.returncode == 0 and "time_in_future" in shown.stdout and "\x1b" not in shown.stdout
    assert _dlq(running, "show", "no|such|letter").returncode == 1

    assert _dlq(running, "drop", garbage.id).returncode == 0
    # replayed while it is still refused: it comes back under its new offset, naming where it came from
    assert _dlq(running, "replay", far_future.id).returncode == 0
    deadline = time.monotonic() + 30
    while True:
        now = _letters_of(running, store, 1)
        if garbage.id not in now and far_future.id not in now and len(now) == 1:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.3)
    [again] = now.values()
    assert again.raw_value() == far_future.raw_value()
    assert again.headers.get("bazaar-replayed-from") == far_future.id
    assert (again.topic, again.partition) == (far_future.topic, far_future.partition) and again.offset > far_future.offset
    assert "no dead letters" in _dlq(running, "list", "--store", "nobody").stdout
