//! The embedded engine: SQLite in WAL mode. One single-connection writer pool serialises
//! writes (no `SQLITE_BUSY` storms); a reader pool serves concurrent reads.

use super::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows deleted per statement by bulk deletes and the sweeper, so one huge delete never
/// holds the write lock for long.
const DELETE_BATCH: i64 = 1000;

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    metrics: StoreMetrics,
    /// The database file (`None` in memory).
    path: Option<std::path::PathBuf>,
}

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        // The user went away between a check and a write (a concurrent delete).
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict("user_id"),
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let msg = db.message();
            if msg.contains("email") { StoreError::Conflict("email") } else { StoreError::Conflict("token") }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, String> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| format!("bad SQLite URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged sign-in or sign-out survives even a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let filename = opts.get_filename();
        let in_memory = filename.as_os_str().to_string_lossy().starts_with("file:sqlx-in-memory")
            || filename.as_os_str() == ":memory:";
        let path = (!in_memory).then(|| filename.to_path_buf());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            // 16 MiB of page cache for the one writer (the default is 2 MiB): inserts into
            // the random-order token index otherwise re-read pages from the OS all the time.
            .connect_with(opts.clone().pragma("cache_size", "-16384"))
            .await
            .map_err(|e| format!("cannot open the SQLite database: {e}"))?;
        MIGRATOR.run(&writer).await.map_err(|e| format!("database migration failed: {e}"))?;
        let readers = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2).clamp(2, 8) * 2;
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.create_if_missing(false).read_only(true))
            .await
            .map_err(|e| format!("cannot open the SQLite database: {e}"))?;
        Ok(Self { reader, writer, metrics: StoreMetrics::default(), path })
    }

    /// The database file, if it is one (not in memory).
    pub fn file_path(&self) -> Option<std::path::PathBuf> {
        self.path.clone()
    }
}

/// Nothing to wait for: every process compares the shared signal counter before each cached
/// answer ([`super::signal`]), so the bump made with the write is seen by the next request.
async fn confirm_invalidation(_store: &SqliteStore) {}

/// SQLite serialises every write through the single writer connection, so attempts on one
/// account are already serialised; nothing to lock.
async fn lock_throttle_keys(
    _tx: &mut sqlx::Transaction<'_, Sqlite>,
    _account: &[u8; 32],
    _ip: &str,
) -> StoreResult<()> {
    Ok(())
}

/// The single writer connection already serialises the read and the insert.
async fn user_row_for_sign_in(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    user_id: i64,
) -> StoreResult<Option<(Option<String>, bool)>> {
    let row = sqlx::query("SELECT password_hash, suspended FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.map(|r| Ok((r.try_get(0).map_err(map_err)?, r.try_get(1).map_err(map_err)?))).transpose()
}

super::sql::sql_store!(SqliteStore, Sqlite, SqliteRow);
