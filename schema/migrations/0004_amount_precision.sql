-- Amounts kept exactly rather than refused: an order's amount has at most 6
-- decimal places (sub-penny unit prices times whole quantities) and at most
-- 10,000,000 in absolute value; amount_gbp is an EUR amount times a rate of at
-- most 6 decimal places, so it needs 12. Decimal(18, 6) holds |x| < 10^12;
-- Decimal(38, 12) (Decimal128, on 18.16 and current releases) holds
-- |x| < 10^26. Both widen the old columns without loss (Decimal(18, 3) and
-- Decimal(18, 9) held nothing larger than 10^7: validation never accepted
-- more). ClickHouse rewrites the columns of every part (a mutation on current
-- releases; parts not yet rewritten are converted when read). Running a
-- statement again on a column of that type already does nothing. The
-- ledger_by_change and ledger_by_customer views copy no amount column.
ALTER TABLE {db}.ledger MODIFY COLUMN amount Decimal(18, 6);
ALTER TABLE {db}.ledger MODIFY COLUMN amount_gbp Decimal(38, 12);
