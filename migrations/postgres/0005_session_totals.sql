-- How many sessions are stored, kept by triggers, so that counting live sessions (offset
-- pagination's `count`) costs the few rows near expiry rather than a scan of every session:
-- live = stored - (stored but already ended, not yet swept). Sixteen shards (by session id),
-- so concurrent sign-ins do not queue on one counter row. Statement-level: a bulk insert or
-- delete updates each shard once.
CREATE TABLE session_totals (
    shard INTEGER PRIMARY KEY CHECK (shard >= 0 AND shard < 16),
    n     BIGINT  NOT NULL
);
INSERT INTO session_totals (shard, n)
    SELECT k, (SELECT COUNT(*) FROM sessions WHERE id % 16 = k) FROM generate_series(0, 15) AS k;

CREATE FUNCTION sessiond_count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_totals t SET n = t.n + c.added
    FROM (SELECT id % 16 AS shard, COUNT(*) AS added FROM inserted GROUP BY 1) c
    WHERE t.shard = c.shard;
    RETURN NULL;
END
$$;
CREATE FUNCTION sessiond_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_totals t SET n = t.n - c.gone
    FROM (SELECT id % 16 AS shard, COUNT(*) AS gone FROM deleted GROUP BY 1) c
    WHERE t.shard = c.shard;
    RETURN NULL;
END
$$;
CREATE TRIGGER session_totals_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION sessiond_count_inserted();
CREATE TRIGGER session_totals_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION sessiond_count_deleted();
