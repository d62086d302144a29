-- Stock-outs: each period a product spent at or below zero, on the stock timeline by occurred_at
-- (the stream's invariant, late events in their place). A period starts at the row that took the
-- stock to <= 0 and ends at the first row that brought it above 0 (ended_at NULL: still out).
-- Periods of zero length (out and back at one instant) are left out. Listed: periods that began
-- before {to} and were still running after {from}; duration_s runs to ended_at, or to {to}.
SELECT
    periods.store_id AS store_id,
    periods.sku AS sku,
    p.name AS name,
    started_at,
    ended_at,
    toBool(ended_at IS NULL) AS ongoing,
    intDiv(toUnixTimestamp64Micro(ifNull(ended_at, {to:DateTime64(6, 'UTC')})) - toUnixTimestamp64Micro(started_at), 1000000) AS duration_s,
    lowest AS lowest_on_hand
FROM
(
    SELECT
        store_id, sku, out, started_at, lowest,
        leadInFrame(toNullable(started_at)) OVER (PARTITION BY store_id, sku ORDER BY island
                                                  ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS ended_at
    FROM
    (
        SELECT store_id, sku, island, any(out) AS out, min(occurred_at) AS started_at, min(level_after) AS lowest
        FROM
        (
            SELECT
                store_id, sku, occurred_at, level_after, out,
                sum(toUInt32(out != prev_out)) OVER (PARTITION BY store_id, sku ORDER BY occurred_at, is_count, event_id
                                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island
            FROM
            (
                SELECT
                    store_id, sku, occurred_at, is_count, event_id, level_after, level_after <= 0 AS out,
                    lagInFrame(level_after <= 0, 1, false) OVER (PARTITION BY store_id, sku ORDER BY occurred_at, is_count, event_id
                                                                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev_out
                FROM stock_timeline(store_id = {store_id:String}, sku = '')
                WHERE (empty({scope:Array(String)}) OR has({scope:Array(String)}, store_id))
            )
        )
        GROUP BY store_id, sku, island
    )
) AS periods
LEFT JOIN products_current AS p ON p.sku = periods.sku
WHERE out
  AND (ended_at IS NULL OR ended_at > started_at)
  AND started_at < {to:DateTime64(6, 'UTC')}
  AND (ended_at IS NULL OR ended_at > {from:DateTime64(6, 'UTC')})
ORDER BY started_at, store_id, sku
