"""The load generator's own expected stock (plain arithmetic) equals the core's, over a realistic
history with offline bursts, re-sends, counts and transfers, in arrival order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from domain.events import LEG_IN, apply_event, needs_in_leg
from schemas.events import EventAdapter

pytestmark = pytest.mark.unit


def test_core_matches_generator_expectation():
    gen = Generator(GenConfig(stores=12, events_per_store_day=250, days=2, seed=7))
    states: dict = {}
    types = set()
    for body in gen.events():
        received = datetime.fromtimestamp(body["received_at_hint"] // 1_000_000, tz=UTC)
        event = EventAdapter.validate_python(wire_body(body, received))
        types.add(event.type)
        apply_event(states, event)
        if needs_in_leg(event, "out"):
            apply_event(states, event, leg=LEG_IN)
    assert types == {"sale", "purchase", "return", "adjustment", "count", "transfer"}
    assert gen.emitted > gen.unique  # re-sends happened
    expected = gen.expected()
    got = {k: s.on_hand for k, s in states.items()}
    assert set(got) == set(expected)
    assert got == expected


def test_generator_is_seeded():
    a = [b["event_id"] for b in Generator(GenConfig(stores=3, events_per_store_day=20, seed=1)).events()]
    b = [b["event_id"] for b in Generator(GenConfig(stores=3, events_per_store_day=20, seed=1)).events()]
    assert a == b and len(a) >= 60
