"""Our stream stage alone: the main data set pre-loaded on a fresh topic, then 1 (and separately 2)
``bazaar worker`` processes, timed until ``/status`` shows every partition applied to its high watermark."""

from __future__ import annotations

from bench.context import Context
from bench.stages import result
from bench.stages.workers import run_workers


def run(ctx: Context) -> list[dict]:
    data, _ = ctx.main_data()
    out = []
    for count in (1, 2):
        name = "stream-1-worker" if count == 1 else "stream-2-workers"
        settings = ctx.settings(f"bench-stream{count}")  # fresh topic prefix, app id and data dir
        ctx.preload(data, settings, f"{name}-load")
        fields = run_workers(ctx, data, settings, count, name)
        out.append(
            result(
                name,
                kind="throughput",
                **fields,
                note=f"{count} worker process(es) on a fresh pre-loaded topic; rate window: {fields['window']} "
                f"(start-up + first rebalance {fields['startup_s']} s); every key checked on the workers' stock pages",
            )
        )
    return out
