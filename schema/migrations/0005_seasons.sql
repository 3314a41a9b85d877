-- Season boards: each change also moves the season board of its own time
-- (Europe/London months or quarters, as configured); season is its name
-- ('' without seasons), season_delta the change applied there and
-- season_balance that board's balance after (floored at zero on its own).
-- Rebuild and reconcile read a season board as argMax(season_balance, seq)
-- per customer WHERE season = the season's name. Old rows read the defaults.
ALTER TABLE {db}.ledger ADD COLUMN season String DEFAULT '';
ALTER TABLE {db}.ledger ADD COLUMN season_delta Int64 DEFAULT 0;
ALTER TABLE {db}.ledger ADD COLUMN season_balance Int64 DEFAULT 0;
