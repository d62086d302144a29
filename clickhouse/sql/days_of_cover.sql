-- Days of cover as of {at}: on-hand / average daily units sold over the {days} days up to {at}
-- (sales with occurred_at in ({at} - {days} days, {at}]; average = sold / {days}, truncated to
-- 0.001). days_of_cover = on_hand x {days} / sold, truncated to 0.01 day; 0 when nothing is on
-- hand; NULL when nothing sold in the window (cover without end). Shortest cover first.
SELECT
    s.store_id AS store_id,
    s.sku AS sku,
    p.name AS name,
    s.on_hand AS on_hand,
    w.sold AS sold_units,
    {days:UInt32} AS window_days,
    toDecimal128(intDiv(toInt128(w.sold * 1000), {days:UInt32}), 3) / 1000 AS avg_daily_units,
    multiIf(s.on_hand <= 0, toDecimal128(0, 2),
            w.sold = 0, NULL,
            toDecimal128(intDiv(toInt128(s.on_hand * 1000) * {days:UInt32} * 100, toInt128(w.sold * 1000)), 2) / 100) AS days_of_cover
FROM stock_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')}) AS s
LEFT JOIN
(
    SELECT store_id, sku, sum(-quantity) AS sold
    FROM ledger_first
    WHERE type = 'sale'
      AND ({store_id:String} = '' OR store_id = {store_id:String})
      AND occurred_at > {at:DateTime64(6, 'UTC')} - toIntervalDay({days:UInt32})
      AND occurred_at <= {at:DateTime64(6, 'UTC')}
    GROUP BY store_id, sku
) AS w ON w.store_id = s.store_id AND w.sku = s.sku
LEFT JOIN products_current AS p ON p.sku = s.sku
WHERE (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
ORDER BY days_of_cover IS NULL, days_of_cover, store_id, sku
