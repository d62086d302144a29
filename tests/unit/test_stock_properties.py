"""Property: any arrival order of any event set (with re-sends) gives the same stock, equal to
the invariant computed independently: latest count + movements after it."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import LEG_IN, LEG_OUT, apply_event, needs_in_leg
from domain.quantities import milli_str
from domain.stock import fold_key
from schemas.events import Count, Sale, Transfer
from tests.unit.eventgen import T0, events, unique_ids

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
        assert s.oldest == min((fold_key(m) for m in s.moves.values()), default=None)


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


WINDOW_DAYS = 3
_days = st.integers(0, 10 * 24).map(lambda h: timedelta(hours=h))  # occurred: 10 days, hourly
_lags = st.integers(0, 6 * 24).map(lambda h: timedelta(hours=h))  # received up to 6 days (twice the window) later


@st.composite
def _received_late(draw):
    """An event whose terminal may sync days late: occurred over 10 days, received up to 6 days after."""
    e = draw(events())
    at = T0 + draw(_days)
    return e.model_copy(update={"occurred_at": at, "received_at": at + draw(_lags)})


@settings(max_examples=300, deadline=None)
@given(st.lists(_received_late(), min_size=1, max_size=30).map(unique_ids), st.data())
def test_a_replayed_message_counts_once_however_old_its_event(evs, data):
    """A worker that crashes re-applies the messages after its last commit: the stock must not
    change, also for events that occurred beyond the late window (a terminal synced days late).
    Messages are applied in receive order (the server stamps them as it writes them); a crash
    replays a stretch of them that the window spans, as a restart does seconds later."""
    legs = sorted(deliveries(evs), key=lambda leg: leg[0].received_at)
    kw = {"window_days": WINDOW_DAYS}
    once: dict = {}
    for event, leg in legs:
        apply_event(once, event, leg=leg, **kw)
    replayed: dict = {}
    crashes = set(data.draw(st.lists(st.integers(1, len(legs)), max_size=4)))
    for i, (event, leg) in enumerate(legs, start=1):
        apply_event(replayed, event, leg=leg, **kw)
        if i in crashes:  # restart from an earlier committed offset: re-apply what came after it
            newest = legs[i - 1][0].received_at
            span = [j for j in range(i) if newest - legs[j][0].received_at < timedelta(days=WINDOW_DAYS)]
            start = data.draw(st.sampled_from(span))
            for again, again_leg in legs[start:i]:
                apply_event(replayed, again, leg=again_leg, **kw)
    assert {k: s.on_hand for k, s in replayed.items()} == {k: s.on_hand for k, s in once.items()}
    for s in replayed.values():
        assert s.moved == sum(m[1] for m in s.moves.values())
        assert s.oldest == min((fold_key(m) for m in s.moves.values()), default=None)
