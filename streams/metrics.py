"""Prometheus metrics of the stream worker."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("bazaar_stream_events_total", "Events applied by the stock agent", ["type", "leg"])
KEY_OUTCOMES = Counter("bazaar_stream_key_outcomes_total", "Per-(store, sku) outcomes", ["outcome"])
ALERTS = Counter(
    "bazaar_stream_alerts_total", "Alert transitions sent to the alerts topic (replays re-send the same ids)", ["type", "kind"]
)
NEGATIVE = Counter("bazaar_stream_negative_stock_total", "Times a key went below zero")
INVALID = Counter("bazaar_stream_invalid_messages_total", "Messages on the events topic that broke the contract")
APPLIED_OFFSET = Gauge("bazaar_stream_applied_offset", "Last applied offset of the events topic", ["partition"])
BATCH_SECONDS = Histogram(
    "bazaar_stream_batch_seconds",
    "Time from the start of applying a batch of events until the broker acked all its outputs",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
BATCH_EVENTS = Histogram(
    "bazaar_stream_batch_events", "Events in one batch of the stock agent", buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)
)
BATCH_KEYS = Histogram(
    "bazaar_stream_batch_keys",
    "(store, sku) keys one batch wrote (once each, however many events touched them)",
    buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000),
)
GAPS = Counter("bazaar_stream_offset_gaps_total", "Times a worker found skipped offsets and sought back to apply them")
LOOKUP_WAITS = Gauge(
    "bazaar_stream_lookup_waits",
    "Lookups on this worker waiting for their read-your-writes token's offsets to be applied (grows when the worker falls behind)",
)
CORE_FALLBACK = Counter(
    "bazaar_stream_core_fallback_total",
    "Batches the compiled core left to the Python rules, by its reason (a void, a time in another spelling, ...)",
    ["reason"],
)
