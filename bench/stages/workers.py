"""Shared by the stages that run ``bazaar worker`` on a pre-loaded topic: run, wait, measure, check."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bazaar_core.settings import Settings
from bench import profile
from bench.context import Context
from bench.data import Dataset, compare, worker_stock
from bench.procs import Workers, cpu_s, du_bytes, free_ports, high_watermarks, proc_status, rate
from bench.stages import exactness


@dataclass
class Warm:
    """A warm-up part of the data set (e.g. the stores' opening counts), the only part loaded when the
    workers start: they apply it, then ``load_rest`` writes the rest to the topic, and only the rest is
    timed (so start-up and the warm-up stay out of the rate, however short the rest is)."""

    messages: int
    events: int
    load_rest: Callable[[], dict]  # the producer's result: "seconds" from its first message to its last ack


def run_workers(
    ctx: Context, data: Dataset, settings: Settings, count: int, stage: str, warm: Warm | None = None, compact: bool = False
) -> dict:
    """Start ``count`` workers on an already loaded topic; time them until every partition is applied;
    memory, RocksDB bytes per key and the exactness check of every key. Returns result fields.
    ``compact``: also the RocksDB data's bytes per key once flushed and compacted (see ``compacted_bytes``)."""

    def last_offsets() -> dict[int, int]:
        return {p: hw - 1 for p, hw in high_watermarks(settings.kafka_bootstrap, settings.events_topic, settings.partitions).items()}

    targets = last_offsets()
    workers = Workers(settings, free_ports(count), ctx.log_dir).start()
    spies: list = []

    def sample() -> None:  # from the moment the applying window opens (start-up left out)
        if getattr(ctx, "profile", False):
            spies.extend((pid, profile.start(pid, ctx.root / "profiles" / f"{stage}-{pid}.folded")) for pid in workers.pids())

    try:
        if warm:  # the window: from writing the rest (the workers idle, warm-up applied) to all applied
            warm_s = workers.wait_applied(targets, stage=f"{stage} warm-up", total_events=warm.events, timeout=ctx.plan.stage_timeout_s)[
                "done_s"
            ]
            sample()
            cpu_opened = sum(cpu_s(pid) for pid in workers.pids())
            produced = warm.load_rest()
            opened = time.monotonic() - produced["seconds"]  # the producer's connecting left out
            targets = last_offsets()
        timing = workers.wait_applied(
            targets,
            stage=stage,
            total_events=data.events,
            timeout=ctx.plan.stage_timeout_s,
            on_window=None if warm else sample,
            poll_s=0.02 if warm else 0.2,
        )
        for _pid, spy in spies:
            profile.stop(spy)
        memory = [proc_status(pid) for pid in workers.pids()]
        batches = batch_stats([workers.url(port) for port in workers.ports], workers.headers)
        core = worker_core(workers.url(workers.ports[0]), workers.headers)
        started = time.monotonic()
        check = compare(data.expected, worker_stock(workers.url(), data.stores, headers=workers.headers))
        verify_s = time.monotonic() - started
    finally:
        for _pid, spy in spies:
            profile.stop(spy)
        workers.stop()
    on_disk = du_bytes(settings.data_dir)
    compacted = compacted_bytes(settings.data_dir) if compact else None
    if warm:  # the rest's rate, from the moment its writing began
        window = workers.started_at + timing["done_s"] - opened
        cpu = timing["cpu_total_s"] - cpu_opened
        measured = rate(
            timing["messages"] - warm.messages,
            data.events - warm.events,
            {"apply_s": window, "done_s": window, "first_done": 0, "cpu_window_s": cpu, "cpu_total_s": cpu},
        )
        measured.update(
            warm_s=round(warm_s, 3),
            wall_s=round(timing["done_s"], 3),
            window="from writing the events after the warm-up to the last applied",
        )
    else:
        measured = rate(timing["messages"], data.events, timing)
    profiles = [
        profile.summarize(ctx.root / "profiles" / f"{stage}-{pid}.folded", measured["cpu_us_per_event"] if count == 1 else None)
        for pid, _spy in spies
        if (ctx.root / "profiles" / f"{stage}-{pid}.folded").exists()
    ]
    return {
        "events": data.events,
        "messages": timing["messages"],
        **measured,
        "startup_s": round(timing["first_s"], 3),
        "workers": count,
        **({"core": core} if core else {}),
        "rss_mb": round(sum(m["rss_kb"] for m in memory) / 1024, 1),
        "rss_mb_each": [round(m["rss_kb"] / 1024, 1) for m in memory],
        "peak_rss_mb_each": [round(m["hwm_kb"] / 1024, 1) for m in memory],
        "keys": len(data.expected),
        "rocksdb_bytes": on_disk,
        "rocksdb_bytes_per_key": round(on_disk / max(1, len(data.expected)), 1),
        **(
            {"compacted_sst_bytes": compacted, "compacted_bytes_per_key": round(compacted / max(1, len(data.expected)), 1)}
            if compacted is not None
            else {}
        ),
        "verify_s": round(verify_s, 2),
        **batches,
        **exactness(check),
        **({"profile": profiles} if profiles else {}),
    }


def batch_stats(urls: list[str], headers: dict[str, str]) -> dict:
    """Mean events and keys per batch of the stock agent, and alert transitions and keys gone
    negative per event (what makes an event dearer), from the workers' /metrics."""
    import httpx

    sums: dict[str, float] = {}
    for url in urls:
        try:
            text = httpx.get(f"{url}/metrics", timeout=5, headers=headers).text
        except httpx.HTTPError:
            continue
        for line in text.splitlines():
            for name in (
                "bazaar_stream_batch_events_sum",
                "bazaar_stream_batch_events_count",
                "bazaar_stream_batch_keys_sum",
                "bazaar_stream_alerts_total",
                "bazaar_stream_negative_stock_total",
                "bazaar_stream_core_fallback_total",
            ):
                if line.startswith((name + " ", name + "{")):
                    sums[name] = sums.get(name, 0.0) + float(line.split()[-1])
    count = sums.get("bazaar_stream_batch_events_count", 0.0)
    if not count:
        return {}
    events = sums["bazaar_stream_batch_events_sum"]
    return {
        "batches": int(count),
        "events_per_batch": round(events / count, 1),
        "keys_per_batch": round(sums.get("bazaar_stream_batch_keys_sum", 0.0) / count, 1),
        "alerts_per_event": round(sums.get("bazaar_stream_alerts_total", 0.0) / max(1.0, events), 3),
        "negative_per_event": round(sums.get("bazaar_stream_negative_stock_total", 0.0) / max(1.0, events), 3),
        "core_fallback_batches": int(sums.get("bazaar_stream_core_fallback_total", 0.0)),  # left to the Python rules
    }


def worker_core(url: str, headers: dict[str, str]) -> str | None:
    """Which way the worker applies batches (``/status``: rust or python, streams/core.py)."""
    import httpx

    try:
        return httpx.get(f"{url}/status", timeout=5, headers=headers).json().get("core")
    except (httpx.HTTPError, ValueError):
        return None


def compacted_bytes(data_dir: Path) -> int:
    """Bytes of the RocksDB data under ``data_dir`` (the workers stopped) once each database is flushed
    and fully compacted: the SST files alone, what the keys cost on disk in the long run. As the
    workers leave them, the files are mostly write-ahead log while the memtables (64 MB per partition)
    are not full, which makes bytes per key depend on when RocksDB last flushed."""
    import rocksdict

    total = 0
    for current in sorted(data_dir.rglob("CURRENT")):
        path = current.parent
        db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
        try:
            db.flush(True)
            db.compact_range(None, None)
        finally:
            db.close()
        total += sum(f.stat().st_size for f in path.glob("*.sst"))
    return total
