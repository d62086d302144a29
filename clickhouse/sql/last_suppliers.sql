-- The supplier of each product's last purchase at a store (the latest by occurred_at, then event id,
-- among purchases naming one): who to reorder from when the catalog names nobody.
SELECT
    sku,
    argMax(named, (occurred_at, event_id)) AS supplier,
    max(occurred_at) AS purchased_at
FROM (
    SELECT sku, supplier AS named, occurred_at, event_id
    FROM ledger_first
    WHERE store_id = {store_id:String} AND type = 'purchase' AND supplier IS NOT NULL AND supplier != ''
)
GROUP BY sku
ORDER BY sku
