"""Each rule of the stock core, one scenario at a time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from domain.events import LEG_IN, apply_event, key_ops
from domain.quantities import cents_str, milli_str, to_milli
from domain.stock import Outcome
from schemas.events import EventAdapter

pytestmark = pytest.mark.unit

PKT = timezone(timedelta(hours=5))
T0 = datetime(2025, 11, 20, 9, 0, tzinfo=PKT)  # the window tests run 90 days on: all of it in the past


def ev(kind, minutes=0, store="s1", eid=None, received_days=0, **extra):
    body = {
        "event_id": eid or str(uuid.uuid4()),
        "type": kind,
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "received_at": (T0 + timedelta(minutes=minutes, days=received_days)).isoformat(),
        **extra,
    }
    return EventAdapter.validate_python(body)


def sale(q, sku="rice", **kw):
    return ev("sale", lines=[{"sku": sku, "quantity": q, "unit_price": "100.00"}], **kw)


def purchase(q, sku="rice", **kw):
    return ev("purchase", supplier="metro", lines=[{"sku": sku, "quantity": q, "unit_cost": "90.00"}], **kw)


def count(q, sku="rice", **kw):
    return ev("count", lines=[{"sku": sku, "quantity": q}], **kw)


def on_hand(states, key="s1|rice"):
    return milli_str(states[key].on_hand)


def test_loose_goods_stay_exact():
    states = {}
    apply_event(states, purchase("1"))
    for _ in range(3):
        apply_event(states, sale("0.125"))
    assert on_hand(states) == "0.625"


def test_sale_beyond_stock_applies_and_goes_negative():
    states = {}
    apply_event(states, purchase("2"))
    [applied] = apply_event(states, sale("3.5", minutes=1))
    assert applied.result.outcome is Outcome.APPLIED
    assert on_hand(states) == "-1.5"
    assert states["s1|rice"].negative and applied.result.went_negative


def test_resend_counts_once_and_a_changed_resend_is_flagged():
    states = {}
    first = sale("2")
    apply_event(states, first)
    [dup] = apply_event(states, first)
    assert dup.result.outcome is Outcome.DUPLICATE
    changed = sale("5", eid=str(first.event_id))
    [conflict] = apply_event(states, changed)
    assert conflict.result.outcome is Outcome.CONFLICT
    assert on_hand(states) == "-2"


def test_late_movement_before_count_is_recorded_without_changing_on_hand():
    states = {}
    apply_event(states, count("10", minutes=10))
    [late] = apply_event(states, sale("3", minutes=5))
    assert late.result.outcome is Outcome.BEFORE_COUNT and not late.result.changed
    [same_instant] = apply_event(states, sale("1", minutes=10))
    assert same_instant.result.outcome is Outcome.BEFORE_COUNT
    assert on_hand(states) == "10"


def test_late_count_recomputes_from_movements_after_it():
    states = {}
    apply_event(states, purchase("20", minutes=0))
    apply_event(states, sale("2", minutes=5))
    apply_event(states, sale("3", minutes=15))
    apply_event(states, count("7", minutes=10))  # arrives late, from an offline terminal
    assert on_hand(states) == "4"  # 7 - 3
    [older] = apply_event(states, count("100", minutes=8))
    assert older.result.outcome is Outcome.STALE_COUNT
    assert on_hand(states) == "4"


def test_transfer_moves_stock_between_stores_exactly_once():
    states = {}
    apply_event(states, purchase("10"))
    t = ev("transfer", minutes=1, to_store_id="s2", lines=[{"sku": "rice", "quantity": "4"}])
    for _ in range(2):
        apply_event(states, t)
        apply_event(states, t, leg=LEG_IN)
    assert on_hand(states, "s1|rice") == "6"
    assert on_hand(states, "s2|rice") == "4"


def test_adjustment_reasons_and_signs():
    states = {}
    apply_event(states, ev("adjustment", reason="damage", lines=[{"sku": "rice", "quantity": "-0.5"}]))
    apply_event(states, ev("adjustment", reason="correction", lines=[{"sku": "rice", "quantity": "2"}]))
    assert on_hand(states) == "1.5"


def test_lines_of_one_sku_are_combined():
    e = ev("sale", lines=[{"sku": "rice", "quantity": "1", "unit_price": "1"}, {"sku": "rice", "quantity": "0.5", "unit_price": "1"}])
    [op] = key_ops(e)
    assert op.quantity == -1500


def test_state_stays_bounded_by_the_window():
    states = {}
    for day in range(90):
        apply_event(states, sale("1", minutes=day * 1440), window_days=30)
    st = states["s1|rice"]
    assert len(st.moves) <= 31
    assert on_hand(states) == "-90"
    # a re-send from beyond the window cannot be recognised: it is applied and flagged
    [old] = apply_event(states, sale("1", minutes=0), window_days=30)
    assert old.result.outcome is Outcome.BEYOND_WINDOW


def test_a_sale_synced_after_the_window_counts_once_when_replayed():
    # a terminal offline for 40 days syncs its sale: ids are kept by receive time, so a crash
    # replay of that message (same receive time) is a duplicate, not a second sale
    states = {}
    late = sale("2", minutes=0, received_days=40)
    [first] = apply_event(states, late, window_days=30)
    assert first.result.outcome is Outcome.APPLIED and on_hand(states) == "-2"
    [again] = apply_event(states, late, window_days=30)
    assert again.result.outcome is Outcome.DUPLICATE and (again.result.before, again.result.after) == (0, -2000)
    assert on_hand(states) == "-2"


def test_a_sale_from_before_folded_history_is_flagged_and_still_counts_once():
    states = {}
    for day in range(60):
        apply_event(states, sale("1", minutes=day * 1440), window_days=30)
    assert states["s1|rice"].folded_until is not None
    old = sale("5", minutes=2 * 1440, received_days=58)  # sold on day 2, received on day 60
    [first] = apply_event(states, old, window_days=30)
    assert first.result.outcome is Outcome.BEYOND_WINDOW and on_hand(states) == "-65"
    [again] = apply_event(states, old, window_days=30)
    assert again.result.outcome is Outcome.DUPLICATE and on_hand(states) == "-65"
    # it folds a window after it was received, like any movement
    for day in range(60, 95):
        apply_event(states, sale("1", minutes=day * 1440), window_days=30)
    assert str(old.event_id) not in states["s1|rice"].moves and on_hand(states) == "-100"


def test_a_state_stored_before_receive_times_keeps_folding_by_occurred_at():
    from domain.stock import StockState

    day = 86_400 * 1_000_000
    at0 = int(T0.timestamp()) * 1_000_000
    # folded up to day 3; movements of days 4 and 5 kept, four items each (no receive time)
    state = StockState(
        base=-3_000,
        folded_until=at0 + 3 * day,
        moved=-2_000,
        oldest=at0 + 4 * day,
        moves={"d4": [at0 + 4 * day, -1_000, "x", -3_000], "d5": [at0 + 5 * day, -1_000, "x", -4_000]},
    )
    states = {"s1|rice": state}
    new = sale("1", minutes=34 * 1440 + 60)  # day 34: day 4 folds
    [r] = apply_event(states, new, window_days=30)
    assert r.result.outcome is Outcome.APPLIED and on_hand(states) == "-6"
    assert set(state.moves) == {"d5", str(new.event_id)} and state.folded_until == at0 + 4 * day
    assert state.horizon == at0 + 4 * day + 60 * 60 * 1_000_000
    # a movement at or before the old folded_until is still placed behind folded history
    [o] = apply_event(states, sale("1", minutes=2 * 1440), window_days=30)
    assert o.result.outcome is Outcome.BEYOND_WINDOW and on_hand(states) == "-7"


def test_count_inside_folded_history_is_not_applied():
    states = {}
    for day in range(60):
        apply_event(states, sale("1", minutes=day * 1440), window_days=30)
    [c] = apply_event(states, count("50", minutes=5 * 1440 + 1), window_days=30)
    assert c.result.outcome is Outcome.STALE_COUNT
    assert on_hand(states) == "-60"


def test_quantity_helpers_are_exact():
    assert to_milli(__import__("decimal").Decimal("0.125")) == 125
    assert milli_str(-2500) == "-2.5" and milli_str(0) == "0" and milli_str(12000) == "12"
    assert cents_str(150) == "1.50" and cents_str(-5) == "-0.05"


def test_a_replayed_event_reports_its_first_change():
    states = {}
    apply_event(states, purchase("5"))
    s = sale("2", minutes=1)
    [first] = apply_event(states, s)
    apply_event(states, sale("1", minutes=2))
    [again] = apply_event(states, s)
    assert again.result.outcome is Outcome.DUPLICATE
    assert (again.result.before, again.result.after, again.result.changed) == (first.result.before, first.result.after, True)
    c = count("9", minutes=3)
    [counted] = apply_event(states, c)
    apply_event(states, sale("1", minutes=4))
    [recount] = apply_event(states, c)
    assert (recount.result.before, recount.result.after) == (counted.result.before, counted.result.after) == (2000, 9000)
    assert not recount.result.went_negative
