-- The ledger: what every applied event leg did to every (store, sku), as the stock agent wrote it
-- to the ledger topic (schemas/ledger.py), one row per sku.
--
-- No double counting: a replayed entry, a re-sent event and a retried insert all land on the same
-- key (store_id, sku, event_id). ReplacingMergeTree keeps one row per key, the one with the highest
-- first_rank, i.e. the lowest offset on the ledger topic: the first entry is authoritative (a store
-- always maps to one partition, so its entries are ordered). Reports read the view ledger_first
-- (FINAL), which is exact before merges too. Each insert also carries a deduplication token, so a
-- batch retried after an ambiguous failure is not stored twice.
CREATE TABLE IF NOT EXISTS ledger
(
    event_id       String,
    type           LowCardinality(String),
    leg            LowCardinality(String),
    store_id       String,
    other_store_id Nullable(String),
    sku            String,
    quantity       Decimal(18, 3) COMMENT 'signed change for movements (sale -, purchase +, ...); the counted quantity for a count',
    amount         Nullable(Decimal(38, 5)) COMMENT 'exact money of the lines: quantity x unit price (sale, return) or unit cost (purchase)',
    unit_price     Nullable(Decimal(38, 5)) ALIAS if(type IN ('sale', 'return') AND quantity != 0, amount / abs(quantity), NULL),
    unit_cost      Nullable(Decimal(38, 5)) ALIAS if(type = 'purchase' AND quantity != 0, amount / quantity, NULL),
    reason         Nullable(String),
    actor          Nullable(String),
    terminal_id    String,
    supplier       Nullable(String),
    occurred_at    DateTime64(6, 'UTC'),
    received_at    Nullable(DateTime64(6, 'UTC')),
    on_hand_before Decimal(18, 3) COMMENT 'on-hand just before the stream applied it',
    on_hand_after  Decimal(18, 3),
    changed        Bool,
    outcome        LowCardinality(String),
    flags          Array(String),
    entry_version  UInt8,
    src_partition  UInt16 COMMENT 'ingestion metadata: where the entry was read on the ledger topic',
    src_offset     UInt64,
    batch_token    String COMMENT 'the insert deduplication token of its batch',
    ingested_at    DateTime64(6, 'UTC') DEFAULT now64(6),
    first_rank     UInt64 MATERIALIZED 18446744073709551615 - src_offset
)
ENGINE = ReplacingMergeTree(first_rank)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (store_id, sku, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
