-- The points ledger: one row per balance change, written by the shipper in
-- batches. A batch may be sent twice after a crash, so rows are deduplicated
-- by seq: ReplacingMergeTree collapses copies when parts merge; readers use
-- FINAL, argMax(x, seq) or LIMIT 1 BY seq. Copies of one entry carry the same
-- recorded_at, so they land in the same partition and do collapse.
-- {db} is replaced by the database name.
CREATE TABLE IF NOT EXISTS {db}.ledger
(
    seq         UInt64,
    change_id   String,
    customer_id UInt64,
    cause       String,
    points      Int64,
    delta       Int64,
    balance     Int64,
    channel     String,
    store_id    String,
    amount      Decimal(18, 3),
    currency    String,
    amount_gbp  Decimal(18, 9),
    item_ids    Array(String),
    reason      String,
    actor       String,
    digest      String,
    occurred_at DateTime('UTC'),
    recorded_at DateTime('UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(recorded_at)
ORDER BY seq;
