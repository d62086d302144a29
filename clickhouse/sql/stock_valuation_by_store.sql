-- Stock at cost per store as of {at} (the sum of stock_valuation): value counts the products
-- whose cost is known; unvalued_skus have stock on hand and no known cost.
SELECT
    v.store_id AS store_id,
    countIf(v.on_hand > 0) AS skus_in_stock,
    sumIf(v.on_hand, v.on_hand > 0) AS units_on_hand,
    sum(ifNull(v.value, toDecimal128(0, 2))) AS value,
    countIf(v.value IS NULL) AS unvalued_skus
FROM stock_value_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')}) AS v
WHERE (empty({scope:Array(String)}) OR has({scope:Array(String)}, v.store_id))
GROUP BY store_id
ORDER BY store_id
