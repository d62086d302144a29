"""The analytics process's Faust app (``bazaar analytics``): its own consumer group reading the
ledger and catalog topics into ClickHouse, and its web port serving reports, health and metrics.

It is a separate process from the stream workers, so ClickHouse being slow or down never stops
stock processing; it is the only process that opens the analytics database (chDB allows one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import faust

from bazaar_core.kafka import faust_fence
from bazaar_core.kafka.config import faust_broker
from bazaar_core.kafka.writer import RecordWriter
from bazaar_core.settings import Settings
from clickhouse import metrics
from clickhouse.client import Database
from clickhouse.rows import (
    LEDGER_COLUMNS,
    PRODUCT_COLUMNS,
    STORE_COLUMNS,
    STORE_PRODUCT_COLUMNS,
    ledger_rows,
    product_rows,
    store_product_rows,
    store_rows,
)
from clickhouse.sink import Sink, TableSpec
from domain import probes
from schemas.deadletters import DeadLetter

DEAD_LETTER_TIMEOUT_S = 30.0  # one attempt to get the broker's ack for a batch's dead letters
LAG_FRESH_S = 10.0  # a lag measured longer ago than this is not known (agents.analytics measures it every second)


class DeadLettersNotWritten(RuntimeError):
    pass


class DeadLetterTopic:
    """The sinks' way onto the dead-letter topic: this process's own producer (idempotent, acks=all);
    a call returns once the broker acknowledged every letter, and raises otherwise (the sink retries)."""

    def __init__(self, settings: Settings, timeout_s: float = DEAD_LETTER_TIMEOUT_S) -> None:
        self.topic = settings.dead_letters_topic
        self.writer = RecordWriter(settings, timeout_s)

    def start(self) -> DeadLetterTopic:
        self.writer.start()
        return self

    def close(self) -> None:
        self.writer.close()

    async def __call__(self, letters: list[DeadLetter]) -> None:
        # the topic has one partition, so every letter lands on partition 0
        written = await self.writer.write_many([(self.topic, d.id.encode(), d.to_bytes()) for d in letters])
        failed = [w.error for w in written if not w.ok]
        if failed:
            raise DeadLettersNotWritten(f"{len(failed)} of {len(letters)} dead letters not acknowledged: {failed[0]}")


@dataclass
class Feed:
    """One topic flowing into one table."""

    topic: faust.TopicT
    sink: Sink
    # The topic keeps its whole history uncompacted (the ledger), so a hole in its offsets is a
    # message Faust skipped in a rebalance: read from the broker (``GapGuard``) and never committed past.
    contiguous: bool = False
    next_offset: dict[int, int] = field(default_factory=dict)  # partition -> next offset to consume
    lag: int = 0
    measured_at: float | None = None  # monotonic: when ``lag`` was last known over assigned partitions
    moved_at: float = field(default_factory=time.monotonic)  # when the agent last took messages, or had none to take

    @property
    def backlog(self) -> int:
        return self.sink.pending + self.lag

    def probe(self, now: float) -> probes.Feed:
        """This feed as the probes judge it (``clickhouse.web``)."""
        state = self.sink.state
        return probes.Feed(
            self.sink.table,
            self.backlog if self.measured_at is not None else None,
            None if self.measured_at is None else now - self.measured_at,
            now - self.moved_at,
            waiting=state.unreachable is not None or state.dead_letter_error is not None,
        )


@dataclass
class AnalyticsPipeline:
    settings: Settings
    app: faust.App
    sink_db: Database  # used by the sinks only (the fault switch applies here)
    report_db: Database  # used by report queries and status pages
    feeds: list[Feed]
    dead_letters: DeadLetterTopic | None = None

    @property
    def ledger(self) -> Feed:
        return self.feeds[0]

    async def refresh_lag(self) -> None:
        """Consumer lag per feed: high watermark - next offset to consume, over assigned partitions.
        A feed's lag counts as measured only when it has partitions assigned and the broker has told
        the high watermark of each (none is known before the first fetch)."""
        consumer = self.app.consumer
        assigned = list(consumer.assignment())
        highwaters = await consumer.highwaters(*assigned) if assigned else {}
        now = time.monotonic()
        for feed in self.feeds:
            lag, known = 0, None
            for tp in assigned:
                if tp.topic != feed.topic.get_topic_name():
                    continue
                position = feed.next_offset.get(tp.partition)
                if position is None:
                    position = faust_fence.committed_offset(consumer, tp) or 0  # the next offset to read
                high = highwaters.get(tp)
                known = (known is not False) and high is not None
                lag += max(0, (high or 0) - position)
            feed.lag = lag
            if known:
                feed.measured_at = now
                if feed.backlog == 0:  # nothing to do is not being stuck: idle counts from when work came
                    feed.moved_at = now
            metrics.LAG.labels(feed.sink.table).set(lag)
            metrics.BACKLOG.labels(feed.sink.table).set(feed.backlog)


def app_id(settings: Settings) -> str:
    return settings.analytics_group


def data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "analytics"


def make_app(settings: Settings) -> faust.App:
    return faust.App(
        app_id(settings),
        **faust_broker(settings),
        store="memory://",  # no tables: ClickHouse is the state
        datadir=str(data_dir(settings)),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        producer_acks=-1,  # (Faust's default, said here as for the workers: every in-sync replica)
        consumer_auto_offset_reset="earliest",  # a new database is rebuilt from the whole ledger
        # On stop or rebalance, do not wait for unacked messages: while ClickHouse is down they never
        # ack, and only acked (inserted) offsets are committed anyway; the rest is read again.
        stream_wait_empty=False,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 3),
        web_enabled=True,
        # Faust's own /router and /table pages are off: no token guards them, and /table gives any
        # key of any table (any store's stock) to whoever asks. Ours are clickhouse/web.py's PAGES.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_host=settings.analytics_bind,
        web_bind=settings.analytics_bind,  # Faust binds all interfaces unless told
        web_port=settings.analytics_port,
        autodiscover=False,
    )


def build(settings: Settings, sink_db: Database, report_db: Database) -> AnalyticsPipeline:
    # Faust's commits (never past an unacked ledger offset) and its per-message hand-over, as corrected
    # for the workers; the catalog topics are compacted (holes in their offsets are normal) and idle
    faust_fence.apply({settings.ledger_topic})
    faust_fence.limit_fetch_wait(settings.stream_fetch_wait_ms)  # (see faust_fence)
    faust_fence.fast_lz4()
    app = make_app(settings)

    def topic(name: str, partitions: int) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", partitions=partitions)

    dead_letters = DeadLetterTopic(settings).start()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's stub wants a `signal` keyword; **kwargs takes it
    async def close_dead_letters(app, **kwargs) -> None:
        dead_letters.close()

    def feed(topic_name: str, partitions: int, table: str, columns: tuple[str, ...], convert, ledger: bool = False) -> Feed:
        sink = Sink(
            sink_db,
            TableSpec(table, columns, convert, stamps_token=ledger),
            settings.analytics_batch_max,
            settings.analytics_batch_seconds,
            topic=topic_name,
            dead_letters=dead_letters,
        )
        return Feed(topic(topic_name, partitions), sink, contiguous=ledger)

    feeds = [
        feed(settings.ledger_topic, settings.partitions, "ledger", LEDGER_COLUMNS, ledger_rows, ledger=True),
        feed(settings.stores_topic, 1, "stores", STORE_COLUMNS, store_rows),
        feed(settings.products_topic, 1, "products", PRODUCT_COLUMNS, product_rows),
        feed(settings.store_products_topic, 1, "store_products", STORE_PRODUCT_COLUMNS, store_product_rows),
    ]
    return AnalyticsPipeline(settings, app, sink_db, report_db, feeds, dead_letters)
