"""The peer: a minimal Quix Streams application (own process, own RocksDB state) keeping the same
stock, three ways (``bench.children.quix_peer``): on Quix's defaults (``peer-quix``, what a user
gets), checkpointing once per our worker's batch (``peer-quix-like``), and that doing our worker's
whole work per message (``peer-quix-work``: sale book, alert rules, a ledger entry per change and
the alerts, sent through its producer). The stream stage's targets are against the last two."""

from __future__ import annotations

from bench.context import Context
from bench.data import compare
from bench.procs import du_bytes, run_child
from bench.stages import exactness, result

NOTES = {
    "peer-quix": "Quix defaults (what a user gets): sdf.update(stateful) calling domain.events.apply_event over its "
    "State (RocksDB + changelog, at-least-once); a checkpoint (state, changelog, offsets) every 5 s",
    "peer-quix-like": "the same, a checkpoint every {every} messages (commit_every): our worker writes its state and "
    "changelog once per batch of up to {every} (stream_batch_max), full under this backlog",
    "peer-quix-work": "peer-quix-like doing our worker's work per message: domain.batch.Applier (sale book, alert "
    "rules, a ledger entry per change, the alerts raised) over its State, the records sent through its producer "
    "(flushed by each checkpoint)",
}
CLOCK = "; clock from its first message to the end of its last checkpoint commit"


def run(ctx: Context) -> list[dict]:
    data, settings = ctx.main_data()
    every = settings.stream_batch_max
    out = []
    for name, variant in (("peer-quix", "default"), ("peer-quix-like", "like"), ("peer-quix-work", "work")):
        args = ["--variant", variant, "--commit-every", str(every)]
        if variant == "work":  # topics of its own for the records it sends (the stream stage's are its own too)
            outputs = ctx.settings("bench-peerwork")
            ctx.ensure_topics(outputs)
            args += ["--ledger-topic", outputs.ledger_topic, "--alerts-topic", outputs.alerts_topic]
        out.append(_one(ctx, name, args, NOTES[name].format(every=every) + CLOCK))
    return out


def _one(ctx: Context, name: str, extra: list[str], note: str) -> dict:
    data, settings = ctx.main_data()
    messages = len(data.messages)
    state_dir = ctx.root / f"{name}-state"
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
            *extra,
        ],
        stage=name,
        total=messages,
        log_dir=ctx.log_dir,
        unit="msgs",
        timeout=ctx.plan.stage_timeout_s,
    )
    check = compare(data.expected, out.pop("stock"))
    rocksdb = du_bytes(state_dir)
    return result(
        name,
        kind="throughput",
        variant=out["variant"],
        events=data.events,
        messages=messages,
        events_per_s=round(out["messages_per_s"] * data.events / messages, 1),
        messages_per_s=round(out["messages_per_s"], 1),
        seconds=round(out["seconds"], 3),
        rss_mb=round(out["process"]["hwm_kb"] / 1024, 1),
        cpu_us_per_event=round(out["cpu_s"] / data.events * 1e6, 1),
        commits=out["commits"],
        commit_every=out["commit_every"],
        seconds_per_commit=round(out["seconds"] / max(1, out["commits"]), 3),
        output_records=out["records"],
        output_records_per_message=round(out["records"] / messages, 2),
        rocksdb_bytes=rocksdb,
        rocksdb_bytes_per_key=round(rocksdb / max(1, len(data.expected)), 1),
        **exactness(check),
        note=note,
    )
