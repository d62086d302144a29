-- The movement history of one product in one store, in occurred_at order: every event that
-- touched it (first ledger entry per event), what it asked (quantity: signed change, or the
-- counted quantity), its money, what the stream did when it applied it (on_hand_before/after,
-- changed, outcome, in arrival order) and the stock after it on the timeline (level_after).
SELECT
    occurred_at, received_at, event_id, type, leg, other_store_id, quantity, unit_price, unit_cost, amount,
    reason, actor, terminal_id, supplier, on_hand_before, on_hand_after, level_after, changed, outcome
FROM stock_timeline(store_id = {store_id:String}, sku = {sku:String})
WHERE occurred_at >= {from:DateTime64(6, 'UTC')} AND occurred_at <= {to:DateTime64(6, 'UTC')}
ORDER BY occurred_at, is_count, event_id
