"""Voids against the sale book (domain/voids.py): a void restores its sale exactly, counts once,
flags what it may not undo, and a redelivery changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.batch import Applier, BatchOutput
from domain.events import to_us
from domain.ledger import ledger_entry
from domain.quantities import milli_str
from domain.stock import Outcome
from domain.voids import GRACE_DAYS, MemoryBook, apply_recorded
from schemas.alerts import Alert
from schemas.events import EventAdapter, to_wire
from schemas.ledger import LedgerEntry

pytestmark = pytest.mark.unit

PKT = timezone(timedelta(hours=5))
T0 = datetime(2025, 10, 1, 9, 0, tzinfo=PKT)
WINDOW = 35


def ev(kind, minutes=0, store="s1", eid=None, days=0, **extra):
    at = T0 + timedelta(days=days, minutes=minutes)
    body = {
        "event_id": eid or str(uuid.uuid4()),
        "type": kind,
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": at.isoformat(),
        "received_at": at.isoformat(),
        **extra,
    }
    return EventAdapter.validate_python(body)


def sale(lines, **kw):
    return ev("sale", lines=[{"sku": s, "quantity": q, "unit_price": "100.00"} for s, q in lines], **kw)


def purchase(lines, **kw):
    return ev("purchase", supplier="metro", lines=[{"sku": s, "quantity": q, "unit_cost": "90.00"} for s, q in lines], **kw)


def void(original, lines, **kw):
    return ev(
        "return",
        reason="void",
        original_event_id=str(original.event_id),
        lines=[{"sku": s, "quantity": q, "unit_price": "100.00"} for s, q in lines],
        **kw,
    )


class Shop:
    """One worker's states and sale book, applying events as the stock agent does."""

    def __init__(self) -> None:
        self.states: dict = {}
        self.book = MemoryBook()

    def apply(self, event):
        applied, verdict = apply_recorded(self.states, self.book, event, void_window_days=WINDOW)
        return applied, verdict

    def on_hand(self, sku, store="s1"):
        state = self.states.get(f"{store}|{sku}")
        return milli_str(state.on_hand if state else 0)


def stocked(**kw) -> Shop:
    shop = Shop()
    shop.apply(purchase([("rice", "10"), ("dal", "5")], **kw))
    return shop


def test_a_void_restores_the_sale_exactly_as_the_sale_took_it():
    shop = stocked()
    wrong = sale([("rice", "2.125"), ("dal", "1"), ("rice", "0.5")], minutes=1)
    shop.apply(wrong)
    assert (shop.on_hand("rice"), shop.on_hand("dal")) == ("7.375", "4")
    # the void's lines are not the truth: the sale as it was recorded is
    applied, verdict = shop.apply(void(wrong, [("rice", "99")], minutes=3))
    assert verdict.status == "applied"
    assert (shop.on_hand("rice"), shop.on_hand("dal")) == ("10", "5")
    assert {(a.op.sku, a.op.quantity) for a in applied} == {("rice", 2625), ("dal", 1000)}


def test_voiding_twice_counts_once_and_a_redelivery_changes_nothing():
    shop = stocked()
    wrong = sale([("rice", "3")], minutes=1)
    shop.apply(wrong)
    first = void(wrong, [("rice", "3")], minutes=2)
    applied, v1 = shop.apply(first)
    entry = ledger_entry(first, "out", applied, verdict=v1)
    assert entry is not None and entry["void"] == "applied" and entry["occurred_at"] == wrong.occurred_at.astimezone(UTC).isoformat()
    assert v1.applied and shop.on_hand("rice") == "10"
    # a redelivery of the same void: applied again, counted once, the same ledger entry
    again, v2 = shop.apply(first)
    assert v2.applied and shop.on_hand("rice") == "10"
    assert all(a.result.outcome is Outcome.DUPLICATE for a in again)
    assert ledger_entry(first, "out", again, verdict=v2) == entry
    # another void of the same sale: recorded, flagged, no stock change
    second = void(wrong, [("rice", "3")], minutes=4)
    applied, v3 = shop.apply(second)
    assert v3.status == "already_voided" and shop.on_hand("rice") == "10"
    row = ledger_entry(second, "out", applied, verdict=v3)
    assert row is not None and row["void"] == "already_voided"
    assert [(r["quantity"], r["changed"], r["outcome"]) for r in row["rows"]] == [("0", False, "not_applied")]
    LedgerEntry.model_validate(row)


