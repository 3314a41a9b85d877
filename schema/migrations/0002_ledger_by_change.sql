-- Which change ids (order ids, "manual:" + idempotency key) were applied, with
-- the seq of their ledger row: the ledger is sorted by seq, this table by
-- change_id, so "was order X ever applied, with which digest" reads one small
-- range. Filled by a materialized view on every insert into the ledger; a
-- re-sent batch writes the same rows again, which collapse on merge (read with
-- FINAL or argMin(x, seq)).
CREATE TABLE IF NOT EXISTS {db}.ledger_by_change
(
    change_id   String,
    seq         UInt64,
    customer_id UInt64,
    digest      String,
    delta       Int64,
    balance     Int64
)
ENGINE = ReplacingMergeTree
ORDER BY change_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ledger_by_change_mv TO {db}.ledger_by_change AS
SELECT change_id, seq, customer_id, digest, delta, balance
FROM {db}.ledger;

-- Backfill rows written before this migration. The view already exists, so a
-- row inserted meanwhile may be copied twice; the copies collapse like retries.
INSERT INTO {db}.ledger_by_change (change_id, seq, customer_id, digest, delta, balance)
SELECT change_id, seq, customer_id, digest, delta, balance
FROM {db}.ledger;
