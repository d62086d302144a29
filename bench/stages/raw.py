"""The raw limit: a bare confluent-kafka producer writing the generated events, and a plain
confluent-kafka consume loop applying ``domain.events.apply_event`` to a dict (each in its own process)."""

from __future__ import annotations

from bench.context import Context
from bench.data import compare
from bench.procs import run_child
from bench.stages import exactness, result


def run(ctx: Context) -> list[dict]:
    data, settings = ctx.main_data()  # generates the events and runs the raw producer on them
    load = ctx.main_load
    messages = len(data.messages)
    consumed = run_child(
        "bench.children.raw_consumer",
        [
            "--bootstrap",
            settings.kafka_bootstrap,
            "--topic",
            settings.events_topic,
            "--partitions",
            str(settings.partitions),
            "--total",
            str(messages),
            "--window-days",
            str(settings.late_window_days),
        ],
        stage="raw-consumer",
        total=messages,
        log_dir=ctx.log_dir,
        unit="msgs",
        timeout=ctx.plan.stage_timeout_s,
    )
    check = compare(data.expected, consumed.pop("stock"))
    per_event = data.events / messages
    producer = result(
        "raw-producer",
        kind="throughput",
        events=data.events,
        messages=messages,
        events_per_s=round(load["messages_per_s"] * per_event, 1),
        messages_per_s=round(load["messages_per_s"], 1),
        seconds=round(load["seconds"], 3),
        rss_mb=round(load["process"]["hwm_kb"] / 1024, 1),
        cpu_us_per_event=round(load["cpu_s"] / data.events * 1e6, 1),
        **exactness(check),
        note="bare confluent-kafka Producer, the API's producer settings (idempotent, acks=all, lz4, linger 5 ms); "
        "its topic is read back by raw-consumer, whose stock check this row carries",
    )
    consumer = result(
        "raw-consumer",
        kind="throughput",
        events=data.events,
        messages=messages,
        events_per_s=round(consumed["messages_per_s"] * per_event, 1),
        messages_per_s=round(consumed["messages_per_s"], 1),
        seconds=round(consumed["seconds"], 3),
        rss_mb=round(consumed["process"]["hwm_kb"] / 1024, 1),
        cpu_us_per_event=round(consumed["cpu_s"] / data.events * 1e6, 1),
        **exactness(check),
        note="confluent-kafka consume loop: from_wire + domain.events.apply_event into a dict (no state store)",
    )
    return [producer, consumer]
