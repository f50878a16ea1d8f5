//! Fresh databases for tests, on either engine. Shared by the test binaries through
//! `#[path = "../support/mod.rs"] mod support;`.
//!
//! PostgreSQL: each test gets its own schema in the database named by
//! `SESSIOND_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), so
//! tests run in parallel; the schema is dropped when the `TestDb` is. When PostgreSQL is
//! unreachable the test is skipped with a message — except under `CI=true`, where it fails.

#![allow(dead_code)]

pub mod process;

use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    pub engine: Engine,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

pub fn postgres_base_url() -> String {
    std::env::var("SESSIOND_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

impl TestDb {
    /// A fresh, empty database on `engine`; `None` when PostgreSQL is unreachable outside CI.
    pub async fn new(engine: Engine) -> Option<TestDb> {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(TestDb { url, engine, _dir: Some(dir), schema: None })
            }
            Engine::Postgres => {
                let base = postgres_base_url();
                let mut conn = match sqlx::PgConnection::connect(&base).await {
                    Ok(c) => c,
                    Err(e) if !in_ci() => {
                        eprintln!("skipping: PostgreSQL unreachable at {base}: {e}");
                        return None;
                    }
                    Err(e) => panic!("CI=true and PostgreSQL is unreachable at {base}: {e}"),
                };
                let schema = format!("sessiond_t_{:016x}", rand_u64());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create schema");
                let _ = conn.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Some(TestDb { url, engine, _dir: None, schema: Some(schema) })
            }
        }
    }
}

pub fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random");
    u64::from_le_bytes(b)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else { return };
        let base = postgres_base_url();
        // Drop may run inside or outside a runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
