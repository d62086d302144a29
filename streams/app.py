"""The Faust app, its topics and its tables, built from Settings in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.types import TableT

from bazaar_core.kafka import faust_fence
from bazaar_core.kafka.config import faust_broker
from bazaar_core.kafka.outbox import Outbox
from bazaar_core.settings import Settings
from streams import core
from streams.catalog import CatalogCache
from streams.progress import Progress


@dataclass
class Pipeline:
    settings: Settings
    app: faust.App
    events: faust.TopicT  # POS events keyed by store_id (and transfer in-legs keyed by the receiving store)
    ledger: faust.TopicT  # what each applied event leg did, per sku (schemas/ledger.py), keyed by store_id
    stock: TableT  # "store|sku" -> encoded StockState, in RocksDB (rocksdict), changelog-backed
    progress: Progress
    alerts: faust.TopicT  # schemas/alerts.py messages raised by the stock agent, keyed by store_id
    catalog: CatalogCache  # follows the compacted catalog topics
    outbox: Outbox  # the stock agent's writes (changelog, ledger, alerts), acked per batch
    core: Any = None  # the compiled batch core's module (streams/core.py), None: the Python rules alone


class _QuietMonitor(Monitor):
    """Faust's Monitor sensor without its per-message and per-event bookkeeping (timings and
    counters per stream, task and table that nothing here reads: the worker's metrics are
    Prometheus). Commit, send and rebalance hooks stay."""

    def on_message_in(self, tp, offset, message) -> None:
        pass

    def on_stream_event_in(self, tp, offset, stream, event):
        return None

    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        pass

    def on_message_out(self, tp, offset, message) -> None:
        pass

    def on_table_get(self, table, key) -> None:
        pass

    def on_table_set(self, table, key, value) -> None:
        pass


def make_app(settings: Settings) -> faust.App:
    url = f"http://{settings.worker_advertised_host or settings.worker_host}:{settings.worker_port}"
    return faust.App(
        settings.group_id,
        **faust_broker(settings),
        store="rocksdb://",
        datadir=str(settings.worker_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=settings.standby_replicas,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # a SIGKILLed worker's partitions move on after this, not Faust's default minute
        broker_session_timeout=settings.session_timeout_s,
        # Static membership: a restarted worker (same host and port, e.g. a StatefulSet pod) takes its
        # partitions straight back instead of waiting out its dead predecessor's session.
        consumer_group_instance_id=f"{settings.group_id}-{settings.worker_advertised_host or settings.worker_host}-{settings.worker_port}",
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 3),
        stream_buffer_maxsize=settings.stream_buffer_max,
        broker_max_poll_records=settings.stream_fetch_max,
        web_enabled=True,
        # Faust's own /router and /table pages are off: no token guards them, and /table gives any
        # key of any table (any store's stock) to whoever asks. Ours are streams/web.py's PAGES.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_host=settings.worker_host,
        web_bind=settings.worker_host,  # Faust binds all interfaces unless told
        web_port=settings.worker_port,
        canonical_url=url,
        autodiscover=False,
        monitor=_QuietMonitor(),
    )


def build(settings: Settings) -> Pipeline:
    faust_fence.apply({settings.events_topic})
    faust_fence.limit_fetch_wait(settings.stream_fetch_wait_ms, settings.stream_fetch_min_bytes)
    faust_fence.fast_lz4()
    faust_fence.fast_recovery()
    app = make_app(settings)
    events = app.topic(
        settings.events_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    ledger = app.topic(
        settings.ledger_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    stock = app.Table(
        "stock",
        default=None,
        key_type=bytes,  # bytes in and out: Faust picks the raw codec for both
        value_type=bytes,
        partitions=settings.partitions,
        options={"driver": "rocksdict", **rocksdb_options(settings)},
    )

    def committed(partition: int) -> int | None:
        from faust.types import TP

        return faust_fence.committed_offset(app.consumer, TP(settings.events_topic, partition))

    alerts = app.topic(
        settings.alerts_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    catalog = CatalogCache(settings)
    outbox = Outbox(settings)
    return Pipeline(settings, app, events, ledger, stock, Progress(committed), alerts, catalog, outbox, core.load(settings))


def on_any_rebalance(app: faust.App, handler) -> None:
    """Call ``handler()`` on every rebalance signal (partitions revoked, assigned, rebalance complete):
    for what must not outlive an assignment (partitions may have moved)."""

    async def receiver(*args, **kwargs) -> None:  # noqa: ARG001
        handler()

    for signal in (app.on_partitions_revoked, app.on_partitions_assigned, app.on_rebalance_complete):
        signal.connect(receiver)


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """The stock table's RocksDB memory limits (per partition database), as Faust's RocksDBOptions takes them."""
    mb = 1 << 20
    return {
        "write_buffer_size": settings.stream_rocksdb_write_buffer_mb * mb,
        "max_write_buffer_number": settings.stream_rocksdb_write_buffers,
        "block_cache_size": settings.stream_rocksdb_block_cache_mb * mb,
    }
