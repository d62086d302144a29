"""Analytics in ClickHouse: the ledger sink, versioned schema, report SQL and the Grafana dashboard.

One process, ``bazaar analytics``, owns the database (embedded chDB opens its directory in one
process only); the API and ``bazaar report`` ask that process for reports over HTTP, the same way
whether the DSN is chDB or an http(s) ClickHouse server.
"""
