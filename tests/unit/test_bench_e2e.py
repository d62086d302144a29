"""The end-to-end stage's capacity search (bench/stages/api.py), against made-up pipelines: no timing."""

from __future__ import annotations

import pytest

from bench.plan import FULL, plan_for
from bench.stages.api import search_capacity

pytestmark = pytest.mark.unit


def pipeline(capacity: float, held_capacity: float | None = None):
    """A probe that is flat at or below ``capacity`` (``held_capacity`` for the long holds), and the loads it was offered."""
    offered: list[tuple[float, float, str]] = []

    def probe(rate: float, seconds: float, label: str) -> bool:
        offered.append((rate, seconds, label))
        limit = held_capacity if label == "e2e-hold" and held_capacity is not None else capacity
        return rate <= limit

    return probe, offered


def test_steps_up_then_bisects_then_holds_the_highest_flat_rate():
    probe, offered = pipeline(2_600)
    capacity, held = search_capacity(FULL, probe)
    rates = [r for r, _, _ in offered]
    assert rates[:5] == [500, 750, 1_120, 1_680, 2_520]  # x1.5, rounded to 10 events/s
    assert rates[5] == 3_780 and [label for _, _, label in offered[6:8]] == ["e2e-bisect"] * 2
    assert offered[-1] == (capacity, FULL.e2e_hold_s, "e2e-hold") and held
    assert 2_520 <= capacity <= 2_600  # the bisections came closer than the step up (3,150 and 2,840 not flat)
    assert all(seconds == FULL.e2e_probe_s for _, seconds, label in offered if label != "e2e-hold")


def test_a_rate_not_flat_when_held_is_lowered_once():
    probe, offered = pipeline(2_600, held_capacity=2_300)
    capacity, held = search_capacity(FULL, probe)
    holds = [r for r, _, label in offered if label == "e2e-hold"]
    assert len(holds) == 2 and holds[1] == round(holds[0] * 0.85 / 10) * 10
    assert held and capacity == holds[1]


def test_held_twice_without_flat_is_reported_unconfirmed():
    probe, offered = pipeline(2_600, held_capacity=100)
    capacity, held = search_capacity(FULL, probe)
    assert not held and capacity == [r for r, _, label in offered if label == "e2e-hold"][-1]


def test_the_start_rate_not_flat_searches_below_it():
    probe, offered = pipeline(300)
    capacity, held = search_capacity(FULL, probe)
    assert offered[0][0] == 500 and held and 0 < capacity <= 300


def test_the_search_stops_at_the_plans_highest_rate():
    plan = plan_for(False, None, ["e2e_max_rate=1000"])
    probe, offered = pipeline(50_000)
    capacity, held = search_capacity(plan, probe)
    assert [r for r, _, _ in offered] == [500, 750, 1_000, 1_000] and capacity == 1_000 and held
