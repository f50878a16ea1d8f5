//! `bench-peer`: what people build instead of sessiond.
//!
//! axum 0.8 + `tower-sessions` 0.14 with `tower-sessions-sqlx-store` 0.15's SQLite store, used
//! the way its documentation shows. `serve` checks the session cookie on every request by
//! loading it from the store; `seed` fills the store quickly for the benchmark.
//!
//! Cookie name: the crate's default, `id` (we do not configure another). Cookie value: the
//! session id as the crate prints it (`Id`'s `Display`: 22 characters of URL-safe base64).

use std::{fs::File, io::Write, path::PathBuf, time::Instant};

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use clap::{Parser, Subcommand};
use time::{Duration, OffsetDateTime};
use tower_sessions::{
    Session, SessionManagerLayer,
    session::{Id, Record},
};
use tower_sessions_sqlx_store::{
    SqliteStore,
    sqlx::{
        self,
        sqlite::{SqliteConnectOptions, SqlitePool},
    },
};

/// The session key holding the user id (the seeded record is `{"user_id": i}`).
const USER_ID_KEY: &str = "user_id";

/// Rows per INSERT statement while seeding (3 bound values each, well below SQLite's limit).
const SEED_BATCH: usize = 500;

#[derive(Parser)]
#[command(about = "tower-sessions + SQLite peer of the sessiond benchmark")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store's table and fill it with sessions; write some cookie values to a file.
    Seed {
        /// SQLite database file (created if missing).
        #[arg(long)]
        db: PathBuf,
        /// How many sessions to store in all.
        #[arg(long)]
        sessions: usize,
        /// How many of their cookie values to write to --out (the first K stored).
        #[arg(long)]
        live: usize,
        /// File receiving one cookie value per line.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve `GET /api/v2/users/me/session`, loading the session from the store each time.
    Serve {
        /// Address to listen on; port 0 picks a free one (the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// SQLite database file made by `seed`.
        #[arg(long)]
        db: PathBuf,
    },
}

#[tokio::main]
async fn main() {
    match Args::parse().command {
        Command::Seed { db, sessions, live, out } => seed(db, sessions, live, out).await,
        Command::Serve { listen, db } => serve(listen, db).await,
    }
}

/// Opens (or creates) the database with sqlx's default pool, as the crate's examples do.
async fn open(db: &PathBuf, create: bool) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(db).create_if_missing(create);
    SqlitePool::connect_with(options).await.unwrap_or_else(|e| panic!("cannot open {}: {e}", db.display()))
}

/// Seeds the store. Going through `SessionStore::create` would cost one transaction per
/// session; instead we write the store's own row format in one transaction with batched
/// INSERTs, using the very same encodings as `SqliteStore` (see its `save`):
/// `id` = `Id::to_string()`, `data` = `rmp_serde::to_vec(&Record)`, `expiry_date` = the
/// `OffsetDateTime` bound through sqlx 0.8 (RFC 3339 text). `check_one` then proves the rows
/// are readable through the store itself.
async fn seed(db: PathBuf, sessions: usize, live: usize, out: PathBuf) {
    let started = Instant::now();
    let pool = open(&db, true).await;
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.expect("store migration failed");

    let expiry = OffsetDateTime::now_utc() + Duration::days(1);
    let mut cookies = File::create(&out).unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
    let mut first_id = None;
    let mut tx = pool.begin().await.expect("cannot begin the seeding transaction");
    let mut next = 0;
    while next < sessions {
        let batch = SEED_BATCH.min(sessions - next);
        let sql = format!(
            "insert into tower_sessions (id, data, expiry_date) values {}",
            vec!["(?, ?, ?)"; batch].join(", ")
        );
        let mut query = sqlx::query(&sql);
        for i in next..next + batch {
            // A fresh random id from the crate's own generator, as `Session` would make.
            let mut record = Record { id: Id::default(), data: Default::default(), expiry_date: expiry };
            record.data.insert(USER_ID_KEY.to_owned(), serde_json::json!(i));
            let data = rmp_serde::to_vec(&record).expect("a record always encodes");
            if i < live {
                writeln!(cookies, "{}", record.id).expect("cannot write the cookie file");
            }
            first_id.get_or_insert(record.id);
            query = query.bind(record.id.to_string()).bind(data).bind(record.expiry_date);
        }
        query.execute(&mut *tx).await.expect("seeding insert failed");
        next += batch;
    }
    tx.commit().await.expect("cannot commit the seeding transaction");
    cookies.flush().expect("cannot write the cookie file");

    if let Some(id) = first_id {
        check_one(&store, id).await;
    }
    eprintln!("seeded {sessions} sessions ({live} cookies written) in {:.1} s", started.elapsed().as_secs_f64());
}

/// Loads one seeded session back through the store's own `load`; panics if it is not found.
async fn check_one(store: &SqliteStore, id: Id) {
    use tower_sessions::SessionStore;
    let record = store.load(&id).await.expect("store load failed").expect("seeded session not found by the store");
    assert!(record.data.contains_key(USER_ID_KEY), "seeded session lacks {USER_ID_KEY}");
}

async fn serve(listen: String, db: PathBuf) {
    let store = SqliteStore::new(open(&db, false).await);
    // Defaults otherwise: cookie `id`, session cookie (no expiry), Secure flag set (which only
    // matters to browsers; the driver sends the Cookie header regardless).
    let app = Router::new().route("/api/v2/users/me/session", get(me)).layer(SessionManagerLayer::new(store));

    let listener =
        tokio::net::TcpListener::bind(&listen).await.unwrap_or_else(|e| panic!("cannot listen on {listen}: {e}"));
    let addr = listener.local_addr().expect("bound socket has a local address");
    println!("listening on {addr}");
    axum::serve(listener, app).await.expect("server failed");
}

/// The peer's session check: reading a key makes tower-sessions load the record from the store.
async fn me(session: Session) -> impl IntoResponse {
    match session.get::<i64>(USER_ID_KEY).await {
        Ok(Some(user_id)) => (StatusCode::OK, Json(serde_json::json!({ "session": { "user_id": user_id } }))),
        Ok(None) => (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": "Couldn't authenticate you" }))),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "error": "session store failed" }))),
    }
}
