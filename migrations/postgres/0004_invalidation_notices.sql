-- Credential-cache invalidation (src/store/cache.rs). Every committed change that can end or
-- weaken a credential notifies channel `sessiond_invalidate`; each instance's listener then
-- clears its cache. The notice is queued in the writing transaction and delivered at its
-- commit, so it can be neither lost before nor seen ahead of the change — whoever writes
-- (an instance, the CLI, an operator in psql). Statement-level: a bulk delete is one notice,
-- and only statements that touched rows notify.
CREATE FUNCTION sessiond_notify_invalidation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM pg_notify('sessiond_invalidate', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_invalidate AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sessiond_notify_invalidation();
CREATE TRIGGER users_invalidate_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sessiond_notify_invalidation();
CREATE TRIGGER users_invalidate_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sessiond_notify_invalidation();
CREATE TRIGGER api_tokens_invalidate AFTER DELETE ON api_tokens
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sessiond_notify_invalidation();
CREATE TRIGGER oauth_tokens_invalidate AFTER DELETE ON oauth_tokens
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sessiond_notify_invalidation();
CREATE TRIGGER security_settings_invalidate AFTER UPDATE ON security_settings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION sessiond_notify_invalidation();
