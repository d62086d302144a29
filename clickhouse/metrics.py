"""Prometheus metrics of the analytics process (``bazaar analytics``, served at ``/metrics``)."""

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter("bazaar_analytics_consumed_total", "Messages read from a topic by a sink", ["table"])
INSERTED_MESSAGES = Counter("bazaar_analytics_inserted_messages_total", "Messages whose rows are in ClickHouse", ["table"])
INSERTED_ROWS = Counter("bazaar_analytics_inserted_rows_total", "Rows inserted (replays included; queries dedupe)", ["table"])
INSERT_FAILURES = Counter(
    "bazaar_analytics_insert_failures_total",
    "Insert attempts that failed for a transient reason (ClickHouse unreachable, slow, overloaded); each is retried",
    ["table"],
)
REFUSED_INSERTS = Counter(
    "bazaar_analytics_refused_inserts_total",
    "Inserts ClickHouse refused for a reason retrying does not fix; the batch is split until the refusing messages are alone",
    ["table"],
)
DEAD_LETTERED = Counter(
    "bazaar_analytics_dead_lettered_total",
    "Messages put on the dead-letter topic instead of into ClickHouse (the feed went on)",
    ["table", "reason"],
)
DEAD_LETTER_WRITE_FAILURES = Counter(
    "bazaar_analytics_dead_letter_write_failures_total", "Attempts to put dead letters on the broker that failed (retried)", ["table"]
)
GAPS = Counter("bazaar_analytics_offset_gaps_total", "Times a sink found offsets Faust skipped and read them from the broker", ["table"])
INVALID = Counter("bazaar_analytics_invalid_messages_total", "Messages that could not be read into rows (dead-lettered)", ["table"])
PENDING = Gauge("bazaar_analytics_pending_messages", "Consumed but not yet inserted", ["table"])
LAG = Gauge("bazaar_analytics_consumer_lag", "Messages on the topic not yet consumed (high watermark - position)", ["table"])
BACKLOG = Gauge("bazaar_analytics_backlog", "Not yet in ClickHouse: pending + consumer lag", ["table"])
CLICKHOUSE_UP = Gauge(
    "bazaar_analytics_clickhouse_up", "1 while ClickHouse answers (the last insert went in or was refused), 0 while it is unreachable"
)
LAST_INSERT = Gauge("bazaar_analytics_last_insert_timestamp_seconds", "When the last batch was inserted", ["table"])
INSERT_SECONDS = Histogram(
    "bazaar_analytics_insert_seconds",
    "Time of one successful batch insert",
    ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REPORT_SECONDS = Histogram(
    "bazaar_analytics_report_seconds",
    "Time to run one report query",
    ["report"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
