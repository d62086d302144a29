-- The catalog (schemas/catalog.py), sunk from its compacted topics: the latest record per key wins
-- (the highest offset), read through the *_current views.
CREATE TABLE IF NOT EXISTS stores
(
    store_id    String,
    name        String,
    timezone    String,
    currency    String,
    locale      String,
    active      Bool,
    src_offset  UInt64,
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(src_offset)
ORDER BY store_id
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS products
(
    sku            String,
    name           String,
    names          Map(String, String),
    category       Nullable(String),
    unit           String,
    cost           Nullable(Decimal(18, 2)),
    price          Nullable(Decimal(18, 2)),
    active         Bool,
    reorder_point  Nullable(Decimal(18, 3)),
    lead_time_days Nullable(UInt16),
    src_offset     UInt64,
    ingested_at    DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(src_offset)
ORDER BY sku
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS store_products
(
    store_id      String,
    sku           String,
    price         Nullable(Decimal(18, 2)),
    reorder_point Nullable(Decimal(18, 3)),
    active        Nullable(Bool),
    src_offset    UInt64,
    ingested_at   DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(src_offset)
ORDER BY (store_id, sku)
SETTINGS non_replicated_deduplication_window = 1000;
