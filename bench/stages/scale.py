"""Scale: the same shops, more of them. Every store has the same day (its opening stock count of every
sku, then the same number of events), so the load per store and per key is the same at every point
and only the number of stores (and of keys: stores x skus) grows. One worker each, on a fresh
topic holding the opening counts: once the worker has applied them, the events are written (the
producer is many times faster than the worker) and timed until all are applied: events/s, worker
memory and RocksDB bytes per key."""

from __future__ import annotations

from functools import partial

from bazaar_core.loadgen.generator import GenConfig
from bench.context import Context
from bench.data import generate
from bench.procs import StageError
from bench.stages import result
from bench.stages.workers import Warm, run_workers


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    points = []
    for stores in plan.scale_stores:
        per_store = plan.scale_events_per_store
        data = generate(
            f"scale-{stores}",
            GenConfig(stores=stores, events_per_store_day=per_store, skus=plan.skus, seed=plan.seed + 3, opening_count=True),
        )
        opening = stores  # the generator delivers every store's opening count first, one message each
        head, after = data.bodies[:opening], data.bodies[opening]
        if any(b["type"] != "count" for b in head) or (after["type"] == "count" and len(after["lines"]) == plan.skus):
            raise StageError(f"scale-{stores}: the opening counts are not the head of the generated events")
        settings = ctx.settings(f"bench-scale{stores}")
        ctx.preload(data, settings, f"scale-{stores}-counts", part=slice(0, opening))
        warm = Warm(opening, opening, partial(ctx.preload, data, settings, f"scale-{stores}-load", part=slice(opening, None)))
        fields = run_workers(ctx, data, settings, 1, f"scale-{stores}-stores", warm=warm, compact=True)
        points.append(
            {
                "stores": stores,
                "events_per_store": per_store,
                "opening_count_keys": stores * plan.skus,
                "timed_events": data.events - opening,
                **fields,
            }
        )
    exact = all(p["exact"] for p in points)
    rates = [p["events_per_s"] for p in points]
    return [
        result(
            "scale",
            kind="throughput",
            exact=exact,
            checked_keys=sum(p["checked_keys"] for p in points),
            differences=sum(p["differences"] for p in points),
            events_per_s=min(rates),
            cpu_us_per_event=max((p["cpu_us_per_event"] or 0) for p in points) or None,
            flatness=round(min(rates) / max(rates), 3),
            points=points,
            **marginal_bytes(points),
            **compacted_flatness(points),
            note=f"the same day per store at each store count (its opening count of all {plan.skus} skus, applied before "
            f"the rate window, then {plan.scale_events_per_store} events), 1 worker; events_per_s = the slowest point, "
            "cpu_us_per_event = the costliest, flatness = slowest / fastest",
        )
    ]


def marginal_bytes(points: list[dict]) -> dict:
    """RocksDB bytes per added key between successive points, as the worker left the files (a fixed part
    -- WAL, manifest, logs, empty partitions -- weighs on bytes/key at few keys); reported beside the
    compacted bytes per key, which the memory target is judged on."""
    steps = []
    for a, b in zip(points, points[1:]):
        keys = b["keys"] - a["keys"]
        if keys > 0:
            steps.append(round((b["rocksdb_bytes"] - a["rocksdb_bytes"]) / keys, 1))
    return {"marginal_bytes_per_key": steps} if steps else {}


def compacted_flatness(points: list[dict]) -> dict:
    per_key = [p["compacted_bytes_per_key"] for p in points if p.get("compacted_bytes_per_key")]
    if len(per_key) != len(points) or not per_key:
        return {}
    return {"compacted_bytes_per_key": per_key, "compacted_flatness": round(min(per_key) / max(per_key), 3)}
