//! PostgreSQL, for several sessiond instances sharing one database. Instances keep no
//! session state in memory: every check reads the database, so a revocation made through
//! any instance (or the CLI) is honoured by all of them on their very next request.

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
        Ok(Self { reader: pool.clone(), writer: pool, metrics: StoreMetrics::default() })
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

super::sql::sql_store!(PgStore, Postgres, PgRow);
