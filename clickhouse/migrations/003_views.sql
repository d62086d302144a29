-- The views every report reads: deduplicated, with the catalog, in the store's time zone, with the
-- stream's stock invariant. Parameterised views take store_id ('' = every store).

-- The first entry per (store_id, sku, event_id): exact before merges (FINAL).
CREATE OR REPLACE VIEW ledger_first AS
SELECT
    event_id, type, leg, store_id, other_store_id, sku, quantity, amount, unit_price, unit_cost, reason, actor,
    terminal_id, supplier, occurred_at, received_at, on_hand_before, on_hand_after, changed, outcome, flags,
    src_partition, src_offset, ingested_at,
    type = 'count' AS is_count
FROM ledger FINAL;

-- Stock changes: the ledger rows that changed on-hand when the stream applied them, in its order
-- (src_partition, src_offset) with the change it made.
CREATE OR REPLACE VIEW stock_changes AS
SELECT
    store_id, sku, event_id, type, leg, occurred_at, received_at,
    on_hand_after - on_hand_before AS change, on_hand_before, on_hand_after, outcome, src_partition, src_offset
FROM ledger_first
WHERE changed;

-- The latest catalog record per key; columns Nullable so a LEFT JOIN miss reads NULL, not ''.
CREATE OR REPLACE VIEW stores_current AS
SELECT store_id, toNullable(name) AS name, toNullable(timezone) AS timezone, toNullable(currency) AS currency,
       toNullable(active) AS active
FROM stores FINAL;

CREATE OR REPLACE VIEW products_current AS
SELECT sku, toNullable(name) AS name, names, category, toNullable(unit) AS unit, cost, price, toNullable(active) AS active,
       reorder_point, lead_time_days
FROM products FINAL;

CREATE OR REPLACE VIEW store_products_current AS
SELECT store_id, sku, price, reorder_point, active
FROM store_products FINAL;

-- Ledger rows with the store's time zone (UTC while the catalog has no entry for the store) and
-- the local calendar day of occurred_at there: a store's day is its local day.
CREATE OR REPLACE VIEW ledger_local AS
SELECT
    l.event_id AS event_id, l.type AS type, l.leg AS leg, l.store_id AS store_id, l.sku AS sku,
    l.quantity AS quantity, l.amount AS amount, l.occurred_at AS occurred_at, l.is_count AS is_count,
    coalesce(s.timezone, 'UTC') AS timezone,
    toDate(formatDateTime(l.occurred_at, '%F', coalesce(s.timezone, 'UTC'))) AS local_date
FROM ledger_first AS l
LEFT JOIN stores_current AS s ON s.store_id = l.store_id;

-- Sale lines with their cost of goods sold at moving-average cost.
-- Moving-average cost of a sale = Σ amount / Σ quantity over the purchases of the same (store, sku)
-- whose occurred_at <= the sale's: the weighted average unit cost of everything bought up to that
-- moment. Without any purchase cost, the catalog cost; else unknown (NULL).
-- cogs_paisa = units x that cost in paisa, rounded half up, computed exactly in integers:
-- bought_milli is Σ quantity in thousandths, bought_value Σ amount in 1e-5 (both exact).
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
WHERE x.type = 'sale';

-- The stock of each (store, sku) after each of its rows, in occurred_at order: the stream's
-- invariant (the latest count by occurred_at + the movements after it) applied step by step.
-- Movements at a count's instant sort before it (they are inside the count); counts at one instant
-- go by event id, the larger last. sku '' means every sku.
CREATE OR REPLACE VIEW stock_timeline AS
SELECT
    *,
    sum(quantity) OVER (PARTITION BY store_id, sku, segment ORDER BY occurred_at, is_count, event_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS level_after
FROM
(
    SELECT
        *,
        sum(toUInt32(is_count)) OVER (PARTITION BY store_id, sku ORDER BY occurred_at, is_count, event_id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS segment
    FROM ledger_first
    WHERE ({store_id:String} = '' OR store_id = {store_id:String}) AND ({sku:String} = '' OR sku = {sku:String})
);

-- The stock of each (store, sku) as of {at}, over every event received so far whose occurred_at
-- <= {at}: the latest count at or before {at} + the movements after that count. With what the
-- cost and slow-mover reports need as of {at}: purchases (exact, as in sale_lines) and the last sale.
CREATE OR REPLACE VIEW stock_at AS
SELECT
    store_id,
    sku,
    if(any(count_at) IS NULL, toDecimal128(0, 3), toDecimal128(argMaxIf(quantity, (occurred_at, event_id), is_count), 3))
        + sumIf(quantity, NOT is_count AND (count_at IS NULL OR occurred_at > count_at)) AS on_hand,
    any(count_at) AS last_count_at,
    if(any(count_at) IS NULL, NULL, argMaxIf(quantity, (occurred_at, event_id), is_count)) AS last_count_quantity,
    countIf(NOT is_count AND (count_at IS NULL OR occurred_at > count_at)) AS movements_after_count,
    max(occurred_at) AS last_event_at,
    if(countIf(type = 'sale') > 0, maxIf(occurred_at, type = 'sale'), NULL) AS last_sale_at,
    sumIf(toInt128(quantity * 1000), type = 'purchase' AND amount IS NOT NULL) AS bought_milli,
    sumIf(toInt128(assumeNotNull(amount) * 100000), type = 'purchase' AND amount IS NOT NULL) AS bought_value
FROM
(
    SELECT
        store_id, sku, event_id, type, is_count, quantity, amount, occurred_at,
        maxIf(toNullable(occurred_at), is_count) OVER (PARTITION BY store_id, sku) AS count_at
    FROM ledger_first
    WHERE ({store_id:String} = '' OR store_id = {store_id:String}) AND occurred_at <= {at:DateTime64(6, 'UTC')}
)
GROUP BY store_id, sku;

-- Stock at cost as of {at}: on-hand x the moving-average cost of the store's purchases up to {at}
-- (else the catalog cost), rounded half up to the paisa; stock at or below zero is worth 0; value
-- NULL when stock is on hand and no cost is known.
CREATE OR REPLACE VIEW stock_value_at AS
SELECT
    s.store_id AS store_id, s.sku AS sku, p.name AS name, s.on_hand AS on_hand,
    multiIf(s.bought_milli > 0, 'purchases', p.cost IS NOT NULL, 'catalog', NULL) AS cost_source,
    multiIf(s.bought_milli > 0, toDecimal128(intDiv(2 * s.bought_value + s.bought_milli, 2 * s.bought_milli), 2) / 100,
            toDecimal128(p.cost, 2)) AS unit_cost,
    multiIf(s.on_hand <= 0, toDecimal128(0, 2),
            s.bought_milli > 0,
            toDecimal128(intDiv(2 * toInt128(s.on_hand * 1000) * s.bought_value + s.bought_milli * 1000, 2 * s.bought_milli * 1000), 2) / 100,
            p.cost IS NOT NULL,
            toDecimal128(intDiv(2 * toInt128(s.on_hand * 1000) * toInt128(p.cost * 100) + 1000, 2000), 2) / 100,
            NULL) AS value
FROM stock_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')}) AS s
LEFT JOIN products_current AS p ON p.sku = s.sku;
