-- Returns and voids (schemas/ledger.py, domain/voids.py). A return's rows carry its reason
-- (customer_return or void) in `reason`; the entry names the sale it returns or voids, and a void
-- its verdict: applied (its rows give back what the sale took, at the sale's occurred_at, where the
-- stream applied them; void_occurred_at is the void's own) or why it was recorded and flagged
-- without moving stock (already_voided, too_old, not_a_sale, unknown_sale: rows of quantity 0).
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS original_event_id Nullable(String) COMMENT 'a return: the sale it returns or voids';
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS void_verdict Nullable(String) COMMENT 'a void: applied, or the flag it was recorded with';
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS void_occurred_at Nullable(DateTime64(6, 'UTC')) COMMENT 'a void: its own occurred_at';

CREATE OR REPLACE VIEW ledger_first AS
SELECT
    event_id, type, leg, store_id, other_store_id, sku, quantity, amount, unit_price, unit_cost, reason, actor,
    terminal_id, supplier, occurred_at, received_at, on_hand_before, on_hand_after, changed, outcome, flags,
    src_partition, src_offset, ingested_at, original_event_id, void_verdict, void_occurred_at,
    type = 'count' AS is_count
FROM ledger FINAL;

-- The sales an applied void undid (each once, whichever void did it).
CREATE OR REPLACE VIEW voided_sales AS
SELECT DISTINCT store_id, assumeNotNull(original_event_id) AS event_id
FROM ledger_first
WHERE type = 'return' AND void_verdict = 'applied' AND original_event_id IS NOT NULL;

-- Ledger rows in the store's local day, with what the sales and returns reports need. A return
-- written before reasons were kept is a customer return.
CREATE OR REPLACE VIEW ledger_local AS
SELECT
    l.event_id AS event_id, l.type AS type, l.leg AS leg, l.store_id AS store_id, l.sku AS sku,
    l.quantity AS quantity, l.amount AS amount, l.occurred_at AS occurred_at, l.is_count AS is_count,
    if(l.type = 'return', coalesce(l.reason, 'customer_return'), l.reason) AS reason,
    l.original_event_id AS original_event_id, l.void_verdict AS void_verdict,
    coalesce(s.timezone, 'UTC') AS timezone,
    toDate(substring(toString(l.occurred_at, coalesce(s.timezone, 'UTC')), 1, 10)) AS local_date
FROM ledger_first AS l
LEFT JOIN stores_current AS s ON s.store_id = l.store_id;

-- Sale lines as in 003, without the sales a void undid: they did not happen.
CREATE OR REPLACE VIEW sale_lines AS
SELECT
    x.store_id AS store_id, x.sku AS sku, x.event_id AS event_id, x.occurred_at AS occurred_at,
    x.timezone AS timezone, x.local_date AS local_date,
    -x.quantity AS units, x.amount AS revenue,
    multiIf(x.bought_milli > 0, 'purchases', p.cost IS NOT NULL, 'catalog', NULL) AS cost_source,
    multiIf(
        x.bought_milli > 0,
        intDiv(2 * toInt128(-x.quantity * 1000) * x.bought_value + x.bought_milli * 1000, 2 * x.bought_milli * 1000),
        p.cost IS NOT NULL,
        intDiv(2 * toInt128(-x.quantity * 1000) * toInt128(p.cost * 100) + 1000, 2000),
        NULL) AS cogs_paisa
FROM
(
    SELECT
        store_id, sku, event_id, type, quantity, amount, occurred_at, timezone, local_date,
        sum(if(type = 'purchase' AND amount IS NOT NULL, toInt128(quantity * 1000), 0)) OVER w AS bought_milli,
        sum(if(type = 'purchase' AND amount IS NOT NULL, toInt128(amount * 100000), 0)) OVER w AS bought_value
    FROM ledger_local
    WHERE type IN ('sale', 'purchase')
    WINDOW w AS (PARTITION BY store_id, sku ORDER BY occurred_at RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
) AS x
LEFT JOIN products_current AS p ON p.sku = x.sku
WHERE x.type = 'sale' AND (x.store_id, x.event_id) NOT IN (SELECT store_id, event_id FROM voided_sales);

-- The lines of the sales a void undid, on the sale's own local day.
CREATE OR REPLACE VIEW voided_sale_lines AS
SELECT store_id, sku, event_id, occurred_at, timezone, local_date, -quantity AS units, amount AS revenue
FROM ledger_local
WHERE type = 'sale' AND (store_id, event_id) IN (SELECT store_id, event_id FROM voided_sales);

-- Customer returns (not voids), on their own local day: units back and the refund (0 without a price).
CREATE OR REPLACE VIEW customer_return_lines AS
SELECT store_id, sku, event_id, occurred_at, timezone, local_date, quantity AS units, coalesce(amount, toDecimal128(0, 5)) AS refund
FROM ledger_local
WHERE type = 'return' AND reason = 'customer_return';
