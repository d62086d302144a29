"""A store's alerts through the API (in-process, real broker): the alerts are written onto the alerts
topic as the stream writes them; list, history, ack, and the server-sent-events stream."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from api.routes.alerts import parse_event_id
from tests.authclient import BazaarAuth, make_key
from tests.integration.alerting import all_topics, make_alert, make_cleared, produce_alerts, wait_until
from tests.integration.apps import api

pytestmark = pytest.mark.integration


@pytest.fixture
def app(settings_factory):
    settings = settings_factory(sse_heartbeat_s=0.3)
    all_topics(settings)
    with api(settings) as client:
        yield client, settings


def active(client, store="s1") -> list[dict]:
    r = client.get(f"/v1/stores/{store}/alerts")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_active_history_and_ack(app):
    client, settings = app
    low_rice = make_alert(sku="rice", kind="low_stock")
    out_rice = make_alert(sku="rice", kind="out_of_stock", on_hand=0, threshold=0)
    low_dal = make_alert(sku="dal", kind="low_stock")
    other = make_alert(store="s2", sku="rice")
    produce_alerts(settings, low_rice, out_rice, low_dal, low_dal, other)  # low_dal replayed

    wait_until(lambda: len(client.get("/v1/stores/s1/alerts?state=all").json()["items"]) == 3, what="the alerts in the view")
    # out of stock is more severe than low stock of the same sku
    assert [(a["sku"], a["kind"]) for a in active(client)] == [("rice", "out_of_stock"), ("dal", "low_stock")]

    produce_alerts(settings, make_cleared(out_rice))  # a purchase: rice is no longer out, still low
    wait_until(
        lambda: [(a["sku"], a["kind"]) for a in active(client)] == [("dal", "low_stock"), ("rice", "low_stock")],
        what="out_of_stock to clear and low_stock of rice to show again",
    )
    assert [a["state"] for a in active(client)] == ["active", "active"]

    # who acknowledged it is the key's, whatever the body says (the ack is an audit record)
    asif = BazaarAuth(make_key(settings, "manager", ["s1"], name="asif"))
    r = client.post(f"/v1/stores/s1/alerts/{low_dal.alert_id}/ack", json={"by": "someone else", "note": "ordered 2 bags"}, auth=asif)
    assert r.status_code == 200, r.text
    by = r.json()["acknowledged"]["by"]
    assert r.json()["already"] is False and by.startswith("asif (") and r.json()["acknowledged"]["note"] == "ordered 2 bags"
    assert [a["sku"] for a in active(client)] == ["rice"]
    again = client.post(f"/v1/stores/s1/alerts/{low_dal.alert_id}/ack")  # no body, another caller: the first ack stands
    assert again.status_code == 200 and again.json()["already"] is True and again.json()["acknowledged"]["by"] == by
    assert client.post(f"/v1/stores/s2/alerts/{other.alert_id}/ack", auth=asif).status_code == 403  # not asif's store
    assert client.post(f"/v1/stores/s1/alerts/{uuid.uuid4()}/ack").status_code == 404
    assert client.post(f"/v1/stores/s1/alerts/{other.alert_id}/ack").status_code == 404  # another store's alert
    assert client.post(f"/v1/stores/s1/alerts/{low_rice.alert_id}/ack", json={"colour": "red"}).status_code == 422

    history = client.get("/v1/stores/s1/alerts", params={"state": "all", "limit": 2}).json()
    assert [(a["sku"], a["kind"], a["state"]) for a in history["items"]] == [
        ("dal", "low_stock", "acknowledged"),
        ("rice", "out_of_stock", "cleared"),
    ]
    rest = client.get("/v1/stores/s1/alerts", params={"state": "all", "limit": 2, "cursor": history["next_cursor"]}).json()
    assert [(a["sku"], a["state"]) for a in rest["items"]] == [("rice", "active")] and rest["next_cursor"] is None
    one = client.get(f"/v1/stores/s1/alerts/{out_rice.alert_id}").json()
    assert one["cleared_at"] is not None and one["on_hand"] == "0"


def _read(lines, until, timeout: float = 20.0) -> list[tuple[str, str, dict]]:
    """SSE events (event, id, data) until ``until(events)`` holds; heartbeats keep the loop turning."""
    events, current, deadline = [], {}, time.monotonic() + timeout
    for line in lines:
        if line.startswith("event: "):
            current["event"] = line[7:]
        elif line.startswith("id: "):
            current["id"] = line[4:]
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif line == "" and "event" in current:
            events.append((current["event"], current["id"], current["data"]))
            current = {}
            if until(events):
                return events
        elif line.startswith(": heartbeat"):
            events.append(("heartbeat", "", {}))
            if until(events):
                return events
        assert time.monotonic() < deadline, f"stream did not deliver in time: {events}"
    return events


def real(events):
    return [e for e in events if e[0] != "heartbeat"]


def as_a_browser(client) -> dict:
    """An EventSource's way in: the token as ``?access_token=`` (it sends no header), and no auth flow
    of the client's (its renew-on-401 would read the endless stream to its end first)."""
    assert client.auth.token  # (a request of the test made one)
    return {"params": {"access_token": client.auth.token}, "auth": None}


