-- Daily sales per store, by the store's local day (catalog time zone; UTC if the store has none).
-- bills: distinct sale events; units, revenue: Σ over sale lines (exact: quantity x unit price);
-- a sale a void undid is left out of them (on the sale's own day) and counted in voids.
-- cogs: Σ over sale lines of units x moving-average cost, each rounded half up to the paisa
-- (see the view sale_lines); gross_margin = revenue - cogs; both NULL on a day with a line whose
-- cost is unknown (no purchase at that store up to the sale and no catalog cost), counted in
-- uncosted_lines. returns, refunds: customer returns (not voids) that day and their amount;
-- net_revenue = revenue - refunds.
SELECT
    s.store_id AS store_id,
    s.local_date AS day,
    any(s.timezone) AS timezone,
    uniqExactIf(s.event_id, s.kind = 'sale') AS bills,
    sumIf(s.units, s.kind = 'sale') AS units,
    sumIf(s.revenue, s.kind = 'sale') AS revenue,
    if(countIf(s.kind = 'sale' AND s.cogs_paisa IS NULL) > 0, NULL, toDecimal128(sumIf(s.cogs_paisa, s.kind = 'sale'), 2) / 100) AS cogs,
    if(countIf(s.kind = 'sale' AND s.cogs_paisa IS NULL) > 0, NULL,
       sumIf(s.revenue, s.kind = 'sale') - toDecimal128(sumIf(s.cogs_paisa, s.kind = 'sale'), 2) / 100) AS gross_margin,
    countIf(s.kind = 'sale' AND s.cogs_paisa IS NULL) AS uncosted_lines,
    uniqExactIf(s.event_id, s.kind = 'void') AS voids,
    uniqExactIf(s.event_id, s.kind = 'return') AS returns,
    sumIf(s.revenue, s.kind = 'return') AS refunds,
    sumIf(s.revenue, s.kind = 'sale') - sumIf(s.revenue, s.kind = 'return') AS net_revenue
FROM
(
    SELECT 'sale' AS kind, store_id, local_date, timezone, event_id, units, toDecimal128(assumeNotNull(revenue), 5) AS revenue, cogs_paisa
    FROM sale_lines
    UNION ALL
    SELECT 'void' AS kind, store_id, local_date, timezone, event_id, toDecimal128(0, 3) AS units, toDecimal128(0, 5) AS revenue,
           CAST(NULL, 'Nullable(Int128)') AS cogs_paisa
    FROM voided_sale_lines
    UNION ALL
    SELECT 'return' AS kind, store_id, local_date, timezone, event_id, toDecimal128(0, 3) AS units, toDecimal128(refund, 5) AS revenue,
           CAST(NULL, 'Nullable(Int128)') AS cogs_paisa
    FROM customer_return_lines
) AS s
WHERE ({store_id:String} = '' OR s.store_id = {store_id:String})
  AND (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
  AND s.local_date BETWEEN {from:Date} AND {to:Date}
GROUP BY store_id, day
ORDER BY day, store_id
