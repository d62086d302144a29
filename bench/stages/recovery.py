"""Recovery: a worker holding N (store, sku) keys is SIGKILLed and restarted, first on its intact data
dir, then on an empty one; how long until it serves correct lookups again each time.

The keys come from each store's opening stock count (a count line for every sku), followed by a
little generated traffic, all pre-loaded. Once the worker has applied everything it is killed at
once (no clean shutdown: its uncommitted tail is replayed) and restarted on the same data dir; a
random sample of keys is looked up on its stock page until every one answers the expected stock,
then every key is checked. Then it is killed again, its data dir (``worker-{port}``: every table's
RocksDB) deleted, as when a worker is rescheduled onto a fresh disk, and restarted: its tables are
rebuilt from the changelog topics; the same timings and checks. Both clocks start as the process is
started again (restart -> /health, restart -> every sampled key correct).
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import httpx

from bazaar_core.kafka.topics import stock_changelog
from bazaar_core.loadgen.generator import GenConfig, _milli
from bench import profile
from bench.context import Context
from bench.data import compare, generate, worker_stock
from bench.procs import StageError, Workers, cpu_s, du_bytes, high_watermarks, proc_status, rate
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
    worker_dir = workers.settings.model_copy(update={"worker_port": port}).worker_dir  # what `bazaar worker --port` uses
    sample = random.Random(plan.seed).sample(sorted(data.expected), min(SAMPLE, len(data.expected)))
    try:
        timing = workers.wait_applied(targets, stage="recovery-fill", total_events=data.events, timeout=plan.stage_timeout_s)
        before = proc_status(workers.pids()[0])
        on_disk = du_bytes(settings.data_dir)
        if not worker_dir.is_dir() or du_bytes(worker_dir) == 0:
            raise StageError(f"recovery: the worker's data dir {worker_dir} is missing or empty after the fill")
        spy_dir = ctx.root / "profiles" if ctx.profile else None
        intact = _restart(workers, port, data, sample, plan.stage_timeout_s, "intact")
        changelog = sum(high_watermarks(settings.kafka_bootstrap, stock_changelog(settings), settings.partitions).values())
        workers.kill(port)
        deleted = du_bytes(worker_dir)
        shutil.rmtree(worker_dir)
        if worker_dir.exists():
            raise StageError(f"recovery: {worker_dir} still exists after deleting it")
        empty = _restart(
            workers,
            port,
            data,
            sample,
            plan.stage_timeout_s,
            "empty",
            killed=True,
            spy_to=spy_dir / "recovery-empty.folded" if spy_dir else None,
        )
    finally:
        workers.stop()
    empty["cpu_us_per_changelog_record"] = round(empty["cpu_s"] / changelog * 1e6, 1) if changelog else None
    profiles = (
        [profile.summarize(spy_dir / "recovery-empty.folded", None)] if spy_dir and (spy_dir / "recovery-empty.folded").exists() else []
    )
    fill = rate(timing["messages"], data.events, timing)
    keys = len(data.expected)
    checks = [intact.pop("check"), empty.pop("check")]
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
            restart_to_health_s=intact["health_s"],
            restart_to_correct_s=intact["correct_s"],
            empty_restart_to_health_s=empty["health_s"],
            empty_restart_to_correct_s=empty["correct_s"],
            restarts=[intact, empty],
            stock_changelog_records=changelog,
            deleted_bytes=deleted,
            sample_keys=len(sample),
            rss_mb_before_kill=round(before["rss_kb"] / 1024, 1),
            peak_rss_mb_before_kill=round(before["hwm_kb"] / 1024, 1),
            rss_mb_after_recovery=intact["rss_mb_after"],
            rss_mb_after_empty_recovery=empty["rss_mb_after"],
            rocksdb_bytes=on_disk,
            rocksdb_bytes_per_key=round(on_disk / max(1, keys), 1),
            verify_s=round(intact["verify_s"] + empty["verify_s"], 2),
            **({"profile": profiles} if profiles else {}),
            **exactness(
                {
                    "exact": all(c["exact"] for c in checks),
                    "checked_keys": sum(c["checked_keys"] for c in checks),
                    "differences": sum(c["differences"] for c in checks),
                    "examples": [e for c in checks for e in c["examples"]][:5],
                }
            ),
            note=f"{plan.recovery_stores} stores x {plan.skus} skus from opening counts + traffic; SIGKILL right after the "
            f"last event was applied, restart on the intact data dir; then SIGKILL again, its data dir deleted, restart "
            f"(tables rebuilt from {changelog:,} stock changelog records); each time restart -> /health and -> "
            f"{len(sample)} sampled lookups all correct (worker stock page), then every key checked; events_per_s is the "
            "fill rate (count events of up to 200 lines)",
        )
    ]


def _restart(
    workers: Workers, port: int, data, sample: list[str], timeout: float, disk: str, killed: bool = False, spy_to: Path | None = None
) -> dict:
    """SIGKILL the worker (unless ``killed`` already), start it again, and time it until /health and until
    every sampled key is correct, with the CPU it used meanwhile (and py-spy's samples into ``spy_to``);
    then check every key."""
    if not killed:
        workers.kill(port)
    restarted = workers.restart(port)
    pid = workers.pids()[0]
    spy = profile.start(pid, spy_to) if spy_to is not None else None
    try:
        healthy_s, correct_s = _until_correct(workers, data.expected, sample, restarted, timeout)
        cpu = cpu_s(pid)  # the new process's own: from its start to the last sampled key correct
    finally:
        if spy is not None:
            profile.stop(spy)
    after = proc_status(pid)
    started = time.monotonic()
    check = compare(data.expected, worker_stock(workers.url(), data.stores, timeout=timeout, headers=workers.headers))
    return {
        "disk": disk,
        "health_s": healthy_s,
        "correct_s": correct_s,
        "cpu_s": round(cpu, 2),
        "cpu_share": round(cpu / correct_s, 2) if correct_s else None,
        "rss_mb_after": round(after["rss_kb"] / 1024, 1),
        "verify_s": round(time.monotonic() - started, 2),
        "exact": check["exact"],
        "checked_keys": check["checked_keys"],
        "differences": check["differences"],
        "check": check,
    }


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
