"""``Outbox``: what one batch of the stock agent writes to Kafka, sent with confluent-kafka and
awaited as a whole before the batch's source events are acknowledged.

The stock agent writes three kinds of records per batch: the stock table's changelog (one per key
the batch touched), the ledger (one per applied event leg) and alerts (one per transition). Faust's
own producer (aiokafka, pure Python) costs more CPU per record than the rest of the agent together;
librdkafka batches and compresses them in C. Every record of a batch goes to an explicit partition
(the source event's: all these topics are co-partitioned with the events topic), and the batch is
acknowledged only after the broker acked all of them, so a committed source offset never runs
ahead of its outputs (at-least-once; the outputs of a replayed event are identical).

Changelog offsets acked by the broker are handed back (``persisted``) so the table's RocksDB
remembers how far its changelog is already applied, as Faust's own changelog callback does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException

from bazaar_core.kafka.config import producer_config, timeout_ms
from bazaar_core.kafka.writer import PolledProducer
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.streams.outbox")


class DeliveryFailed(RuntimeError):
    """The broker did not take a record of the batch (after librdkafka's own retries)."""


class _Batch:
    """Counts of one batch's records; delivery reports arrive on the poll thread while the loop
    may still be sending, so the batch is done only once it is closed and every record is acked."""

    __slots__ = ("sent", "acked", "closed", "future", "loop", "error", "offsets", "lock", "on_record", "on_changelog")
    on_record: Callable[[Any, Any], None]  # delivery callbacks, set by Outbox.begin
    on_changelog: Callable[[Any, Any], None]

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sent = 0
        self.acked = 0
        self.closed = False
        self.lock = threading.Lock()
        self.loop = loop
        self.future: asyncio.Future = loop.create_future()
        self.error: str | None = None
        self.offsets: dict[int, int] = {}  # changelog partition -> highest acked offset


class Outbox(PolledProducer):
    _thread_name = "outbox-poll"
    _poll_s = 0.05

    def __init__(self, settings: Settings, linger_ms: float = 1.0) -> None:
        overrides = {
            "linger.ms": linger_ms,  # a batch waits for every ack of its records: send them at once
            "message.timeout.ms": timeout_ms(settings.stream_produce_timeout_s),  # then the worker crashes and replays
            "queue.buffering.max.messages": 1_000_000,  # a whole batch's changelog, ledger and alerts, queued at once
        }
        super().__init__(producer_config(settings, overrides))
        self._batch: _Batch | None = None

    # ---- one batch -----------------------------------------------------------------------------

    def begin(self) -> None:
        batch = self._batch = _Batch(asyncio.get_running_loop())
        batch.on_record = self._on_record(batch)
        batch.on_changelog = self._on_changelog(batch)

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None, changelog: bool = False) -> None:
        batch = self._batch
        assert batch is not None and self._producer is not None, "begin() first"
        callback = batch.on_changelog if changelog else batch.on_record
        # Only this (the loop's) thread writes ``sent``, and the poll thread reads it only once the
        # batch is closed (under the lock, in ``seal``): no lock per record.
        batch.sent += 1
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, partition=partition, on_delivery=callback)
                return
            except BufferError:  # the local queue is full: let the poll thread drain it
                self._producer.poll(0.05)
            except KafkaException as exc:
                batch.sent -= 1
                raise DeliveryFailed(str(exc)) from exc

    def seal(self) -> _Batch:
        """End the current batch (nothing more is sent to it); wait for it with ``acked``."""
        batch, self._batch = self._batch, None
        assert batch is not None, "begin() first"
        with batch.lock:
            batch.closed = True
            if batch.acked == batch.sent:
                _resolve(batch.future)
        return batch

    @staticmethod
    async def acked(batch: _Batch, persisted: Callable[[int, int], None] | None = None) -> int:
        """Wait until the broker acked every record of a sealed batch; raise ``DeliveryFailed`` if one
        was refused. ``persisted(partition, offset)`` gets the highest acked changelog offset per
        partition. Returns how many changelog partitions the batch wrote."""
        await batch.future
        if batch.error is not None:
            raise DeliveryFailed(batch.error)
        if persisted is not None:
            for partition, offset in batch.offsets.items():
                persisted(partition, offset)
        return len(batch.offsets)

    # ---- delivery reports (on the poll thread) ---------------------------------------------------

    def _on_record(self, batch: _Batch):
        def done(err, msg) -> None:
            self._delivered(batch, err)

        return done

    def _on_changelog(self, batch: _Batch):
        def done(err, msg) -> None:
            if err is None:
                partition, offset = msg.partition(), msg.offset()
                with batch.lock:
                    if offset > batch.offsets.get(partition, -1):
                        batch.offsets[partition] = offset
            self._delivered(batch, err)

        return done

    def _delivered(self, batch: _Batch, err) -> None:
        with batch.lock:
            if err is not None and batch.error is None:
                batch.error = err.str()
            batch.acked += 1
            done = batch.closed and batch.acked == batch.sent
        if done:
            batch.loop.call_soon_threadsafe(_resolve, batch.future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
