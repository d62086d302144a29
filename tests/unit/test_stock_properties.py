"""Property: any arrival order of any event set (with re-sends) gives the same stock, equal to
the invariant computed independently: latest count + movements after it."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import LEG_IN, LEG_OUT, apply_event, needs_in_leg
from domain.quantities import milli_str
from schemas.events import Count, Sale, Transfer
from tests.unit.eventgen import events, unique_ids

pytestmark = pytest.mark.unit


def expected_stock(evs) -> dict[str, Decimal]:
    """The invariant, written without any of domain/: plain Decimals over the event set."""
    counts: dict[str, tuple] = {}
    moves: dict[str, list] = defaultdict(list)
    for e in evs:
        if isinstance(e, Count):  # lines of one sku in one count add up (shelf + back room)
            found: dict[str, Decimal] = defaultdict(Decimal)
            for line in e.lines:
                found[f"{e.store_id}|{line.sku}"] += line.quantity
            for key, quantity in found.items():
                cand = (e.occurred_at, str(e.event_id))
                if key not in counts or cand > counts[key][0]:
                    counts[key] = (cand, quantity)
            continue
        for line in e.lines:
            if isinstance(e, Transfer):
                moves[f"{e.store_id}|{line.sku}"].append((e.occurred_at, -line.quantity))
                moves[f"{e.to_store_id}|{line.sku}"].append((e.occurred_at, line.quantity))
            else:
                sign = -1 if isinstance(e, Sale) else 1
                moves[f"{e.store_id}|{line.sku}"].append((e.occurred_at, sign * line.quantity))
    out = {}
    for key in set(counts) | set(moves):
        (count_at, _), base = counts.get(key, ((None, None), Decimal(0)))
        after = sum((q for at, q in moves[key] if count_at is None or at > count_at), Decimal(0))
        out[key] = base + after
    return out


def deliveries(evs):
    """Every leg that reaches the stream: each event, and for a transfer its receiving leg."""
    out = []
    for e in evs:
        out.append((e, LEG_OUT))
        if needs_in_leg(e, LEG_OUT):
            out.append((e, LEG_IN))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(events(), min_size=1, max_size=25).map(unique_ids), st.data())
def test_any_arrival_order_with_resends_gives_the_invariant(evs, data):
    legs = deliveries(evs)
    resent = data.draw(st.lists(st.sampled_from(legs), max_size=10))
    arrival = data.draw(st.permutations(legs + resent))
    states: dict = {}
    for event, leg in arrival:
        apply_event(states, event, leg=leg)
    want = expected_stock(evs)
    got = {k: Decimal(milli_str(s.on_hand)) for k, s in states.items()}
    assert {k: v for k, v in got.items() if k in want} == want
    assert all(got[k] == 0 for k in got if k not in want)
    for s in states.values():
        assert s.negative == (s.on_hand < 0)
        assert s.moved == sum(m[1] for m in s.moves.values())  # the cached sum stays true
        assert s.oldest == min((m[0] for m in s.moves.values()), default=None)


@settings(max_examples=100, deadline=None)
@given(st.lists(events(), min_size=1, max_size=20).map(unique_ids), st.randoms())
def test_two_orders_give_identical_state(evs, rnd):
    legs = deliveries(evs)
    a, b = {}, {}
    for event, leg in legs:
        apply_event(a, event, leg=leg)
    shuffled = legs[:]
    rnd.shuffle(shuffled)
    for event, leg in shuffled:
        apply_event(b, event, leg=leg)
    assert {k: s.on_hand for k, s in a.items()} == {k: s.on_hand for k, s in b.items()}
