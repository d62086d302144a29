"""Scale: the same number of events spread over more and more stores (so more and more keys);
one worker each, on a fresh pre-loaded topic: events/s, worker memory and RocksDB bytes per key."""
from __future__ import annotations

from bench.context import Context
from bench.data import generate
from bench.generator import GenConfig
from bench.stages import result
from bench.stages.workers import run_workers


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    points = []
    for stores in plan.scale_stores:
        per_store = max(1, plan.scale_events // stores)
        data = generate(f"scale-{stores}", GenConfig(stores=stores, events_per_store_day=per_store, skus=plan.skus,
                                                    seed=plan.seed + 3, opening_count=False))
        settings = ctx.settings(f"bench-scale{stores}")
        ctx.preload(data, settings, f"scale-{stores}-load")
        fields = run_workers(ctx, data, settings, 1, f"scale-{stores}-stores")
        points.append({"stores": stores, "events_per_store": per_store, **fields})
    exact = all(p["exact"] for p in points)
    rates = [p["events_per_s"] for p in points]
    return [result(
        "scale", kind="throughput", exact=exact, checked_keys=sum(p["checked_keys"] for p in points),
        differences=sum(p["differences"] for p in points), events_per_s=min(rates),
        cpu_us_per_event=max((p["cpu_us_per_event"] or 0) for p in points) or None,
        flatness=round(min(rates) / max(rates), 3), points=points,
        note="same total events over each store count, 1 worker, no opening stock counts (at 10,000 stores they "
             "would be 2 M key writes; the recovery stage measures that fill); events_per_s = the slowest point, "
             "cpu_us_per_event = the costliest, flatness = slowest / fastest")]
