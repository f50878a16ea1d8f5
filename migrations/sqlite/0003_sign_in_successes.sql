-- Addresses from which an account has signed in successfully (SPEC §8): failures of
-- strangers elsewhere do not lock an account out of the addresses it is known to use.
-- `account` is the same SHA-256 of the normalised email as in sign_in_failures.
CREATE TABLE sign_in_successes (
    account BLOB   NOT NULL,
    ip      TEXT    NOT NULL,
    at      BIGINT  NOT NULL,
    PRIMARY KEY (account, ip)
);
CREATE INDEX sign_in_successes_at ON sign_in_successes (at);
