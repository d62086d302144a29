"""Edge-triggered alert rules: one alert per crossing, re-armed when stock rises back."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis.strategies import text as st_text

from domain.alerts import AlertState, Thresholds, evaluate, record_sale, replayed, suggest, velocity

pytestmark = pytest.mark.unit

LIMITS = Thresholds(reorder_point=5000, lead_time_days=3, reorder_min=6000, reorder_max=24000, pack_size=12000, pack_unit="carton")


def kinds(transitions):
    return [(t.type, t.kind) for t in transitions]


def test_crossing_fires_once_and_rearms_after_a_purchase():
    st = AlertState()
    assert evaluate(st, "s", "x", 8000, LIMITS, "e1", 14) == []
    assert kinds(evaluate(st, "s", "x", 5000, LIMITS, "e2", 14)) == [("alert", "low_stock")]
    assert evaluate(st, "s", "x", 3000, LIMITS, "e3", 14) == []  # still low: no repeat
    assert kinds(evaluate(st, "s", "x", 20000, LIMITS, "e4", 14)) == [("cleared", "low_stock")]
    assert kinds(evaluate(st, "s", "x", 4000, LIMITS, "e5", 14)) == [("alert", "low_stock")]


def test_out_of_stock_and_negative_are_their_own_edges():
    st = AlertState()
    assert kinds(evaluate(st, "s", "x", 0, LIMITS, "e1", 14)) == [("alert", "out_of_stock"), ("alert", "low_stock")]
    assert kinds(evaluate(st, "s", "x", -500, LIMITS, "e2", 14)) == [("alert", "negative_stock")]
    assert kinds(evaluate(st, "s", "x", 1000, LIMITS, "e3", 14)) == [("cleared", "negative_stock"), ("cleared", "out_of_stock")]


def test_running_out_uses_days_of_cover_against_lead_time():
    st = AlertState()
    for day in range(1, 8):
        record_sale(st, day, 2000, 14)  # 2 units a day
    assert velocity(st, 14) == 2
    limits = Thresholds(lead_time_days=3)
    assert evaluate(st, "s", "x", 8000, limits, "e1", 14) == []  # 4 days of cover
    [t] = evaluate(st, "s", "x", 5000, limits, "e2", 14)  # 2.5 days < 3
    assert (t.kind, t.days_of_cover, t.velocity) == ("running_out", 2.5, 2)


def test_velocity_window_is_bounded():
    st = AlertState()
    for day in range(100):
        record_sale(st, day, 1000, 14)
    assert len(st.sales) == 14 and velocity(st, 14) == 1


def test_replay_reemits_the_same_transitions_and_ids():
    st = AlertState()
    first = evaluate(st, "s", "x", 0, LIMITS, "e1", 14)
    assert replayed(st, "e1") == first
    assert replayed(st, "e-other") == []
    other = AlertState()
    assert [t.alert_id for t in evaluate(other, "s", "x", 0, LIMITS, "e1", 14)] == [t.alert_id for t in first]


def test_suggestion_orders_up_to_max_in_whole_packs():
    assert suggest(3000, LIMITS, None) == 24  # need 21 -> 2 cartons of 12
    assert suggest(23000, LIMITS, None) == 12  # need 1, but at least the minimum 6 -> one carton
    assert suggest(3000, Thresholds(reorder_point=5000), None) == 2
    assert suggest(3000, Thresholds(), None) is None


def test_running_out_boundary_is_exact_integer_arithmetic():
    """Cover = on_hand / (sold / days): exactly the lead time is not "running out", a milli-unit less is.
    (3 days of sales of 1 unit each, lead time 3 days: cover 3 at 3 units, below 3 at 2.999 units.)"""
    limits = Thresholds(lead_time_days=3)
    st = AlertState()
    for day in (100, 101, 102):
        record_sale(st, day, 1000, 14)
    assert evaluate(st, "s", "x", 3000, limits, "e1", 14) == []
    [t] = evaluate(st, "s", "x", 2999, limits, "e2", 14)
    assert (t.type, t.kind, t.threshold, t.days_of_cover) == ("alert", "running_out", 3, Decimal("2.999"))
    [t] = evaluate(st, "s", "x", 3000, limits, "e3", 14)
    assert (t.type, t.kind, t.threshold) == ("cleared", "running_out", 3)


@given(st_text())
def test_alert_ids_are_uuid5_of_the_name(name):
    # alert ids must stay what uuid5 gave (a replay after an upgrade re-emits the same ids)
    import uuid

    from domain.alerts import _NS, alert_uuid

    assert alert_uuid(name) == str(uuid.uuid5(_NS, name))


def test_transitions_carry_the_figures_and_ids_they_always_had():
    # pinned from the implementation before the fast path (uuid5 objects, all thresholds computed)
    st = AlertState()
    record_sale(st, 100, 3000, 14)  # 3 units sold on day 100

    def row(t):
        return (
            t.type,
            t.kind,
            t.alert_id,
            t.on_hand,
            str(t.threshold),
            str(t.velocity),
            str(t.days_of_cover),
            str(t.suggested_reorder),
            t.reorder_unit,
            t.clears,
        )

    assert [row(t) for t in evaluate(st, "s", "x", 5000, LIMITS, "e1", 14)] == [
        ("alert", "low_stock", "da389e0f-ebbc-5659-b073-e453c7f66521", 5000, "5", "3.000", "1.667", "24", "carton", None),
        ("alert", "running_out", "2c2cd143-5200-56ad-b76c-20eb1607684a", 5000, "3", "3.000", "1.667", "24", "carton", None),
    ]
    assert [row(t) for t in evaluate(st, "s", "x", -1000, LIMITS, "e2", 14)] == [
        ("alert", "negative_stock", "df6460c1-1a4f-5de4-96f7-cfc277bbab57", -1000, "0", "3.000", "-0.333", "36", "carton", None),
        ("alert", "out_of_stock", "1df57fc9-8f3f-54c9-aebc-cc155a2a62a4", -1000, "0", "3.000", "-0.333", "36", "carton", None),
        (
            "cleared",
            "running_out",
            "ad0e822f-cd32-57da-b070-063932ed77e8",
            -1000,
            "3",
            "3.000",
            "-0.333",
            "None",
            None,
            "2c2cd143-5200-56ad-b76c-20eb1607684a",
        ),
    ]
