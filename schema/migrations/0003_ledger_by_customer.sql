-- One customer's entries, newest first, without scanning the ledger: the same
-- narrow columns sorted by (customer_id, seq). Serves Balance, History and
-- analysts' per-customer queries. Filled by a materialized view; retried
-- inserts collapse by (customer_id, seq) like the ledger's (read with FINAL,
-- argMax(x, seq) or LIMIT 1 BY seq).
CREATE TABLE IF NOT EXISTS {db}.ledger_by_customer
(
    customer_id UInt64,
    seq         UInt64,
    delta       Int64,
    balance     Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ledger_by_customer_mv TO {db}.ledger_by_customer AS
SELECT customer_id, seq, delta, balance
FROM {db}.ledger;

-- Backfill, as in 0002.
INSERT INTO {db}.ledger_by_customer (customer_id, seq, delta, balance)
SELECT customer_id, seq, delta, balance
FROM {db}.ledger;
