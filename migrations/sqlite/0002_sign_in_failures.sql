-- Failed password checks, for sign-in throttling across instances and restarts (SPEC §8).
-- `account` is a SHA-256 of the normalised email (whether or not such a user exists), so the
-- table holds no address in clear. Rows older than an hour are pruned by the sweeper.
CREATE TABLE sign_in_failures (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    account BLOB    NOT NULL,
    ip      TEXT    NOT NULL,
    at      BIGINT  NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account, at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (ip, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
