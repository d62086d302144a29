"""How much each stage does, in the full run and in ``--quick`` (a smoke test of every stage)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Plan:
    mode: str
    seed: int = 42
    skus: int = 200
    # the main data set: pre-loaded once, read by the raw loop, the peer and the stream stage
    main_stores: int = 250
    main_events_per_store: int = 200
    # API ingest: events per (batch size, concurrency) cell; batch 1 means one event per POST
    ingest_batches: tuple[int, ...] = (1, 100, 500)
    ingest_concurrency: tuple[int, ...] = (1, 4, 16)
    ingest_single_events: int = 600
    ingest_batch_events: int = 15_000  # long enough for a steady rate at 10-20k events/s
    api_stores: int = 250
    # what access costs the ingest route: (events per POST, client concurrency, events) cells posted to an
    # API with auth and to one without, in alternating turns, this many rounds (bench/stages/auth_cost.py)
    # (many short turns: on a shared machine the load of the moment varies more than the cost measured)
    auth_cost_cells: tuple[tuple[int, int, int], ...] = ((1, 4, 1_500), (10, 4, 4_000), (100, 4, 10_000))
    auth_cost_rounds: int = 6
    # end to end (bench/stages/api.py): open-loop loads of this many events per POST, about this many
    # POSTs a second followed by a read-your-writes lookup (the latency samples). First the capacity C:
    # probes from the start rate up by the growth factor (probe_s each) until the backlog (events on
    # the topic not yet applied) grows by more than flat_slope of the offered rate or the API accepts
    # less than it is offered; then bisections between the last flat and the first not; then the
    # highest flat rate is held for hold_s (C if still flat, else lower by 15 % and held again, once).
    # Then latency steps of hold_s at these shares of C, and a second worker at the last share.
    # e2e_capacity > 0 skips the search and takes that as C (a custom run looking at latency only).
    e2e_batch: int = 10
    e2e_lookups_per_s: float = 30.0
    e2e_start_rate: float = 500.0
    e2e_growth: float = 1.5
    e2e_max_rate: float = 12_000.0
    e2e_probe_s: float = 20.0
    e2e_bisections: int = 2
    e2e_hold_s: float = 60.0
    e2e_flat_slope: float = 0.02
    e2e_shares: tuple[float, ...] = (0.25, 0.5, 0.75)
    e2e_capacity: float = 0.0
    # ClickHouse sink: the ledger of this end-to-end load (events/s: the 2,000) offered to
    # `bazaar analytics` for this long while its backlog is sampled
    sink_events_per_s: float = 2_000.0
    sink_load_s: float = 30.0
    # recovery: stores x skus keys from each store's opening stock count, plus a little traffic; the worker
    # is SIGKILLed and restarted on its intact data dir, then SIGKILLed again and restarted on an empty one
    # (its tables rebuilt from the changelog topics)
    recovery_stores: int = 5_000
    recovery_events_per_store: int = 2
    # repartition: a stock changelog of this many keys (stores x skus) copied between these partition
    # counts (bazaar repartition), then a worker recovering from the copy on an empty disk
    repartition_keys: int = 1_000_000
    repartition_partitions: tuple[int, int] = (8, 32)
    # scale: at each store count, one worker applies every store's opening count of every sku (not timed),
    # then the same traffic is written at a steady pace, scale_offered_events_per_s for scale_window_s
    # (the window, the same at every point), spread over the stores; CPU per event and events applied per
    # second over the window (the offered rate is meant to be above what the worker applies: a backlog
    # throughout), then the rest drained before the stock check
    scale_stores: tuple[int, ...] = (100, 1_000, 10_000)
    scale_window_s: float = 40.0
    scale_offered_events_per_s: float = 6_000.0
    # limits
    stage_timeout_s: float = 1_800.0

    @property
    def recovery_keys(self) -> int:
        return self.recovery_stores * self.skus


FULL = Plan(mode="full")

QUICK = Plan(
    mode="quick",
    main_stores=20,
    main_events_per_store=50,
    ingest_single_events=40,
    ingest_batch_events=200,
    api_stores=10,
    auth_cost_cells=((1, 2, 40), (50, 2, 200)),
    auth_cost_rounds=1,
    e2e_batch=5,
    e2e_lookups_per_s=20.0,
    e2e_start_rate=200.0,  # one probe (the search is tested in tests/unit/test_bench_e2e.py), then held
    e2e_max_rate=200.0,
    e2e_probe_s=2.0,
    e2e_bisections=0,
    e2e_hold_s=2.0,
    e2e_shares=(0.5,),
    sink_events_per_s=200.0,
    sink_load_s=3.0,
    recovery_stores=50,
    recovery_events_per_store=5,
    repartition_keys=4_000,
    repartition_partitions=(4, 8),
    scale_stores=(10, 100),
    scale_window_s=2.0,
    scale_offered_events_per_s=500.0,
    stage_timeout_s=300.0,
)


def plan_for(quick: bool, seed: int | None = None, overrides: list[str] = ()) -> Plan:
    """The full or quick plan, with ``seed`` and ``FIELD=JSON`` overrides (a JSON list becomes a tuple,
    nested lists too). ValueError names a field the plan does not have or a value that is not JSON."""
    plan = QUICK if quick else FULL
    changes: dict = {} if seed is None else {"seed": seed}
    for item in overrides:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in {f.name for f in fields(Plan)} or name == "mode":
            raise ValueError(f"--set {item!r}: expected FIELD=JSON with FIELD one of {[f.name for f in fields(Plan) if f.name != 'mode']}")
        try:
            changes[name] = _tuples(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"--set {item!r}: the value is not JSON ({exc})") from None
    if changes:
        # a changed plan is not the full or quick run: its results go to latest-custom.*, never over theirs
        plan = replace(plan, mode="custom" if set(changes) - {"seed"} else plan.mode, **changes)
    return plan


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
