"""Garbage-collector pauses are measured (bazaar_core.gcwatch), and tuning spaces collections out."""

from __future__ import annotations

import gc

import pytest

from bazaar_core import gcwatch

pytestmark = pytest.mark.unit


def _count(generation: str) -> float:
    """Collections of this generation timed so far (the histogram's observation count)."""
    return sum(b.get() for b in gcwatch.PAUSE.labels(generation)._buckets)


def test_every_collection_is_timed_by_generation():
    gcwatch.install()
    gcwatch.install()  # once only
    assert gc.callbacks.count(gcwatch._callback) == 1
    before = _count("2")
    gc.collect()
    after = _count("2")
    assert after == before + 1


def test_tune_freezes_what_exists_and_raises_the_thresholds():
    saved = gc.get_threshold()
    try:
        gcwatch.tune(young=12_345, oldest=777)
        assert gc.get_threshold() == (12_345, saved[1], 777)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
