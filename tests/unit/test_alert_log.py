"""Active alerts, history and acks from the alerts topic (domain.alert_log)."""

from __future__ import annotations

import uuid

import pytest

from domain.alert_log import AlertLog

pytestmark = pytest.mark.unit


def alert(kind="low_stock", sku="rice", store="s1", **over):
    msg = {
        "type": "alert",
        "alert_id": str(uuid.uuid4()),
        "kind": kind,
        "store_id": store,
        "sku": sku,
        "on_hand": "2",
        "threshold": "5",
        "raised_at": "2026-11-22T10:00:00+00:00",
    }
    msg.update(over)
    return msg


def cleared(of: dict, **over):
    msg = {
        "type": "cleared",
        "alert_id": str(uuid.uuid4()),
        "cleared_alert_id": of["alert_id"],
        "kind": of["kind"],
        "store_id": of["store_id"],
        "sku": of["sku"],
        "raised_at": "2026-11-22T11:00:00+00:00",
    }
    msg.update(over)
    return msg


def ids(items):
    return [i["alert_id"] for i in items]


def test_replays_change_nothing_and_clearing_ends_an_alert():
    log = AlertLog()
    low = alert()
    assert log.add_message(low, 0) == "alert"
    assert log.add_message(dict(low), 1) is None  # the stream replayed it
    assert ids(log.active("s1")) == [low["alert_id"]]
    assert log.add_message(cleared(low), 2) == "cleared"
    assert log.active("s1") == []
    [h] = log.history("s1", 10)[0]
    assert h["state"] == "cleared" and h["cleared_at"] == "2026-11-22T11:00:00+00:00"


def test_more_severe_alert_supersedes_until_it_clears_or_is_acked():
    log = AlertLog()
    low, out = alert("low_stock"), alert("out_of_stock")
    log.add_message(low, 0)
    log.add_message(out, 1)
    assert ids(log.active("s1")) == [out["alert_id"]]
    assert log.view(log.entries[low["alert_id"]])["state"] == "superseded"
    log.add_message(cleared(out), 2)  # a purchase: no longer out, still low
    assert ids(log.active("s1")) == [low["alert_id"]]
    other = alert("out_of_stock", sku="dal")
    log.add_message(other, 3)
    assert log.add_ack({"alert_id": other["alert_id"], "store_id": "s1", "by": "asif"}, 0)
    assert not log.add_ack({"alert_id": other["alert_id"], "store_id": "s1", "by": "again"}, 1)
    assert ids(log.active("s1")) == [low["alert_id"]]
    assert log.view(log.entries[other["alert_id"]])["acknowledged"]["by"] == "asif"


def test_cleared_without_a_name_clears_the_open_one_and_history_pages():
    log = AlertLog()
    msgs = [alert(sku=f"sku-{i}") for i in range(5)]
    for i, m in enumerate(msgs):
        log.add_message(m, i)
    log.add_message(cleared(msgs[0], cleared_alert_id=None), 5)
    assert len(log.active("s1")) == 4
    page1, cursor = log.history("s1", 3)
    page2, end = log.history("s1", 3, cursor)
    assert ids(page1) + ids(page2) == ids(reversed(msgs)) and end is None


def test_since_gives_what_a_stream_missed():
    log = AlertLog()
    a, b = alert(), alert(sku="dal")
    log.add_message(a, 7)
    log.add_message(b, 9)
    log.add_ack({"alert_id": a["alert_id"], "store_id": "s1"}, 3)
    assert [(k, o) for k, o, _ in log.since("s1", 7, -1)] == [("alert", 9), ("ack", 3)]
    assert log.cursor("s1") == (9, 3)
    assert log.since("other", -1, -1) == []


def test_an_ack_shows_who_and_when_and_an_old_nameless_ack_still_reads():
    log = AlertLog()
    named, old, open_ = alert(sku="rice"), alert(sku="dal"), alert(sku="ghee")
    for i, a in enumerate((named, old, open_)):
        log.add_message(a, i)
    log.add_ack({"alert_id": named["alert_id"], "store_id": "s1", "by": "Asif (b1)", "acked_at": "2026-11-22T10:05:00+00:00"}, 0)
    log.add_ack({"alert_id": old["alert_id"], "store_id": "s1", "acked_at": "2026-11-21T09:00:00+00:00"}, 1)  # before names were kept
    views = {v["sku"]: v for v in log.history("s1", 10)[0]}
    assert (views["rice"]["acked_by"], views["rice"]["acked_at"]) == ("Asif (b1)", "2026-11-22T10:05:00+00:00")
    assert (views["dal"]["acked_by"], views["dal"]["acked_at"]) == (None, "2026-11-21T09:00:00+00:00")
    assert views["dal"]["state"] == "acknowledged"
    assert (views["ghee"]["acked_by"], views["ghee"]["acked_at"]) == (None, None)
