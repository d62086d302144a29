"""Taking the events Faust has already fetched for an agent, without awaiting: for agents that
work in batches (the stock agent, the ClickHouse sinks) instead of one event per loop turn of
Faust's stream, whose per-event hand-over costs more than the sinks' own work per message."""

from __future__ import annotations

from typing import Any

from bazaar_core.kafka.faust_fence import queue_has_errors


def take_fetched(app: Any, queue: Any, batch: list, limit: int) -> int:
    """Move the events waiting in an agent's ``queue`` (``stream.channel.queue``) into ``batch``
    (up to ``limit`` in all) without awaiting anything; returns how many. An agent must never wait
    for more events while it holds some unacknowledged: in a rebalance Faust stops handing events
    over (the stream skips the queued ones) and waits until every event it did hand over is
    acknowledged, so a held event would stall the group for good. Taken here as Faust's stream
    would take them: events fetched before the current rebalance generation are left alone
    (Faust's fetcher seeks back to the committed offsets while the flow is stopped); the rest are
    tracked as unacknowledged until the agent acks them."""
    if not app.flow_control.is_active():
        return 0
    generation = app.consumer_generation_id
    consumer = app.consumer
    unacked, on_message_in = consumer.unacked, app.sensors.on_message_in
    taken = 0
    while len(batch) < limit and not queue.empty() and not queue_has_errors(queue):
        event = queue.get_nowait()
        message = event.message
        if message.generation_id != generation:
            continue
        if not message.tracked:
            message.tracked = True
            unacked.add(message)
            on_message_in(message.tp, message.offset, message)
        batch.append(event)
        taken += 1
    return taken
