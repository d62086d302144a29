-- Low stock as of {at}: active products at or below their reorder point (the store's override,
-- else the product's, else {threshold}); lowest stock first.
SELECT
    s.store_id AS store_id,
    s.sku AS sku,
    p.name AS name,
    s.on_hand AS on_hand,
    coalesce(o.reorder_point, p.reorder_point, {threshold:Decimal(18, 3)}) AS reorder_point
FROM stock_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')}) AS s
LEFT JOIN products_current AS p ON p.sku = s.sku
LEFT JOIN store_products_current AS o ON o.store_id = s.store_id AND o.sku = s.sku
WHERE s.on_hand <= coalesce(o.reorder_point, p.reorder_point, {threshold:Decimal(18, 3)})
  AND coalesce(o.active, p.active, true)
  AND (empty({scope:Array(String)}) OR has({scope:Array(String)}, s.store_id))
ORDER BY on_hand, store_id, sku