def test_server_sent_events_live_and_resumed(app):
    client, settings = app
    first = make_alert(sku="rice")
    produce_alerts(settings, first)
    wait_until(lambda: active(client), what="the first alert")

    with client.stream("GET", "/v1/stores/s1/alerts/stream", **as_a_browser(client)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        [snapshot] = real(_read(lines, lambda ev: len(real(ev)) == 1))
        assert snapshot[0] == "alert" and snapshot[2]["alert_id"] == str(first.alert_id)
        resume_from = snapshot[1]

        second = make_alert(sku="dal", kind="out_of_stock")
        produce_alerts(settings, second, second)  # a replay is not sent twice
        assert client.post(f"/v1/stores/s1/alerts/{first.alert_id}/ack").status_code == 200
        produce_alerts(settings, make_cleared(second))
        live = real(_read(lines, lambda ev: len(real(ev)) == 3))
        # the ack is on another topic than the alerts: it may come before or after them
        messages = [e for e in live if e[0] != "ack"]
        [ack] = [e for e in live if e[0] == "ack"]
        assert [(e[0], e[2]["sku"]) for e in messages] == [("alert", "dal"), ("cleared", "dal")]
        assert messages[0][2]["alert_id"] == str(second.alert_id)
        assert ack[2]["alert_id"] == str(first.alert_id) and ack[2]["by"].startswith("admin (")  # the stack's admin key
        ids = [e[1] for e in live]
        # ids only move forward, both offsets (the ack offset is -1 until the first ack: "1--1")
        pairs = [parse_event_id(i) for i in ids]
        assert all(a <= c and k <= m and (a, k) != (c, m) for (a, k), (c, m) in zip(pairs, pairs[1:])), ids
        # idle: heartbeats
        assert _read(lines, lambda ev: ev[-1][0] == "heartbeat")

    # reconnect after the snapshot: the missed alert, ack and clearing come again, in order
    with client.stream("GET", "/v1/stores/s1/alerts/stream", headers={"Last-Event-ID": resume_from}, **as_a_browser(client)) as r:
        missed = real(_read(r.iter_lines(), lambda ev: len(real(ev)) == 3))
        assert [e[0] for e in missed] == ["alert", "cleared", "ack"]
        assert missed[0][2]["alert_id"] == str(second.alert_id)
    # reconnect at the last id: nothing missed, just heartbeats
    resume = as_a_browser(client)
    resume["params"]["last_event_id"] = ids[-1]
    with client.stream("GET", "/v1/stores/s1/alerts/stream", **resume) as r:
        got = _read(r.iter_lines(), lambda ev: len(ev) >= 2)
        assert real(got) == []
    assert client.get("/v1/stores/s1/alerts/stream", headers={"Last-Event-ID": "garbage"}).status_code == 400


def test_a_stream_ends_once_its_token_is_revoked(app):
    """A stream outlives the request that opened it: its token is asked about again every heartbeat,
    and a revoked (or expired) one ends it; the EventSource then reconnects with a fresh one."""
    client, settings = app
    key = make_key(settings, "manager", ["s1"], name="screen")
    token = client.post("/v1/auth/token", json={"api_key": key}, auth=None).json()["access_token"]
    with client.stream("GET", "/v1/stores/s1/alerts/stream", params={"access_token": token}, auth=None) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert _read(lines, lambda ev: ev and ev[-1][0] == "heartbeat")  # open, and idle
        assert client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}, auth=None).status_code == 204
        started = time.monotonic()
        rest = list(lines)  # to its end
        assert time.monotonic() - started < 5 and not real(_read(iter(rest), lambda ev: False))
    refused = client.get("/v1/stores/s1/alerts/stream", params={"access_token": token}, auth=None)
    assert refused.status_code == 401  # and it cannot come back with that token
