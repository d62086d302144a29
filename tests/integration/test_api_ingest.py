"""POST /v1/events against the session's real Kafka broker, the app run in-process with its lifespan."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from fastapi.testclient import TestClient

from bazaar_core.auth import keys
from bazaar_core.auth import tokens as access_tokens
from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.local import LocalKafka
from bazaar_core.settings import Settings
from domain import tokens
from tests.conftest import stack_settings
from tests.integration.apps import api

pytestmark = pytest.mark.integration


def sale(store: str = "s1", **over) -> dict:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": "2026-11-22T09:30:00+05:00",
        "lines": [{"sku": "rice", "quantity": "0.125", "unit_price": "10.00"}],
    }
    body.update(over)
    return body


def _consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )


def topic_size(settings: Settings, timeout: float = 20.0) -> int:
    """Sum of the high watermarks of the events topic: how many messages ever reached it.

    Retried while a just-created topic's partitions have no leader yet.
    """
    c = _consumer(settings)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                return sum(
                    c.get_watermark_offsets(TopicPartition(settings.events_topic, p), timeout=5)[1] for p in range(settings.partitions)
                )
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        c.close()


def consume(settings: Settings, n: int, timeout: float = 20.0) -> list:
    c = _consumer(settings)
    c.assign([TopicPartition(settings.events_topic, p, 0) for p in range(settings.partitions)])
    out, deadline = [], time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append(msg)
    finally:
        c.close()
    return out


def _serve(settings: Settings) -> Iterator[tuple[TestClient, Settings]]:
    ensure_topics(settings, {settings.events_topic: settings.partitions})
    topic_size(settings)  # every partition has its leader
    with api(settings) as client:
        yield client, settings


@pytest.fixture
def app(settings_factory) -> Iterator[tuple[TestClient, Settings]]:
    yield from _serve(settings_factory())


@pytest.fixture(scope="module")
def refusing(kafka_bootstrap, tmp_path_factory) -> Iterator[tuple[TestClient, Settings]]:
    """One API for the module's refusals: none of them may produce, so its topic stays empty
    throughout (each test still asserts so), and the start-up is paid once."""
    yield from _serve(stack_settings(kafka_bootstrap, tmp_path_factory.mktemp("refusing"), "refusing"))


# ---- accepted --------------------------------------------------------------------------------------


def test_single_event_is_acked_and_on_the_topic(app):
    client, settings = app
    event = sale("store-7")
    r = client.post("/v1/events", json=event)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["event_ids"] == [event["event_id"]]

    [msg] = consume(settings, 1)
    assert msg.key() == b"store-7"
    assert msg.partition() == tokens.partition_for(b"store-7", settings.partitions)  # same as the workers'
    assert body["token"] == tokens.encode({msg.partition(): msg.offset()})
    wire = json.loads(msg.value())
    assert wire["event_id"] == event["event_id"]
    assert wire["received_at"]
    assert wire["lines"][0]["quantity"] == "0.125" and wire["lines"][0]["unit_price"] == "10"
    headers = dict(msg.headers())
    assert len(headers["bazaar-digest"]) == 16


def test_json_numbers_stay_exact(app):
    client, settings = app
    raw = json.dumps(sale()).replace('"0.125"', "0.125")
    r = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 202, r.text
    [msg] = consume(settings, 1)
    assert json.loads(msg.value())["lines"][0]["quantity"] == "0.125"


def test_batch_of_three(app):
    client, settings = app
    events = [sale("s1"), sale("s2"), sale("s3")]
    r = client.post("/v1/events", json={"events": events})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 3 and body["event_ids"] == [e["event_id"] for e in events]
    msgs = consume(settings, 3)
    assert sorted(m.key() for m in msgs) == [b"s1", b"s2", b"s3"]
    expected: dict[int, int] = {}
    for m in msgs:
        tokens.merge(expected, m.partition(), m.offset())
    assert tokens.decode(body["token"]) == expected


def test_a_charset_parameter_is_accepted(app):
    client, _ = app
    r = client.post("/v1/events", content=json.dumps(sale()).encode(), headers={"content-type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 202, r.text


# ---- rejected: nothing reaches the topic -----------------------------------------------------------


def _bad_money() -> dict:
    return sale(lines=[{"sku": "rice", "quantity": "1", "unit_price": "1.234"}])


def _without(field: str) -> dict:
    body = sale()
    del body[field]
    return body


BAD = {
    "malformed json": (b'{"type": "sale", "lines": [', 400, "invalid_json", None, None),
    "not json at all": (b"hello", 400, "invalid_json", None, None),
    "unknown type": (sale(type="gift"), 422, "invalid_event", None, "type"),
    "missing field": (_without("terminal_id"), 422, "invalid_event", None, "terminal_id"),
    "sale quantity 0": (sale(lines=[{"sku": "rice", "quantity": "0", "unit_price": "1"}]), 422, "invalid_event", None, "lines[0].quantity"),
    "sale quantity negative": (
        sale(lines=[{"sku": "rice", "quantity": "-2", "unit_price": "1"}]),
        422,
        "invalid_event",
        None,
        "lines[0].quantity",
    ),
    "damage adds stock": (
        sale(type="adjustment", reason="damage", lines=[{"sku": "rice", "quantity": "2"}]),
        422,
        "invalid_event",
        None,
        "lines[0].quantity",
    ),
    "4 decimals of quantity": (
        sale(lines=[{"sku": "rice", "quantity": "0.1234", "unit_price": "1"}]),
        422,
        "invalid_event",
        None,
        "lines[0].quantity",
    ),
    "3 decimals of money": (_bad_money(), 422, "invalid_event", None, "lines[0].unit_price"),
    "batch of 501": ({"events": [sale() for _ in range(501)]}, 413, "batch_too_large", None, "events"),
    "occurred_at without offset": (sale(occurred_at="2026-11-22T09:30:00"), 422, "invalid_event", None, "occurred_at"),
    "mixed batch": ({"events": [sale(), sale(), _bad_money()]}, 422, "invalid_event", 2, "lines[0].unit_price"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_rejected_and_nothing_is_produced(refusing, case):
    client, settings = refusing
    body, status, error, index, field = BAD[case]
    before = topic_size(settings)
    if isinstance(body, bytes):
        r = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    else:
        r = client.post("/v1/events", json=body)
    assert r.status_code == status, r.text
    out = r.json()
    assert out["error"] == error
    assert [(d["index"], d["field"]) for d in out["detail"]] == [(index, field)]
    assert all(d["reason"] for d in out["detail"])
    assert topic_size(settings) == before == 0


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/csv"],
)
def test_a_valid_event_not_sent_as_json_is_415_and_not_produced(refusing, content_type):
    """What a web page can make a browser send to any site without a preflight is refused."""
    client, settings = refusing
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/events", content=json.dumps(sale()).encode(), headers=headers)
    assert (r.status_code, r.json()["error"]) == (415, "unsupported_media_type"), r.text
    assert "application/json" in r.json()["detail"][0]["reason"]
    assert topic_size(settings) == 0


def test_a_cross_site_browser_request_is_403_even_without_a_body(app):
    client, settings = app
    r = client.post("/v1/events", json=sale(), headers={"sec-fetch-site": "cross-site"})
    assert (r.status_code, r.json()["error"]) == (403, "cross_site")
    assert client.post("/v1/events", json=sale(), headers={"sec-fetch-site": "same-origin"}).status_code == 202
    assert topic_size(settings) == 1


# ---- health and metrics -----------------------------------------------------------------------------


def test_health_and_metrics(app):
    client, _ = app
    assert client.post("/v1/events", json=sale()).status_code == 202
    assert client.post("/v1/events", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    r = client.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok", "broker": "up"})
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    assert 'bazaar_api_events_accepted_total{type="sale"}' in m.text
    assert 'bazaar_api_requests_rejected_total{error="invalid_json"}' in m.text
    assert "bazaar_api_ingest_seconds_bucket" in m.text
    assert "bazaar_api_broker_up 1.0" in m.text


# ---- broker down ------------------------------------------------------------------------------------


def test_broker_down_answers_503_fast(settings_factory):
    """No broker from the start: the credentials cannot be read, so no caller can be known (a token
    signed here, as no exchange can work): 503 at once, never a wait; /health says why."""
    settings = settings_factory(kafka_bootstrap="127.0.0.1:1")
    ring = keys.KeyRing(settings.auth_path / "signing")
    keys.ensure(ring.directory, keys.keep_after_retire(settings.access_token_ttl_s))
    s = settings
    token, _ = access_tokens.issue(
        ring, sub="000000000001", name="test", role="admin", stores="*", issuer=s.auth_issuer, audience=s.auth_audience, ttl_s=600
    )
    with api(settings, token=token) as client:
        events = [sale("s1"), sale("s2")]
        t0 = time.monotonic()
        r = client.post("/v1/events", json={"events": events})
        elapsed = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert elapsed < 2.0, elapsed
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"] == "loading"  # the credentials view: nothing is produced for an unknown caller
        # and again, once the down state is known
        t0 = time.monotonic()
        assert client.post("/v1/events", json=sale()).status_code == 503
        assert time.monotonic() - t0 < 1.0

        t0 = time.monotonic()
        h = client.get("/health")
        assert (h.status_code, h.json()) == (503, {"status": "unavailable", "broker": "down"})
        assert time.monotonic() - t0 < 2.0
        assert client.get("/metrics").status_code == 503  # ops:read cannot be checked either


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_broker_outage_and_recovery(settings_factory, tmp_path):
    """A broker of this test's own: stop it mid-life (503 fast, /health 503), start it again (202)."""
    settings = settings_factory(kafka_bootstrap=f"127.0.0.1:{_free_port()}", kafka_controller_port=_free_port(), data_dir=tmp_path / "own")
    broker = LocalKafka(settings)
    with broker:
        ensure_topics(settings, {settings.events_topic: settings.partitions})
        topic_size(settings)
        with api(settings) as client:
            assert client.post("/v1/events", json=sale()).status_code == 202
            broker.stop()
            t0 = time.monotonic()
            events = [sale("s1"), sale("s2")]
            r = client.post("/v1/events", json={"events": events})
            assert r.status_code == 503 and time.monotonic() - t0 < 2.0, (r.text, time.monotonic() - t0)
            body = r.json()  # the caller was known before the broker went: the producer's own answer
            assert body["error"] == "broker_unavailable" and r.headers["retry-after"] == "1"
            assert body["delivered"] == [] and body["failed"] == [e["event_id"] for e in events]
            assert client.get("/health").status_code == 503
            assert "bazaar_api_broker_up 0.0" in client.get("/metrics").text

            broker.start()
            broker.wait_ready()
            deadline = time.monotonic() + 20
            while client.post("/v1/events", json=sale()).status_code != 202:
                assert time.monotonic() < deadline, "the API did not notice the broker came back"
                time.sleep(0.2)
            assert client.get("/health").status_code == 200
        assert topic_size(settings) >= 2
