"""Ledger entries: what each applied event leg did per sku, identical when replayed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import LEG_IN, apply_event
from domain.ledger import ledger_entry
from schemas.ledger import LedgerEntry
from tests.unit.test_stock_rules import ev, purchase, sale

pytestmark = pytest.mark.unit


def test_sale_entry_has_exact_amounts_and_on_hand_change():
    states = {}
    apply_event(states, purchase("2"))
    s = ev(
        "sale",
        minutes=1,
        lines=[{"sku": "rice", "quantity": "0.125", "unit_price": "120.50"}, {"sku": "rice", "quantity": "1", "unit_price": "100.00"}],
    )
    entry = ledger_entry(s, "out", apply_event(states, s))
    LedgerEntry.model_validate(entry)
    [row] = entry["rows"]
    assert row["quantity"] == "-1.125" and row["amount"] == "115.0625"
    assert (row["on_hand_before"], row["on_hand_after"], row["changed"], row["outcome"]) == ("2", "0.875", True, "applied")
    assert ledger_entry(s, "out", apply_event(states, s)) == entry  # a replay writes the same entry


def test_transfer_legs_name_both_stores():
    t = ev("transfer", to_store_id="s2", lines=[{"sku": "rice", "quantity": "4"}])
    states = {}
    out = ledger_entry(t, "out", apply_event(states, t))
    inn = ledger_entry(t, LEG_IN, apply_event(states, t, leg=LEG_IN))
    assert (out["store_id"], out["other_store_id"], out["rows"][0]["quantity"]) == ("s1", "s2", "-4")
    assert (inn["store_id"], inn["other_store_id"], inn["rows"][0]["quantity"]) == ("s2", "s1", "4")


def test_conflicting_resend_is_left_out():
    states = {}
    first = sale("1")
    apply_event(states, first)
    changed = sale("3", eid=str(first.event_id))
    assert ledger_entry(changed, "out", apply_event(states, changed)) is None


def test_adjustment_reason_and_late_movement_outcome():
    states = {}
    apply_event(states, ev("count", minutes=10, lines=[{"sku": "rice", "quantity": "5"}]))
    adj = ev("adjustment", minutes=5, reason="expiry", lines=[{"sku": "rice", "quantity": "-1"}])
    [row] = ledger_entry(adj, "out", apply_event(states, adj))["rows"]
    assert (row["reason"], row["outcome"], row["changed"]) == ("expiry", "before_count", False)


def test_amount_uses_the_entered_quantity_of_a_converted_line():
    p = ev(
        "purchase",
        supplier="Metro",
        lines=[
            {"sku": "rice", "quantity": "24", "unit": "piece", "unit_cost": "1200.00", "entered_quantity": "2", "entered_unit": "carton"}
        ],
    )
    [row] = ledger_entry(p, "out", apply_event({}, p))["rows"]
    assert (row["quantity"], row["amount"]) == ("24", "2400")


@given(st.integers(-(10**15), 10**15))
def test_milli_units_print_as_the_decimal_division_does(milli):
    from decimal import Decimal

    from domain.ledger import _dec

    assert _dec(milli) == format(Decimal(milli) / 1000, "f")


_PRICE = st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False))
_QTY = st.decimals(min_value="0.001", max_value=10**4, places=3, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(st.sampled_from(["rice", "dal", "tea"]), _QTY, st.one_of(st.none(), _QTY), _PRICE), min_size=1, max_size=6))
def test_amounts_are_the_exact_sum_of_each_skus_lines(lines):
    """(A return: its refund price is optional.) Per sku, the entered quantity (else the quantity) times the price, summed over its priced
    lines and printed without exponent or trailing zeros; skus without a priced line have none."""
    from decimal import Decimal

    from domain.ledger import _amounts

    body = [
        {
            "sku": sku,
            "quantity": str(q),
            **({"entered_quantity": str(e), "entered_unit": "carton", "unit": "piece"} if e is not None else {}),
            **({"unit_price": str(p)} if p is not None else {}),
        }
        for sku, q, e, p in lines
    ]
    expected: dict[str, Decimal] = {}
    for sku, q, e, p in lines:
        if p is not None:
            expected[sku] = expected.get(sku, Decimal(0)) + (q if e is None else e) * p
    assert _amounts(ev("return", lines=body)) == {sku: format(v.normalize(), "f") for sku, v in expected.items()}
