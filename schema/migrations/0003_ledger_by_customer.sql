-- One customer's entries, newest first, without scanning the ledger: the same
-- narrow columns sorted by (customer_id, seq). Serves Balance, History and
-- analysts' per-customer queries. Filled by a materialized view; retried
-- inserts collapse by (customer_id, seq) like the ledger's (read with FINAL,
-- argMax(x, seq) or LIMIT 1 BY seq).
CREATE TABLE IF NOT EXISTS {db}.ledger_by_customer
(
    customer_id UInt64,
    seq         UInt64,
    change_id   String,
    cause       String,
    delta       Int64,
    balance     Int64,
    channel     String,
    occurred_at DateTime('UTC'),
    recorded_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ledger_by_customer_mv TO {db}.ledger_by_customer AS
SELECT customer_id, seq, change_id, cause, delta, balance, channel, occurred_at, recorded_at
FROM {db}.ledger;

-- Backfill, as in 0002.
INSERT INTO {db}.ledger_by_customer (customer_id, seq, change_id, cause, delta, balance, channel, occurred_at, recorded_at)
SELECT customer_id, seq, change_id, cause, delta, balance, channel, occurred_at, recorded_at
FROM {db}.ledger;
