-- Top sellers over the local days from..to, by revenue (then units, then sku).
-- gross_margin as in daily_sales: NULL when a line's cost is unknown.
SELECT
    s.sku AS sku,
    any(p.name) AS name,
    sum(s.units) AS units,
    sum(s.revenue) AS revenue,
    uniqExact(s.event_id) AS bills,
    uniqExact(s.store_id) AS stores,
    if(countIf(s.cogs_paisa IS NULL) > 0, NULL, sum(s.revenue) - toDecimal128(sum(s.cogs_paisa), 2) / 100) AS gross_margin
FROM sale_lines AS s
LEFT JOIN products_current AS p ON p.sku = s.sku
WHERE ({store_id:String} = '' OR s.store_id = {store_id:String})
  AND (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
  AND s.local_date BETWEEN {from:Date} AND {to:Date}
GROUP BY s.sku
ORDER BY revenue DESC, units DESC, sku
LIMIT {limit:UInt32}
