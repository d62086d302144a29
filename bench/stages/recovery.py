"""Recovery: a worker holding N (store, sku) keys is SIGKILLed and restarted; how long until it serves
correct lookups again.

The keys come from each store's opening stock count (a count line for every sku), followed by a
little generated traffic, all pre-loaded. Once the worker has applied everything it is killed at
once (no clean shutdown: its uncommitted tail is replayed), restarted on the same data dir, and a
random sample of keys is looked up on its stock page until every one answers the expected stock.
Then every key is checked.
"""

from __future__ import annotations

import random
import time

import httpx

from bazaar_core.loadgen.generator import GenConfig, _milli
from bench.context import Context
from bench.data import compare, generate, worker_stock
from bench.procs import StageError, Workers, du_bytes, high_watermarks, proc_status, rate
from bench.stages import exactness, result

SAMPLE = 200


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    data = generate(
        "recovery",
        GenConfig(stores=plan.recovery_stores, events_per_store_day=plan.recovery_events_per_store, skus=plan.skus, seed=plan.seed + 2),
    )
    settings = ctx.settings("bench-recovery")
    load = ctx.preload(data, settings, "recovery-load")
    targets = {p: hw - 1 for p, hw in high_watermarks(settings.kafka_bootstrap, settings.events_topic, settings.partitions).items()}
    port = settings.worker_port
    workers = Workers(settings, [port], ctx.log_dir).start()
    sample = random.Random(plan.seed).sample(sorted(data.expected), min(SAMPLE, len(data.expected)))
    try:
        timing = workers.wait_applied(targets, stage="recovery-fill", total_events=data.events, timeout=plan.stage_timeout_s)
        before = proc_status(workers.pids()[0])
        on_disk = du_bytes(settings.data_dir)
        workers.kill(port)
        restarted = workers.restart(port)
        healthy_s, correct_s = _until_correct(workers, data.expected, sample, restarted, plan.stage_timeout_s)
        after = proc_status(workers.pids()[0])
        started = time.monotonic()
        check = compare(data.expected, worker_stock(workers.url(), data.stores, timeout=plan.stage_timeout_s, headers=workers.headers))
        verify_s = round(time.monotonic() - started, 2)
    finally:
        workers.stop()
    fill = rate(timing["messages"], data.events, timing)
    keys = len(data.expected)
    return [
        result(
            "recovery",
            kind="recovery",
            keys=keys,
            events=data.events,
            messages=timing["messages"],
            events_per_s=fill["events_per_s"],
            key_writes_per_s=round(fill["events_per_s"] * _key_ops(data) / data.events, 1),
            fill_s=fill["apply_s"],
            load_messages_per_s=round(load["messages_per_s"], 1),
            fill_cpu_us_per_event=fill["cpu_us_per_event"],
            fill_cpu_us_per_key_write=round(fill["cpu_us_per_event"] * data.events / _key_ops(data), 1)
            if fill["cpu_us_per_event"]
            else None,
            restart_to_health_s=healthy_s,
            restart_to_correct_s=correct_s,
            sample_keys=len(sample),
            rss_mb_before_kill=round(before["rss_kb"] / 1024, 1),
            peak_rss_mb_before_kill=round(before["hwm_kb"] / 1024, 1),
            rss_mb_after_recovery=round(after["rss_kb"] / 1024, 1),
            rocksdb_bytes=on_disk,
            rocksdb_bytes_per_key=round(on_disk / max(1, keys), 1),
            verify_s=verify_s,
            **exactness(check),
            note=f"{plan.recovery_stores} stores x {plan.skus} skus from opening counts + traffic; SIGKILL right after the "
            f"last event was applied; restart -> {len(sample)} sampled lookups all correct (worker stock page); "
            f"events_per_s is the fill rate (count events of up to 200 lines)",
        )
    ]


def _key_ops(data) -> int:
    return sum(len(b["lines"]) * (2 if b["type"] == "transfer" else 1) for b in data.bodies)


def _until_correct(
    workers: Workers, expected: dict[str, int], sample: list[str], restarted: float, timeout: float
) -> tuple[float | None, float]:
    """Seconds from restart to /health 200, and to every sampled key answering its expected stock."""
    pending = list(sample)
    healthy_s = None
    deadline = restarted + timeout
    with httpx.Client(base_url=workers.url(), timeout=5, headers=workers.headers) as http:
        while pending:
            if time.monotonic() > deadline:
                raise StageError(f"recovery: {len(pending)} of {len(sample)} sampled keys not correct after {timeout:.0f} s")
            workers.check_alive()
            if healthy_s is None:
                try:
                    if http.get("/health").status_code == 200:
                        healthy_s = round(time.monotonic() - restarted, 3)
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
            while pending:  # confirmed keys leave the list; the first wrong answer ends this round
                store, sku = pending[-1].split("|", 1)
                try:
                    resp = http.get(f"/stock/{store}/{sku}")
                    ok = resp.status_code == 200 and _milli(resp.json()["on_hand"]) == expected[pending[-1]]
                except (httpx.HTTPError, ValueError, KeyError):
                    ok = False
                if not ok:
                    break
                pending.pop()
            if pending:
                time.sleep(0.05)
    return healthy_s, round(time.monotonic() - restarted, 3)
