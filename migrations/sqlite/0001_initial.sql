-- sessiond schema, version 1. Times are epoch seconds (UTC). Token columns hold SHA-256
-- digests only; the tokens themselves are never stored.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL UNIQUE,          -- trimmed and lower-cased
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'agent', 'end-user')),
    suspended     BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,                             -- Argon2id PHC string, NULL = no password
    created_at    BIGINT  NOT NULL
);

-- AUTOINCREMENT: ids only grow and are never reused, so a cursor or a URL can never come to
-- name a different session than the one it was made for.
CREATE TABLE sessions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash       BLOB    NOT NULL UNIQUE,
    csrf_secret      BLOB    NOT NULL,
    authenticated_at BIGINT  NOT NULL,
    last_seen_at     BIGINT  NOT NULL,
    ip               TEXT,
    user_agent       TEXT,
    created_via      TEXT    NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id, id);
CREATE INDEX sessions_authenticated_at ON sessions (authenticated_at, id);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at, id);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description TEXT    NOT NULL DEFAULT '',
    token_hash  BLOB    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE oauth_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,                    -- space-separated: "read", "write"
    token_hash BLOB    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT
);
CREATE INDEX oauth_tokens_user_id ON oauth_tokens (user_id);

-- One row, always present.
CREATE TABLE security_settings (
    id                               INTEGER PRIMARY KEY CHECK (id = 1),
    agent_session_timeout            BIGINT  NOT NULL,
    end_user_session_timeout         BIGINT  NOT NULL,
    maximum_session_duration         BIGINT  NOT NULL,
    maximum_session_duration_enabled BOOLEAN NOT NULL
);
INSERT INTO security_settings VALUES (1, 60, 480, 720, FALSE);
