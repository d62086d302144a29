"""`bazaar bench --set FIELD=JSON`: plan overrides for a custom run."""

from __future__ import annotations

import pytest

from bench.plan import FULL, QUICK, plan_for

pytestmark = pytest.mark.unit


def test_no_override_keeps_the_named_plans():
    assert plan_for(False) is FULL
    assert plan_for(True) is QUICK
    assert plan_for(False, seed=7).mode == "full" and plan_for(False, seed=7).seed == 7


def test_overrides_change_the_fields_and_make_a_custom_run():
    plan = plan_for(False, None, ["e2e_shares=[0.5]", "ingest_batches=[500]", "e2e_batch=20"])
    assert plan.e2e_shares == (0.5,)
    assert plan.ingest_batches == (500,)
    assert plan.e2e_batch == 20
    assert plan.mode == "custom"  # its results never overwrite latest-full
    assert plan.main_stores == FULL.main_stores


@pytest.mark.parametrize("item", ["nope=1", "e2e_batch", 'mode="full"', "e2e_batch=[1,"])
def test_bad_overrides_are_refused_with_the_field_named(item):
    with pytest.raises(ValueError, match="--set"):
        plan_for(False, None, [item])
