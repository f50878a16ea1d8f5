-- Credential-cache invalidation needs no schema on SQLite: every sessiond process that
-- writes this database appends to the signal file `<database>-signal` after each change
-- that can end or weaken a credential, and every process checks that file before trusting
-- its cache (src/store/cache.rs). This migration keeps both engines' histories numbered alike.
SELECT 1;
