-- How many sessions are stored, kept by triggers, so that counting live sessions (offset
-- pagination's `count`) costs the few rows near expiry rather than a scan of every session:
-- live = stored - (stored but already ended, not yet swept). Sixteen shards (by session id),
-- so concurrent sign-ins on PostgreSQL do not queue on one counter row.
CREATE TABLE session_totals (
    shard INTEGER PRIMARY KEY CHECK (shard >= 0 AND shard < 16),
    n     BIGINT  NOT NULL
);
INSERT INTO session_totals (shard, n)
    WITH RECURSIVE shards(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM shards WHERE k < 15)
    SELECT k, (SELECT COUNT(*) FROM sessions WHERE id % 16 = k) FROM shards;

CREATE TRIGGER session_totals_insert AFTER INSERT ON sessions
BEGIN
    UPDATE session_totals SET n = n + 1 WHERE shard = NEW.id % 16;
END;
CREATE TRIGGER session_totals_delete AFTER DELETE ON sessions
BEGIN
    UPDATE session_totals SET n = n - 1 WHERE shard = OLD.id % 16;
END;
