-- Slow movers / dead stock as of {at}: stock on hand (> 0) and no sale in the {days} days up to
-- {at}: the last sale at or before {at} - {days} days, or none ever. Never-sold first, then the
-- longest without a sale. days_since_sale: whole days from the last sale to {at}.
SELECT
    s.store_id AS store_id,
    s.sku AS sku,
    p.name AS name,
    s.on_hand AS on_hand,
    s.last_sale_at AS last_sale_at,
    if(s.last_sale_at IS NULL, NULL,
       intDiv(toUnixTimestamp64Micro({at:DateTime64(6, 'UTC')}) - toUnixTimestamp64Micro(assumeNotNull(s.last_sale_at)), 86400000000)) AS days_since_sale
FROM stock_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')}) AS s
LEFT JOIN products_current AS p ON p.sku = s.sku
WHERE s.on_hand > 0
  AND (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
  AND (s.last_sale_at IS NULL OR s.last_sale_at <= {at:DateTime64(6, 'UTC')} - toIntervalDay({days:UInt32}))
ORDER BY s.last_sale_at IS NOT NULL, s.last_sale_at, store_id, sku
