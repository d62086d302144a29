-- Daily sales per store, by the store's local day (catalog time zone; UTC if the store has none).
-- bills: distinct sale events; units, revenue: Σ over sale lines (exact: quantity x unit price);
-- cogs: Σ over sale lines of units x moving-average cost, each rounded half up to the paisa
-- (see the view sale_lines); gross_margin = revenue - cogs; both NULL on a day with a line whose
-- cost is unknown (no purchase at that store up to the sale and no catalog cost), counted in
-- uncosted_lines.
SELECT
    s.store_id AS store_id,
    s.local_date AS day,
    any(s.timezone) AS timezone,
    uniqExact(s.event_id) AS bills,
    sum(s.units) AS units,
    sum(s.revenue) AS revenue,
    if(countIf(s.cogs_paisa IS NULL) > 0, NULL, toDecimal128(sum(s.cogs_paisa), 2) / 100) AS cogs,
    if(countIf(s.cogs_paisa IS NULL) > 0, NULL, sum(s.revenue) - toDecimal128(sum(s.cogs_paisa), 2) / 100) AS gross_margin,
    countIf(s.cogs_paisa IS NULL) AS uncosted_lines
FROM sale_lines AS s
WHERE ({store_id:String} = '' OR s.store_id = {store_id:String})
  AND (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
  AND s.local_date BETWEEN {from:Date} AND {to:Date}
GROUP BY store_id, day
ORDER BY day, store_id
