-- The store's local day through toString(instant, zone), which takes a per-row zone on every
-- ClickHouse release this project supports (formatDateTime needs a constant zone on older servers).
CREATE OR REPLACE VIEW ledger_local AS
SELECT
    l.event_id AS event_id, l.type AS type, l.leg AS leg, l.store_id AS store_id, l.sku AS sku,
    l.quantity AS quantity, l.amount AS amount, l.occurred_at AS occurred_at, l.is_count AS is_count,
    coalesce(s.timezone, 'UTC') AS timezone,
    toDate(substring(toString(l.occurred_at, coalesce(s.timezone, 'UTC')), 1, 10)) AS local_date
FROM ledger_first AS l
LEFT JOIN stores_current AS s ON s.store_id = l.store_id;
