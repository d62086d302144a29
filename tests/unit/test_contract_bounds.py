"""The contract's bounds on time and on how decimals are written: what a worker could not compute
with (dates near years 1 and 9999) or what a shopkeeper did not mean ("1_000", " 5 ") is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.events import EventAdapter
from schemas.types import EARLIEST, latest_accepted, set_clock_skew

pytestmark = pytest.mark.unit


def _sale(occurred_at: str, quantity="1", price="10") -> dict:
    return {
        "type": "sale",
        "event_id": str(uuid.uuid4()),
        "store_id": "s1",
        "terminal_id": "t1",
        "occurred_at": occurred_at,
        "lines": [{"sku": "rice", "quantity": quantity, "unit_price": price}],
    }


def _errors(body: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        EventAdapter.validate_python(body)
    return info.value.errors()


@pytest.mark.parametrize(
    "at, kind",
    [
        ("9999-12-31T23:59:59-05:00", "time_in_future"),
        ("0001-01-01T00:00:00+05:00", "time_too_early"),
        ("1999-12-31T23:59:59Z", "time_too_early"),
        ("2000-01-01T04:59:59+05:00", "time_too_early"),  # 1999-12-31T23:59:59Z
    ],
)
def test_times_out_of_range_are_refused_naming_the_field(at, kind):
    [error] = _errors(_sale(at))
    assert error["type"] == kind
    assert error["loc"][-1] == "occurred_at"


def test_the_edges_are_accepted():
    EventAdapter.validate_python(_sale("2000-01-01T05:00:00+05:00"))
    soon = (datetime.now(UTC) + timedelta(hours=23)).isoformat()
    EventAdapter.validate_python(_sale(soon))


def test_the_skew_allowance_is_a_setting():
    ahead = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    try:
        set_clock_skew(3600)
        assert _errors(_sale(ahead))[0]["type"] == "time_in_future"
    finally:
        set_clock_skew(86_400)
    EventAdapter.validate_python(_sale(ahead))


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-12)), timezone(timedelta(hours=14))]),
    )
)
def test_every_accepted_time_has_a_local_day_in_every_zone(at):
    """Whatever the contract admits, any store's local calendar day of it can be computed."""
    try:
        event = EventAdapter.validate_python(_sale(at.isoformat()))
    except ValidationError:
        assert not (EARLIEST <= at <= latest_accepted())
        return
    for hours in (-12, 0, 5, 14):
        event.occurred_at.astimezone(timezone(timedelta(hours=hours))).date().toordinal()


@pytest.mark.parametrize("text", ["1_000", " 5 ", "5 ", "1 000", "1\t0", "1,000", "1_0.5"])
def test_decimals_are_written_plainly(text):
    [error] = _errors(_sale("2026-01-02T10:00:00+05:00", quantity=text))
    assert error["loc"][-1] == "quantity"
    [error] = _errors(_sale("2026-01-02T10:00:00+05:00", price=text))
    assert error["loc"][-1] == "unit_price"


@pytest.mark.parametrize("text, value", [("1000", "1000"), ("0.125", "0.125"), ("1E+3", "1000"), ("-0", None)])
def test_plain_decimals_still_pass(text, value):
    body = _sale("2026-01-02T10:00:00+05:00", quantity=text)
    if value is None:
        _errors(body)  # zero is not a sale's quantity
        return
    event = EventAdapter.validate_python(body)
    assert event.lines[0].quantity == Decimal(value)
