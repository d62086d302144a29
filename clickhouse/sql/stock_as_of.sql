-- The stock of one store as of {at}, from the ledger: for each product, the latest count at or
-- before {at} plus the movements after that count up to {at} (the stream's invariant), over every
-- event received so far whose occurred_at <= {at}, late ones included.
SELECT
    s.sku AS sku,
    p.name AS name,
    s.on_hand AS on_hand,
    s.last_count_at AS last_count_at,
    s.last_count_quantity AS last_count_quantity,
    s.movements_after_count AS movements_after_count,
    s.last_event_at AS last_event_at
FROM stock_at(store_id = {store_id:String}, at = {at:DateTime64(6, 'UTC')}) AS s
LEFT JOIN products_current AS p ON p.sku = s.sku
ORDER BY sku
