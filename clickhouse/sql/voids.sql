-- The voids of one store's local day (by the void's own occurred_at): which sale each named, when,
-- who (the ledger's actor: the server sets it from the caller's token), what it undid, and whether
-- it applied or was recorded and flagged (verdict: already_voided, too_old, not_a_sale,
-- unknown_sale). amount and items: the voided sale's (its lines' money, its skus) when it applied,
-- else the lines the void itself sent.
SELECT
    v.void_event_id AS void_event_id,
    v.original_event_id AS original_event_id,
    v.voided_at AS voided_at,
    v.received_at AS received_at,
    v.actor AS actor,
    v.terminal_id AS terminal_id,
    v.verdict = 'applied' AS applied,
    v.verdict AS verdict,
    if(v.verdict = 'applied' AND s.event_id != '', s.amount, v.amount) AS amount,
    if(v.verdict = 'applied' AND s.event_id != '', s.items, v.items) AS items,
    s.sold_at AS sale_occurred_at
FROM
(
    SELECT
        event_id AS void_event_id, store_id, any(original_event_id) AS original_event_id,
        any(coalesce(void_occurred_at, occurred_at)) AS voided_at, any(received_at) AS received_at,
        any(actor) AS actor, any(terminal_id) AS terminal_id, any(void_verdict) AS verdict,
        sum(coalesce(amount, toDecimal128(0, 5))) AS amount, count() AS items
    FROM ledger_first
    WHERE type = 'return' AND reason = 'void' AND store_id = {store_id:String}
    GROUP BY store_id, event_id
) AS v
LEFT JOIN
(
    SELECT store_id, event_id, sum(coalesce(amount, toDecimal128(0, 5))) AS amount, count() AS items, any(occurred_at) AS sold_at
    FROM ledger_first
    WHERE type = 'sale' AND store_id = {store_id:String}
    GROUP BY store_id, event_id
) AS s ON s.store_id = v.store_id AND s.event_id = v.original_event_id
LEFT JOIN stores_current AS z ON z.store_id = v.store_id
WHERE toDate(substring(toString(v.voided_at, coalesce(z.timezone, 'UTC')), 1, 10)) = {date:Date}
ORDER BY voided_at, void_event_id
