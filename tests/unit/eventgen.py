"""Hypothesis strategies for contract events (small id spaces, so ties and collisions happen)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from schemas.events import EventAdapter

STORES = ["s1", "s2"]
SKUS = ["rice", "dal", "oil"]
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone(timedelta(hours=5)))

times = st.integers(0, 40).map(lambda m: T0 + timedelta(minutes=m))  # few distinct instants: ties happen
qty = st.integers(1, 5000).map(lambda n: Decimal(n) / 1000)
count_qty = st.integers(0, 5000).map(lambda n: Decimal(n) / 1000)


@st.composite
def events(draw):
    kind = draw(st.sampled_from(["sale", "purchase", "return", "adjustment", "count", "transfer"]))
    store = draw(st.sampled_from(STORES))
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3))
    body = {
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**64)))),
        "type": kind,
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": draw(times).isoformat(),
        "received_at": (T0 + timedelta(days=1)).isoformat(),
    }
    if kind == "sale":
        body["lines"] = [{"sku": s, "quantity": draw(qty), "unit_price": "10.00"} for s in skus]
    elif kind == "purchase":
        body["supplier"] = "metro"
        body["lines"] = [{"sku": s, "quantity": draw(qty), "unit_cost": "8.25"} for s in skus]
    elif kind == "return":
        body["lines"] = [{"sku": s, "quantity": draw(qty)} for s in skus]
    elif kind == "adjustment":
        reason = draw(st.sampled_from(["damage", "expiry", "theft", "own_use", "correction"]))
        body["reason"] = reason
        sign = draw(st.sampled_from([1, -1])) if reason == "correction" else -1
        body["lines"] = [{"sku": s, "quantity": sign * draw(qty)} for s in skus]
    elif kind == "count":
        body["lines"] = [{"sku": s, "quantity": draw(count_qty)} for s in skus]
    else:
        body["to_store_id"] = [s for s in STORES if s != store][0]
        body["lines"] = [{"sku": s, "quantity": draw(qty)} for s in skus]
    return EventAdapter.validate_python(body)


def unique_ids(evs):
    seen, out = set(), []
    for e in evs:
        if e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return out
