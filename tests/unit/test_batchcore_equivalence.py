"""The compiled batch core (batchcore/, module ``bazaar_batchcore``) does byte for byte what the
Python rules (domain/, the specification) do, over random event histories: the same state values
written to RocksDB and the changelog, the same ledger and alert records, the same counters, batch
by batch, through restarts, forgotten caches, catalog changes, batches it declines (applied by the
Python rules, whose writes it then reads) and values stored by earlier releases.

Skipped when the extension is not built, unless BAZAAR_REQUIRE_BATCHCORE=1 (CI builds it: there a
missing extension fails).
"""

from __future__ import annotations

import importlib
import os
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import from_us, to_us
from tests.unit.batchcore_harness import (
    T0,
    Census,
    catalog_cache,
    core_catalog,
    random_catalog,
    random_history,
    run_history,
    run_through_worker,
    zone_table,
)

pytestmark = pytest.mark.unit

REQUIRED = os.environ.get("BAZAAR_REQUIRE_BATCHCORE") == "1"


def _core() -> Any:
    try:
        return importlib.import_module("bazaar_batchcore")
    except ImportError as exc:
        if REQUIRED:
            raise
        pytest.skip(f"bazaar_batchcore is not built ({exc}): cd batchcore && maturin develop --release")


def test_the_extension_is_built_where_it_is_required() -> None:
    if not REQUIRED:
        pytest.skip("BAZAAR_REQUIRE_BATCHCORE is not 1")
    assert importlib.import_module("bazaar_batchcore").Core is not None


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 60))
def test_random_histories_give_the_same_bytes_as_the_python_rules(seed: int, size: int) -> None:
    core = _core()
    rng = random.Random(seed)
    history = random_history(rng, size)
    run_history(core, history, Census(), seed)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 60))
def test_ordinary_traffic_is_the_cores_and_the_same(seed: int, size: int) -> None:
    """Sales, purchases, returns, adjustments, counts and transfers (late, tied, re-sent with the
    same and with another payload, replayed, folded, in several stores and zones, over values
    stored by the previous layout): the core declines none of them."""
    core = _core()
    rng = random.Random(seed)
    history = random_history(rng, size, ordinary_only=True)
    census = Census()
    run_history(core, history, census, seed)
    assert not census.declined, census.declined


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 60))
def test_the_worker_running_the_core_sends_what_the_python_rules_send(seed: int, size: int) -> None:
    """The worker's own path (streams.core.StreamCore reading RocksDB, the Python rules for the
    batches it leaves, both caches, as streams/checkpoint.py runs a batch): the same changelog and
    output records as the Python rules alone."""
    core = _core()
    rng = random.Random(seed)
    run_through_worker(core, random_history(rng, size), Census(), seed)


def test_declined_batches_and_voids() -> None:
    """Over fixed histories: batches the core declines (a message that breaks the contract, a value
    in LAYOUT_1_ONE_ARRAY) are applied by the Python rules, and the core's next batches start from
    what they wrote, not from states it had cached; voids of every verdict are the core's."""
    core = _core()
    census = Census()
    for seed in range(24):
        rng = random.Random(seed)
        history = random_history(rng, 30)
        run_history(core, history, census, seed)
    assert census.declined, "no batch was declined: the decline path went untested"
    assert census.batches > 2 * sum(census.declined.values())
    assert {"applied", "unknown_sale", "not_a_sale", "too_old"} <= set(census.core_voids), census.core_voids


def test_zone_tables_give_the_catalogs_local_days() -> None:
    """streams.core's zone tables (what the core is given) say each store's local day as the
    catalog does, and agree with a table built apart here."""
    cat = catalog_cache()
    random_catalog(random.Random(1), cat)
    _, _, stores, zones = core_catalog(cat)
    tables = {name: (segments, until) for name, segments, until in zones}
    rng = random.Random(2)
    for store, zone in stores:
        segments, until = tables[zone]
        assert zone_table(zone) == (zone, segments, until)
        for _ in range(500):
            at = to_us(T0) + rng.randint(-400, 400) * 86_400_000_000 + rng.randint(0, 86_400_000_000)
            offset = [off for start, off in segments if start <= at][-1]
            assert (at + offset) // 86_400_000_000 + 719_163 == cat.local_day(store, from_us(at))
        assert until > to_us(T0)
    assert zone_table("UTC")[1] == [(to_us(T0.replace(year=2000, month=1, day=1, hour=0)), 0)]
