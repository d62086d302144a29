"""Error bodies of POST /v1/events (and lookups), without Kafka or HTTP."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from api import ingest
from api.errors import ApiError, field_path, request_issues
from api.http import HttpAnswer, Unreachable
from api.producer import DeliveryResult
from api.workers import WorkerClient, lookup_params

pytestmark = pytest.mark.unit

MAX = 500


def sale(**over) -> dict:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": "s1",
        "terminal_id": "t1",
        "occurred_at": "2026-11-22T09:30:00+05:00",
        "lines": [{"sku": "rice", "quantity": "0.125", "unit_price": "10.00"}],
    }
    body.update(over)
    return body


def adjustment(reason: str, quantity: str) -> dict:
    return sale(type="adjustment", reason=reason, lines=[{"sku": "rice", "quantity": quantity}])


def reject(body, *, raw: bytes | None = None, max_batch: int = MAX) -> ApiError:
    with pytest.raises(ApiError) as info:
        ingest.parse_events(raw if raw is not None else json.dumps(body).encode(), max_batch)
    err = info.value
    json.dumps(err.body())  # always serializable
    return err


def only(err: ApiError) -> dict:
    assert len(err.detail) == 1, err.detail
    return err.detail[0]


# ---- the bad inputs ------------------------------------------------------------------------------


def test_malformed_json_is_400():
    err = reject(None, raw=b'{"type": "sale",')
    assert (err.status, err.error) == (400, "invalid_json")
    d = only(err)
    assert d["index"] is None and d["field"] is None
    assert d["reason"].startswith("malformed JSON: Expecting") and "line 1 column" in d["reason"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"\xff\xfe\xfd", b"{'single': 'quotes'}"])
def test_non_json_bodies_are_400(raw):
    assert reject(None, raw=raw).status == 400


def test_unknown_type():
    err = reject(sale(type="gift"))
    assert (err.status, err.error) == (422, "invalid_event")
    d = only(err)
    assert d["field"] == "type" and d["index"] is None
    assert "'gift'" in d["reason"] and "'sale'" in d["reason"]


def test_missing_type():
    body = sale()
    del body["type"]
    assert only(reject(body))["field"] == "type"


def test_missing_field():
    body = sale()
    del body["store_id"]
    assert only(reject(body)) == {"index": None, "field": "store_id", "reason": "required"}


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.001"])
def test_sale_quantity_must_be_positive(quantity):
    d = only(reject(sale(lines=[{"sku": "rice", "quantity": quantity, "unit_price": "1"}])))
    assert d == {"index": None, "field": "lines[0].quantity", "reason": "must be greater than 0"}


def test_adjustment_positive_for_damage_names_the_line():
    d = only(reject(adjustment("damage", "2")))
    assert d["field"] == "lines[0].quantity"
    assert d["reason"] == "must be negative for reason 'damage' (only a correction may add stock)"


def test_adjustment_correction_may_add():
    assert ingest.parse_events(json.dumps(adjustment("correction", "2")).encode(), MAX)


def test_transfer_to_itself_splits_field_from_message():
    body = sale(type="transfer", to_store_id="s1", lines=[{"sku": "rice", "quantity": "1"}])
    assert only(reject(body)) == {"index": None, "field": "to_store_id", "reason": "must differ from store_id"}


def test_four_decimal_places_of_quantity():
    d = only(reject(sale(lines=[{"sku": "rice", "quantity": "0.1234", "unit_price": "1"}])))
    assert d == {
        "index": None,
        "field": "lines[0].quantity",
        "reason": "Decimal input should have no more than 3 decimal places",
    }


def test_four_decimal_places_as_a_json_number():
    raw = json.dumps(sale()).replace('"0.125"', "0.1234").encode()
    assert only(reject(None, raw=raw))["reason"] == "Decimal input should have no more than 3 decimal places"


def test_three_decimal_places_of_money():
    d = only(reject(sale(lines=[{"sku": "rice", "quantity": "1", "unit_price": "1.234"}])))
    assert d == {
        "index": None,
        "field": "lines[0].unit_price",
        "reason": "Decimal input should have no more than 2 decimal places",
    }


def test_occurred_at_without_offset():
    d = only(reject(sale(occurred_at="2026-11-22T09:30:00")))
    assert d["field"] == "occurred_at"
    assert d["reason"].startswith("must be an RFC 3339 timestamp with a UTC offset")


def test_batch_too_large_is_413():
    err = reject({"events": [sale() for _ in range(MAX + 1)]})
    assert (err.status, err.error) == (413, "batch_too_large")
    assert only(err)["reason"] == "at most 500 events per request, got 501"


def test_batch_limit_follows_settings():
    assert reject({"events": [sale(), sale()]}, max_batch=1).status == 413
    assert len(ingest.parse_events(json.dumps({"events": [sale()] * 3}).encode(), 3)) == 3


def test_mixed_batch_names_every_bad_index():
    bad_money = sale(lines=[{"sku": "rice", "quantity": "1", "unit_price": "1.234"}])
    err = reject({"events": [sale(), sale(type="gift"), sale(), bad_money]})
    assert (err.status, err.error) == (422, "invalid_event")
    assert [(d["index"], d["field"]) for d in err.detail] == [(1, "type"), (3, "lines[0].unit_price")]


@pytest.mark.parametrize(
    "body, field, reason",
    [
        ([sale()], None, 'must be a JSON object: one event, or {"events": [...]}'),
        ("sale", None, 'must be a JSON object: one event, or {"events": [...]}'),
        ({"events": []}, "events", "must hold at least 1 event"),
        ({"events": {"a": 1}}, "events", "must be a list of events"),
    ],
)
def test_body_shape(body, field, reason):
    err = reject(body)
    assert err.status == 422 and only(err) == {"index": None, "field": field, "reason": reason}


def test_batch_item_not_an_object():
    d = only(reject({"events": [sale(), 7]}))
    assert d == {"index": 1, "field": None, "reason": "must be a JSON object"}


def test_float_quantity_never_reaches_the_model():
    # JSON numbers are parsed as Decimal, so 0.1 stays exactly 0.1
    [event] = ingest.parse_events(json.dumps(sale()).replace('"0.125"', "0.1").encode(), MAX)
    assert str(event.lines[0].quantity) == "0.1"


# ---- paths and other errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "loc, path",
    [((), None), (("store_id",), "store_id"), (("lines", 0, "quantity"), "lines[0].quantity"), (("a", 1, 2), "a[1][2]")],
)
def test_field_path(loc, path):
    assert field_path(loc) == path


def test_request_issues_drop_the_request_part():
    errs = [{"type": "string_pattern_mismatch", "loc": ("path", "store_id"), "msg": "String should match pattern 'x'"}]
    assert request_issues(errs) == [{"index": None, "field": "store_id", "reason": "String should match pattern 'x'"}]


def test_a_transfer_is_written_as_two_legs_and_fails_as_one_event():
    from api.producer import DeliveryResult
    from schemas.events import EventAdapter

    transfer = EventAdapter.validate_python(
        {
            "event_id": "6f1c7c9e-1d5b-4a53-9a3c-2b1f0f6f4a10",
            "type": "transfer",
            "store_id": "a",
            "to_store_id": "b",
            "terminal_id": "t",
            "occurred_at": "2026-11-22T10:00:00+05:00",
            "lines": [{"sku": "x", "quantity": "1"}],
        }
    )
    items, owners = ingest.messages([transfer])
    assert [key for key, _, _ in items] == [b"a", b"b"] and owners == [0, 0]
    assert ("bazaar-leg", b"in") in items[1][2] and all(h[0] != "bazaar-leg" for h in items[0][2])
    results = [DeliveryResult(partition=1, offset=5), DeliveryResult(error="timed out")]
    [one] = ingest.per_event(results, owners, 1)
    assert not one.ok


def test_bad_token_is_400():
    with pytest.raises(ApiError) as info:
        lookup_params("v2.nope")
    assert (info.value.status, info.value.error) == (400, "invalid_token")
    assert info.value.detail[0]["field"] == "after"
    assert lookup_params("v1.3:10,1:5", negative=False, limit=5, cursor=None) == {
        "after": "v1.1:5,3:10",
        "negative": "false",
        "limit": "5",
    }


def test_delivery_failure_lists_delivered_and_failed():
    events = ingest.parse_events(json.dumps({"events": [sale(), sale(), sale()]}).encode(), MAX)
    ok = DeliveryResult(partition=2, offset=7)
    assert ingest.delivery_failure(events, [ok, ok, ok]) is None
    err = ingest.delivery_failure(events, [ok, DeliveryResult(error="broker unavailable"), ok])
    assert (err.status, err.error, err.headers) == (503, "broker_unavailable", {"Retry-After": "1"})
    body = err.body()
    assert body["failed"] == [str(events[1].event_id)]
    assert body["delivered"] == [str(events[0].event_id), str(events[2].event_id)]
    assert body["detail"][0]["reason"].startswith("broker unavailable")


def test_token_is_max_offset_per_partition():
    results = [DeliveryResult(1, 5), DeliveryResult(3, 9), DeliveryResult(1, 7), DeliveryResult(error="x")]
    assert ingest.token(results) == "v1.1:7,3:9"


# ---- lookups: failover between workers ------------------------------------------------------------


def _lookup(handler, urls, timeout_ms=300):
    """``handler(url, query)`` -> HttpAnswer, or raises Unreachable, as ``api.http.getter`` does."""

    async def get(url, params, timeout_s):
        assert timeout_s > 0
        return handler(url, params)

    return asyncio.run(WorkerClient(get, urls, backoff_s=0.01).get("/stock/s1/rice", {"after": "v1.0:1"}, timeout_ms))


def test_lookup_fails_over_to_the_next_worker():
    seen = []

    def handler(url, params):
        host = url.split("/")[2]
        seen.append((host, url, params))
        if host == "w1":
            raise Unreachable("ClientConnectorError refused")
        if host == "w2":
            return HttpAnswer(503, b'{"error": "rebalancing"}')
        return HttpAnswer(504, b'{"error": "not_caught_up"}')

    answer = _lookup(handler, ["http://w1", "http://w2/", "http://w3"], timeout_ms=2000)
    assert answer.status == 504 and json.loads(answer.body) == {"error": "not_caught_up"}
    assert [host for host, _, _ in seen] == ["w1", "w2", "w3"]
    assert seen[1][1] == "http://w2/stock/s1/rice"  # a trailing slash on a url is not doubled
    params = seen[-1][2]
    assert params["after"] == "v1.0:1" and 0 < int(params["wait_ms"]) <= 2000


def test_lookup_gives_up_after_the_timeout():
    calls = []

    def handler(url, params):
        calls.append(url.split("/")[2])
        return HttpAnswer(503, b'{"error": "rebalancing"}')

    with pytest.raises(ApiError) as info:
        _lookup(handler, ["http://w1", "http://w2"], timeout_ms=200)
    assert (info.value.status, info.value.error, info.value.headers) == (503, "worker_unavailable", {"Retry-After": "1"})
    assert len(calls) > 2  # retried with backoff
