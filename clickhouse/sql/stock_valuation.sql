-- Stock at cost per (store, product) as of {at}: on-hand x the moving-average cost of the store's
-- purchases up to {at} (the catalog cost when it bought none), rounded half up to the paisa.
-- Stock at or below zero is worth 0; value is NULL when stock is on hand and no cost is known.
SELECT store_id, sku, name, on_hand, cost_source, unit_cost, value
FROM stock_value_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')})
WHERE (empty({scope:Array(String)}) OR has({scope:Array(String)}, store_id))
ORDER BY store_id, sku