def test_a_void_of_an_unknown_or_foreign_sale_or_a_non_sale_is_flagged_never_applied():
    shop = stocked()
    elsewhere = sale([("rice", "1")], store="s2")
    shop.apply(elsewhere)
    bought = purchase([("rice", "4")], minutes=1)
    shop.apply(bought)
    before = shop.on_hand("rice")
    for original, status in [(elsewhere, "unknown_sale"), (bought, "not_a_sale"), (sale([("rice", "1")]), "unknown_sale")]:
        applied, verdict = shop.apply(void(original, [("rice", "1")], minutes=5))
        assert verdict.status == status, verdict
        assert shop.on_hand("rice") == before
        assert [a.result.outcome for a in applied] == [Outcome.NOT_APPLIED]
        assert str(original.event_id) in verdict.reason or status == "not_a_sale"


def test_a_sale_older_than_the_window_cannot_be_voided_and_the_book_is_bounded():
    shop = stocked()
    old = sale([("rice", "1")])
    shop.apply(old)
    _, verdict = shop.apply(void(old, [("rice", "1")], days=WINDOW + 1))
    assert verdict.status == "too_old" and shop.on_hand("rice") == "9"
    # past the window and grace the sale's bucket is dropped when a new day begins
    shop.apply(sale([("dal", "1")], days=WINDOW + GRACE_DAYS + 2))
    assert min(shop.book.days("s1")) > to_us(T0) // 86_400_000_000
    _, verdict = shop.apply(void(old, [("rice", "1")], days=WINDOW + GRACE_DAYS + 2, minutes=1))
    assert verdict.status == "unknown_sale"


def test_a_void_after_a_count_moves_nothing_the_count_already_saw():
    shop = stocked()
    wrong = sale([("rice", "3")], minutes=1)
    shop.apply(wrong)
    shop.apply(ev("count", minutes=2, lines=[{"sku": "rice", "quantity": "10"}]))  # the rice was on the shelf
    applied, verdict = shop.apply(void(wrong, [("rice", "3")], minutes=3))
    assert verdict.applied and shop.on_hand("rice") == "10"
    assert applied[0].result.outcome is Outcome.BEFORE_COUNT


def test_a_flagged_void_keeps_its_verdict_when_redelivered_after_its_sale():
    shop = stocked()
    late = sale([("rice", "2")], minutes=1)
    early_void = void(late, [("rice", "2")], minutes=2)
    _, first = shop.apply(early_void)
    shop.apply(late)
    _, again = shop.apply(early_void)
    assert first.status == again.status == "unknown_sale"
    assert shop.on_hand("rice") == "8"


def test_a_customer_return_with_or_without_its_sale_adds_its_lines():
    shop = stocked()
    bought = sale([("rice", "3")], minutes=1)
    shop.apply(bought)
    lines = [{"sku": "rice", "quantity": "1", "unit_price": "100"}]
    for extra in ({}, {"original_event_id": str(bought.event_id)}, {"reason": "customer_return"}):
        _, verdict = shop.apply(ev("return", minutes=2, lines=lines, **extra))
        assert verdict is None
    assert shop.on_hand("rice") == "10"


