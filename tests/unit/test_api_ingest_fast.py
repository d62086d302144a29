"""The fast path of ``POST /v1/events`` (whole body validated from its bytes, one serialisation per
event) gives exactly what the exact path and the contract's own functions give."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from api import ingest
from api.errors import ApiError
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from domain.events import digest
from schemas.events import to_wire

pytestmark = pytest.mark.unit

MAX = 500
NOW = datetime(2026, 11, 22, 7, 6, 25, 123456, tzinfo=UTC)


def bodies(n: int = 300) -> list[dict]:
    gen = Generator(GenConfig(stores=4, events_per_store_day=n // 4, skus=20, seed=7))
    return [wire_body(b) for b in gen.events()][:n]


def outcome(parse, raw: bytes):
    try:
        return "ok", parse(raw, MAX)
    except ApiError as exc:
        return "error", (exc.status, exc.error, exc.detail)


def same_as_exact(raw: bytes):
    got = outcome(ingest.parse_batch, raw)
    assert got == outcome(ingest._parse_exact, raw)
    return got


def test_generated_batches_take_the_fast_path_with_the_same_events():
    items = bodies()
    kinds = {b["type"] for b in items}
    assert kinds == {"sale", "purchase", "return", "adjustment", "count", "transfer"}
    for i in range(0, len(items), 100):
        raw = json.dumps({"events": items[i : i + 100]}).encode()
        assert ingest._parse_fast(raw, MAX) is not None
        assert same_as_exact(raw)[0] == "ok"


def test_single_events_take_the_fast_path():
    for body in bodies(30):
        raw = json.dumps(body, ensure_ascii=False).encode()
        assert ingest._parse_fast(raw, MAX) is not None
        kind, (events, batch) = same_as_exact(raw)
        assert kind == "ok" and len(events) == 1 and batch is False


def sale(**over) -> dict:
    body = {
        "event_id": "6f1c7c9e-1d5b-4a53-9a3c-2b1f0f6f4a10",
        "type": "sale",
        "store_id": "s1",
        "terminal_id": "t1",
        "occurred_at": "2026-11-22T09:30:00+05:00",
        "lines": [{"sku": "rice", "quantity": "0.125", "unit_price": "10.00"}],
    }
    body.update(over)
    return body


EDGES = [
    # JSON numbers: a fraction must stay an exact decimal (the exact path), an integer is exact anyway
    b'{"event_id":"6f1c7c9e-1d5b-4a53-9a3c-2b1f0f6f4a10","type":"sale","store_id":"s1","terminal_id":"t1",'
    b'"occurred_at":"2026-11-22T09:30:00+05:00","lines":[{"sku":"rice","quantity":0.1,"unit_price":10.25}]}',
    json.dumps(sale(lines=[{"sku": "rice", "quantity": 2, "unit_price": 10}])).encode(),
    json.dumps(sale(lines=[{"sku": "rice", "quantity": 1e400, "unit_price": 10}])).encode().replace(b"Infinity", b"1e400"),
    json.dumps(sale(lines=[{"sku": "rice", "quantity": "NaN", "unit_price": 10}])).encode(),
    json.dumps(sale(v=1.0)).encode(),
    json.dumps(sale(v="1")).encode(),
    # what decides "a batch": the key events, however it is spelled
    json.dumps({"\\u0065vents": [sale()]}).encode().replace(b"\\\\", b"\\"),
    json.dumps({"events": [sale()], "events2": 1}).encode(),
    json.dumps({**sale(), "events": [sale()]}).encode(),
    json.dumps(sale(note="events")).encode(),
    json.dumps(sale(note='"events"')).encode(),
    json.dumps({"events": [sale()], "note": "x"}).encode() + b" ",
    b'{"events": [], "events": [' + json.dumps(sale()).encode() + b"]}",
    json.dumps({"events": []}).encode(),
    json.dumps({"events": [sale()] * (MAX + 1)}).encode(),
    json.dumps({"events": [sale(), sale(type="gift")]}).encode(),
    json.dumps([sale()]).encode(),
    # text
    json.dumps(sale(note="باسمتی چاول", actor="राम")).encode(),
    json.dumps(sale(note="باسمتی چاول")).encode(),
    json.dumps(sale(note="\ud800")).encode(),
    json.dumps(sale()).encode("utf-16"),
    b"\xef\xbb\xbf" + json.dumps(sale()).encode(),
    b"\xff\xfe",
    b"",
    b'{"type": "sale",',
    # server-only fields sent by a terminal
    json.dumps(
        sale(
            received_at="2020-01-01T00:00:00Z",
            lines=[{"sku": "rice", "quantity": "1", "unit_price": "1", "entered_quantity": "5", "entered_unit": "kg"}],
        )
    ).encode(),
]


@pytest.mark.parametrize("raw", EDGES, ids=range(len(EDGES)))
def test_edges_answer_as_the_exact_path(raw):
    same_as_exact(raw)


def test_fraction_numbers_stay_exact():
    kind, (events, _) = same_as_exact(EDGES[0])
    assert kind == "ok"
    assert str(events[0].lines[0].quantity) == "0.1" and str(events[0].lines[0].unit_price) == "10.25"


# ---- messages: one serialisation gives the wire bytes and the digest ----------------------------------


def old_messages(events, now):
    """What ``messages`` produced before: stamp (model copy), then to_wire and digest separately."""
    stamped = ingest.stamp(events, now)
    return [(to_wire(s), digest(e)) for s, e in zip(stamped, events)]


@pytest.mark.parametrize("terminal", ["t1", 'x","occurred_at":"1999', "pos \\ 2", "کاؤنٹر"])
def test_wire_bytes_and_digests_are_those_of_the_contract(terminal):
    items = [{**b, "terminal_id": terminal} for b in bodies(120)]
    events = ingest.parse_events(json.dumps({"events": items}).encode(), MAX)
    got, owners = ingest.messages(events, received_at=NOW)
    want = old_messages(events, NOW)
    for (_key, value, headers), i in zip(got, owners):
        assert value == want[i][0]
        assert dict(headers)["bazaar-digest"] == want[i][1].encode()
    assert len(got) == len(events) + sum(e.type == "transfer" for e in events)


def test_messages_of_stamped_events_keep_their_received_at():
    events = ingest.stamp(ingest.parse_events(json.dumps({"events": bodies(20)}).encode(), MAX), NOW)
    got, owners = ingest.messages(events)
    for (_, value, headers), i in zip(got, owners):
        assert value == to_wire(events[i])
        assert dict(headers)["bazaar-digest"] == digest(events[i]).encode()


def test_a_posted_digest_wins_over_the_produced_events():
    events = ingest.parse_events(json.dumps({"events": bodies(2)}).encode(), MAX)
    got, _ = ingest.messages(events, ["feedfacefeedface", None], received_at=NOW)
    assert dict(got[0][2])["bazaar-digest"] == b"feedfacefeedface"
    assert dict(got[-1][2])["bazaar-digest"] == digest(events[1]).encode()


@pytest.mark.parametrize("actor", ["till 1 (c00000000001)", 'x","received_at":"1999 (k)', "کاؤنٹر \\ 2 (k)", "tab\there (k)"])
def test_the_servers_actor_is_spliced_in_and_not_digested(actor):
    events = ingest.parse_events(json.dumps({"events": bodies(40)}).encode(), MAX)
    got, owners = ingest.messages(events, received_at=NOW, actor=actor)
    for (_key, value, headers), i in zip(got, owners):
        stamped = events[i].model_copy(update={"received_at": NOW, "actor": actor})
        assert value == to_wire(stamped)
        assert dict(headers)["bazaar-digest"] == digest(events[i]).encode()  # as posted, without the actor
