"""Prometheus metrics of the stream worker."""
from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("bazaar_stream_events_total", "Events applied by the stock agent", ["type", "leg"])
KEY_OUTCOMES = Counter("bazaar_stream_key_outcomes_total", "Per-(store, sku) outcomes", ["outcome"])
NEGATIVE = Counter("bazaar_stream_negative_stock_total", "Times a key went below zero")
INVALID = Counter("bazaar_stream_invalid_messages_total", "Messages on the events topic that broke the contract")
APPLIED_OFFSET = Gauge("bazaar_stream_applied_offset", "Last applied offset of the events topic", ["partition"])
APPLY_SECONDS = Histogram(
    "bazaar_stream_apply_seconds", "Time to apply one event to the tables",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
)
GAPS = Counter("bazaar_stream_offset_gaps_total", "Times a worker found skipped offsets and sought back to apply them")
