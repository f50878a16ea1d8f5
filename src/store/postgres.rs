//! PostgreSQL, for several sessiond instances sharing one database. Each instance answers
//! credential checks from its cache ([`super::cache`]); triggers `NOTIFY` every instance of
//! each committed revocation (whoever made it: an instance, the CLI, a hand-written `DELETE`),
//! and a listener task here clears the cache when one arrives.

use super::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, PgPool, Postgres, QueryBuilder, Row};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const DELETE_BATCH: i64 = 1000;

pub struct PgStore {
    reader: PgPool,
    writer: PgPool,
    metrics: StoreMetrics,
    url: String,
}

/// The channel the invalidation triggers notify (migration 0004).
const INVALIDATION_CHANNEL: &str = "sessiond_invalidate";
/// A notice on [`INVALIDATION_CHANNEL`] whose payload starts with this is a barrier: each
/// listener answers it on [`ACK_CHANNEL`] once it has cleared its cache.
const BARRIER_PREFIX: &str = "barrier:";
const ACK_CHANNEL: &str = "sessiond_invalidation_heard";
/// The `application_name` a listening connection takes once it listens (followed by `:` and
/// the name the database URL gave, if any), so that a writer can tell from
/// `pg_stat_activity` which connections must answer its barrier.
const LISTENER_APP: &str = "sessiond-listener";
/// Longest a revoking write waits for every listening instance to answer.
const BARRIER_WAIT: Duration = Duration::from_secs(2);

/// Revocation across instances, made synchronous: the triggers' notice travels with the
/// commit, but another instance clears its cache only when its listener task gets to it.
/// So the writer then sends a barrier notice through the same channel; notices reach each
/// listener in commit order, so a listener that answers the barrier has already cleared its
/// cache for the write. The writer waits (at most [`BARRIER_WAIT`]) for an answer from every
/// connection that was listening when it asked. A connection that dies meanwhile cannot
/// answer: the wait runs out and is logged, the write stands.
async fn confirm_invalidation(store: &PgStore) {
    if let Err(e) = barrier(store).await {
        tracing::warn!(error = %e, "could not confirm that every instance dropped its cached credentials");
    }
}

async fn barrier(store: &PgStore) -> Result<(), String> {
    use std::collections::HashSet;
    let mut answers = sqlx::postgres::PgListener::connect(&store.url).await.map_err(|e| e.to_string())?;
    answers.listen(ACK_CHANNEL).await.map_err(|e| e.to_string())?;
    let listening: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
         AND (application_name = $1 OR starts_with(application_name, $1 || ':'))",
    )
    .bind(LISTENER_APP)
    .fetch_all(&store.writer)
    .await
    .map_err(|e| e.to_string())?;
    let mut waiting: HashSet<u32> = listening.into_iter().filter_map(|pid| u32::try_from(pid).ok()).collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let nonce: String = crate::domain::secret::random_bytes::<12>().iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(INVALIDATION_CHANNEL)
        .bind(format!("{BARRIER_PREFIX}{nonce}"))
        .execute(&store.writer)
        .await
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + BARRIER_WAIT;
    while !waiting.is_empty() {
        match tokio::time::timeout_at(deadline, answers.recv()).await {
            Ok(Ok(answer)) => {
                if answer.payload() == nonce {
                    waiting.remove(&answer.process_id());
                }
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                return Err(format!(
                    "{} listening connection(s) did not answer within {BARRIER_WAIT:?}",
                    waiting.len()
                ));
            }
        }
    }
    Ok(())
}

/// Connection-level failures (refused, reset, server shutting down, too many clients) are
/// "unavailable" (503, retry); everything else is a real error.
fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        // The user went away between a check and a write (a concurrent delete).
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict("user_id"),
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            if db.constraint().is_some_and(|c| c.contains("email")) || db.message().contains("email") {
                StoreError::Conflict("email")
            } else {
                StoreError::Conflict("token")
            }
        }
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c.starts_with("53")) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

impl PgStore {
    pub async fn open(url: &str) -> Result<Self, String> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| format!("bad PostgreSQL URL: {e}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Fail fast while the database is down (503), and recover by itself when it returns.
            .acquire_timeout(Duration::from_secs(2))
            .test_before_acquire(true)
            .connect_with(opts)
            .await
            .map_err(|e| format!("cannot connect to PostgreSQL at {}: {e}", redact_url(url)))?;
        // Several instances may start at once: migrations take an advisory lock in sqlx.
        MIGRATOR.run(&pool).await.map_err(|e| format!("database migration failed: {e}"))?;
        Ok(Self { reader: pool.clone(), writer: pool, metrics: StoreMetrics::default(), url: url.to_owned() })
    }

    /// Starts the task that clears `cache` on every invalidation notice. The cache is on only
    /// while the task is listening: when the connection drops (a notice may be lost), the
    /// cache goes off and empty until a new connection is listening again.
    pub fn listen_for_invalidations(&self, cache: Arc<super::cache::CredentialCache>) {
        let url = self.url.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(50);
            loop {
                let connected = async {
                    let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
                    listener.eager_reconnect(false);
                    listener.listen(INVALIDATION_CHANNEL).await?;
                    // Named only once listening: writers wait for the answers of exactly
                    // the connections so named (see `barrier`). An application name given
                    // in the database URL is kept after a colon, to tell instances apart.
                    sqlx::query(
                        "SELECT set_config('application_name', $1 || CASE current_setting('application_name')
                             WHEN '' THEN '' ELSE ':' || current_setting('application_name') END, false)",
                    )
                    .bind(LISTENER_APP)
                    .execute(&mut listener)
                    .await?;
                    Ok::<_, sqlx::Error>(listener)
                }
                .await;
                let mut listener = match connected {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for invalidations; checks read the database meanwhile");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                };
                backoff = Duration::from_millis(50);
                cache.set_enabled(true);
                while let Ok(Some(notice)) = listener.try_recv().await {
                    cache.clear();
                    if let Some(nonce) = notice.payload().strip_prefix(BARRIER_PREFIX) {
                        // Cleared, and every earlier notice with it: say so.
                        let answered = sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(ACK_CHANNEL)
                            .bind(nonce)
                            .execute(&mut listener)
                            .await;
                        if answered.is_err() {
                            break;
                        }
                    }
                }
                cache.set_enabled(false);
                tracing::warn!("lost the invalidation listener; checks read the database until it is back");
            }
        });
    }
}

/// Serialises throttling decisions per account and per address across every instance:
/// transaction-scoped advisory locks, taken in a fixed order (account, then address).
async fn lock_throttle_keys(tx: &mut sqlx::Transaction<'_, Postgres>, account: &[u8; 32], ip: &str) -> StoreResult<()> {
    // 7_301 / 7_302: this application's advisory-lock namespaces.
    sqlx::query("SELECT pg_advisory_xact_lock(7301, hashtext(encode($1, 'hex')))")
        .bind(account.as_slice())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock(7302, hashtext($1))")
        .bind(ip)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// `FOR SHARE`: a concurrent password change or suspension (an `UPDATE` of this row) waits
/// for this sign-in to commit and then deletes its session, or this sign-in waits for it
/// and sees the new hash.
async fn user_row_for_sign_in(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    user_id: i64,
) -> StoreResult<Option<(Option<String>, bool)>> {
    let row = sqlx::query("SELECT password_hash, suspended FROM users WHERE id = $1 FOR SHARE")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.map(|r| Ok((r.try_get(0).map_err(map_err)?, r.try_get(1).map_err(map_err)?))).transpose()
}

super::sql::sql_store!(PgStore, Postgres, PgRow);
