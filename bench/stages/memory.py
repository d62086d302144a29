"""Memory: resident memory per process (VmRSS/VmHWM from /proc, psutil not needed) and RocksDB bytes
per key, gathered from the stages that ran, plus the broker's RSS now."""

from __future__ import annotations

from bench.context import Context
from bench.procs import proc_status
from bench.stages import result

SOURCES = (
    "raw-producer",
    "raw-consumer",
    "peer-quix",
    "stream-1-worker",
    "stream-2-workers",
    "api-ingest",
    "end-to-end",
    "recovery",
    "scale",
)


def run(ctx: Context) -> list[dict]:
    r = ctx.results
    broker = ctx.broker.pid
    rows: list[dict] = []

    def add(process: str, stage: str, rss_mb, keys=None, rocksdb_bytes_per_key=None) -> None:
        rows.append({"process": process, "stage": stage, "rss_mb": rss_mb, "keys": keys, "rocksdb_bytes_per_key": rocksdb_bytes_per_key})

    if broker:
        add("kafka broker (java, -Xmx" + ctx.base.kafka_heap + ")", "whole run", round(proc_status(broker)["rss_kb"] / 1024, 1))
    for name, label in (("raw-producer", "raw producer (peak)"), ("raw-consumer", "raw consume loop (peak)")):
        if name in r:
            add(label, name, r[name].get("rss_mb"))
    if "peer-quix" in r:
        add(
            "quix peer (peak)",
            "peer-quix",
            r["peer-quix"].get("rss_mb"),
            len(ctx.main.expected) if ctx.main else None,
            r["peer-quix"].get("rocksdb_bytes_per_key"),
        )
    for name in ("stream-1-worker", "stream-2-workers"):
        if name in r:
            add(
                f"worker x{r[name]['workers']}", name, r[name].get("rss_mb_each"), r[name].get("keys"), r[name].get("rocksdb_bytes_per_key")
            )
    if "api-ingest" in r:
        add("api", "api-ingest + end-to-end (peak)", r["api-ingest"]["peak_rss_mb"]["api"])
        add("worker behind the api", "api-ingest + end-to-end (peak)", r["api-ingest"]["peak_rss_mb"]["worker"])
    if "recovery" in r:
        add(
            "worker before SIGKILL",
            "recovery",
            r["recovery"].get("rss_mb_before_kill"),
            r["recovery"].get("keys"),
            r["recovery"].get("rocksdb_bytes_per_key"),
        )
        add("worker after recovery", "recovery", r["recovery"].get("rss_mb_after_recovery"), r["recovery"].get("keys"))
    for point in r.get("scale", {}).get("points", []):
        add(f"worker, {point['stores']} stores", "scale", point.get("rss_mb"), point.get("keys"), point.get("rocksdb_bytes_per_key"))
    used = [r[n] for n in SOURCES if n in r]
    exact = bool(used) and all(s.get("exact") for s in used)
    return [
        result("memory", kind="memory", exact=exact, rows=rows, note="exact: every stage these figures come from passed its stock check")
    ]