def test_the_applier_raises_a_void_unmatched_alert_and_ledgers_the_verdict():
    class Catalog:
        def thresholds(self, store_id, sku):
            from domain.alerts import Thresholds

            return Thresholds()

        def local_day(self, store_id, at):
            return 0

        def active(self, store_id, sku):
            return None

    applier = Applier({}, Catalog(), 30, 14, "ledger", "alerts")
    stranger = void(sale([("rice", "1")]), [("rice", "1")], minutes=1)
    out = BatchOutput()
    for _ in range(2):  # a redelivery raises the same alert id
        applier.apply(out, 0, 0, b"s1", to_wire(stranger), {})
    import orjson

    alerts = [orjson.loads(r[3]) for r in out.records if r[0] == "alerts"]
    ledger = [orjson.loads(r[3]) for r in out.records if r[0] == "ledger"]
    assert len(alerts) == 2 and alerts[0] == alerts[1]
    alert = Alert.model_validate(alerts[0])
    assert alert.kind == "void_unmatched" and alert.reason == "unknown_sale" and alert.original_event_id == stranger.original_event_id
    entry = LedgerEntry.model_validate(ledger[0])
    assert entry.void == "unknown_sale" and entry.original_event_id == stranger.original_event_id
    assert entry.rows[0].reason == "void"


# ---- the property: any history of sales and voids, delivered at least once -----------------------


@st.composite
def histories(draw):
    """Purchases, sales, and voids naming earlier sales (some twice), unknown ids or purchases."""
    skus = ["rice", "dal", "ghee"]
    events, sales, bought = [], [], []
    for i in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["sale", "sale", "purchase", "void", "void"]))
        lines = [(s, str(draw(st.integers(1, 5000)) / 1000)) for s in draw(st.lists(st.sampled_from(skus), min_size=1, max_size=3))]
        if kind == "sale":
            events.append(sale(lines, minutes=i))
            sales.append(events[-1])
        elif kind == "purchase":
            events.append(purchase(lines, minutes=i))
            bought.append(events[-1])
        else:
            target = draw(st.sampled_from(["sale", "unknown", "purchase"])) if sales else "unknown"
            if target == "sale":
                original = draw(st.sampled_from(sales))
            elif target == "purchase" and bought:
                original = draw(st.sampled_from(bought))
            else:
                original = sale(lines)  # never delivered
            events.append(void(original, lines, minutes=i))
    redeliver = draw(st.lists(st.integers(0, len(events) - 1), max_size=6))
    return events, redeliver


def expected(events) -> dict[str, int]:
    """Stock in milli-units, written apart from domain/: purchases, minus sales not voided by a void
    that came after them (the first void of each sale counts)."""
    ids = {str(e.event_id): e for e in events}
    voided, seen = set(), set()
    for e in events:
        if e.type == "return":
            target = ids.get(str(e.original_event_id))
            if target is not None and target.type == "sale" and str(target.event_id) in seen:
                voided.add(str(target.event_id))
        seen.add(str(e.event_id))
    out: dict[str, int] = {}
    for e in events:
        if e.type in ("sale", "purchase") and str(e.event_id) not in voided:
            for line in e.lines:
                key = f"{e.store_id}|{line.sku}"
                out[key] = out.get(key, 0) + int(line.quantity * 1000) * (-1 if e.type == "sale" else 1)
    return out


@settings(max_examples=150, deadline=None)
@given(histories())
def test_any_history_of_voids_delivered_at_least_once_gives_the_same_stock(history):
    events, redeliver = history
    once, replayed = Shop(), Shop()
    for e in events:
        once.apply(e)
    for i, e in enumerate(events):
        replayed.apply(e)
        for j in redeliver:  # an earlier event delivered again (a replay after a crash)
            if j <= i:
                replayed.apply(events[j])
    want = expected(events)
    for shop in (once, replayed):
        got = {k: s.on_hand for k, s in shop.states.items()}
        assert {k: v for k, v in got.items() if v or k in want} == {k: v for k, v in want.items() if v or k in got}
    assert {k: s.on_hand for k, s in once.states.items()} == {k: s.on_hand for k, s in replayed.states.items()}
