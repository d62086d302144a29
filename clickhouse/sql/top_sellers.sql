-- Top sellers over the local days from..to, by net revenue (then units, then sku), netted like
-- daily_sales: a sale a void undid is left out; customer returns count against their sku
-- (returned_units, refunds; net_revenue = revenue - refunds).
-- gross_margin as in daily_sales: NULL when a line's cost is unknown.
SELECT
    s.sku AS sku,
    any(p.name) AS name,
    sumIf(s.units, s.kind = 'sale') AS units,
    sumIf(s.revenue, s.kind = 'sale') AS revenue,
    uniqExactIf(s.event_id, s.kind = 'sale') AS bills,
    uniqExactIf(s.store_id, s.kind = 'sale') AS stores,
    if(countIf(s.kind = 'sale' AND s.cogs_paisa IS NULL) > 0, NULL,
       sumIf(s.revenue, s.kind = 'sale') - toDecimal128(sumIf(s.cogs_paisa, s.kind = 'sale'), 2) / 100) AS gross_margin,
    sumIf(s.units, s.kind = 'return') AS returned_units,
    sumIf(s.revenue, s.kind = 'return') AS refunds,
    sumIf(s.revenue, s.kind = 'sale') - sumIf(s.revenue, s.kind = 'return') AS net_revenue
FROM
(
    SELECT 'sale' AS kind, store_id, sku, local_date, event_id, units, toDecimal128(assumeNotNull(revenue), 5) AS revenue, cogs_paisa
    FROM sale_lines
    UNION ALL
    SELECT 'return' AS kind, store_id, sku, local_date, event_id, units, toDecimal128(refund, 5) AS revenue,
           CAST(NULL, 'Nullable(Int128)') AS cogs_paisa
    FROM customer_return_lines
) AS s
LEFT JOIN products_current AS p ON p.sku = s.sku
WHERE ({store_id:String} = '' OR s.store_id = {store_id:String})
  AND (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
  AND s.local_date BETWEEN {from:Date} AND {to:Date}
GROUP BY s.sku
ORDER BY net_revenue DESC, units DESC, sku
LIMIT {limit:UInt32}
