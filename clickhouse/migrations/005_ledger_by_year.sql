-- The ledger partitioned by year instead of by month (001). One POST may carry events from any
-- month since 2000, and ClickHouse refuses an insert whose rows fall into more than 100 partitions
-- (max_partitions_per_insert_block): 101 events in 101 months stalled the sink. By year, every batch
-- the contract admits (2000-01-01 .. now + a day) touches at most a few dozen partitions.
--
-- A table's partition key cannot be altered, so the rows are copied into a new table that then takes
-- the ledger's place (EXCHANGE is atomic; the views name `ledger` and read the new table). The steps
-- marked "only if" run while the ledger is still partitioned by month, so a run interrupted anywhere
-- starts the copy over (or, after the exchange, only drops the old table) when it is applied again.

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'ledger' AND partition_key = 'toYYYYMM(occurred_at)'
DROP TABLE IF EXISTS ledger_by_year SYNC;

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'ledger' AND partition_key = 'toYYYYMM(occurred_at)'
CREATE TABLE ledger_by_year AS ledger
ENGINE = ReplacingMergeTree(first_rank)
PARTITION BY toYear(occurred_at)
ORDER BY (store_id, sku, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'ledger' AND partition_key = 'toYYYYMM(occurred_at)'
INSERT INTO ledger_by_year SELECT * FROM ledger;

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'ledger' AND partition_key = 'toYYYYMM(occurred_at)'
EXCHANGE TABLES ledger AND ledger_by_year;

-- the monthly table, now under the other name
DROP TABLE IF EXISTS ledger_by_year SYNC;
