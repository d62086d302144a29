"""The HTTP API: ingest of POS events, stock lookups, health and metrics."""
