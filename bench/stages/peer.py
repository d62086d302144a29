"""The peer: a minimal Quix Streams application (own process, own RocksDB state) keeping the same stock."""

from __future__ import annotations

from bench.context import Context
from bench.data import compare
from bench.procs import du_bytes, run_child
from bench.stages import exactness, result


def run(ctx: Context) -> list[dict]:
    data, settings = ctx.main_data()
    messages = len(data.messages)
    state_dir = ctx.root / "quix-state"
    out = run_child(
        "bench.children.quix_peer",
        [
            "--bootstrap",
            settings.kafka_bootstrap,
            "--topic",
            settings.events_topic,
            "--total",
            str(messages),
            "--state-dir",
            str(state_dir),
            "--window-days",
            str(settings.late_window_days),
        ],
        stage="peer-quix",
        total=messages,
        log_dir=ctx.log_dir,
        unit="msgs",
        timeout=ctx.plan.stage_timeout_s,
    )
    check = compare(data.expected, out.pop("stock"))
    rocksdb = du_bytes(state_dir)
    return [
        result(
            "peer-quix",
            kind="throughput",
            events=data.events,
            messages=messages,
            events_per_s=round(out["messages_per_s"] * data.events / messages, 1),
            messages_per_s=round(out["messages_per_s"], 1),
            seconds=round(out["seconds"], 3),
            rss_mb=round(out["process"]["hwm_kb"] / 1024, 1),
            cpu_us_per_event=round(out["cpu_s"] / data.events * 1e6, 1),
            rocksdb_bytes=rocksdb,
            rocksdb_bytes_per_key=round(rocksdb / max(1, len(data.expected)), 1),
            **exactness(check),
            note="quixstreams Application, sdf.update(stateful) calling domain.events.apply_event over its State "
            "(RocksDB + changelog, at-least-once, defaults); stock = each key's on-hand after its last update",
        )
    ]
