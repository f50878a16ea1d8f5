//! The test harness: a real sessiond on 127.0.0.1:0 with its own fresh database and a
//! manual clock, and typed helpers so each test reads as a scenario.

#![allow(dead_code)]

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sessiond::AppState;
use sessiond::clock::ManualClock;
use sessiond::config::Config;
use sessiond::domain::secret::new_secret;
use sessiond::domain::{Role, User};
use sessiond::store::{self, NewUser};
use std::sync::Arc;

pub const T0: i64 = 1_700_000_000;
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub db: crate::support::TestDb,
}

/// A signed-in browser: the cookie pair and the authenticity token from sign-in.
#[derive(Clone, Debug)]
pub struct Browser {
    pub cookie: String,
    pub token: String,
    pub csrf: String,
    pub session_id: i64,
    pub user_id: i64,
}

pub fn basic(user: &str, secret: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

/// A fresh database on this binary's engine ([`crate::ENGINE`]). Outside CI, an unreachable
/// PostgreSQL falls back to SQLite with a loud warning; under `CI=true` it fails the test.
pub async fn test_db() -> crate::support::TestDb {
    use crate::support::{Engine, TestDb};
    if let Some(db) = TestDb::new(crate::ENGINE).await {
        return db;
    }
    eprintln!("WARNING: PostgreSQL is unreachable; this test ran on SQLite, NOT on PostgreSQL");
    TestDb::new(Engine::Sqlite).await.expect("sqlite test database")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let db = test_db().await;
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url: db.url.clone(),
            // Cheap hashes keep the suite fast; production uses the recommended cost.
            argon2_m_cost: 1024,
            argon2_t_cost: 1,
            ..Config::default()
        };
        configure(&mut config);
        let store = store::open(&config.database_url).await.expect("open store");
        let listener = tokio::net::TcpListener::bind(config.listen).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        config.listen = addr;
        let clock = ManualClock::new(T0);
        let state = AppState::new(config, store, clock.clone()).expect("state");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sessiond::server::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { base: format!("http://{addr}"), state, clock, http, shutdown: Some(tx), server: Some(server), db }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn create_user(&self, email: &str, role: Role) -> User {
        let hash = self.state.hash_password(PASSWORD.into()).await.expect("hash");
        self.state
            .store
            .create_user(
                NewUser { name: format!("User {email}"), email: email.into(), role, password_hash: Some(hash) },
                self.clock_now(),
            )
            .await
            .expect("create user")
    }

    pub fn clock_now(&self) -> i64 {
        use sessiond::clock::Clock;
        self.clock.now()
    }

    pub async fn admin(&self) -> User {
        self.create_user("admin@example.com", Role::Admin).await
    }

    pub async fn api_token(&self, user: &User) -> String {
        let s = new_secret();
        self.state.store.create_api_token(user.id, "test", &s.digest, self.clock_now()).await.expect("token");
        s.plaintext
    }

    pub async fn oauth_token(&self, user: &User, scopes: &[&str], expires_at: Option<i64>) -> String {
        let s = new_secret();
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.state
            .store
            .create_oauth_token(user.id, &scopes, &s.digest, self.clock_now(), expires_at)
            .await
            .expect("oauth token");
        s.plaintext
    }

    /// JSON sign-in; panics unless it succeeds.
    pub async fn sign_in(&self, email: &str) -> Browser {
        let r = self.sign_in_raw(email, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::CREATED, "sign-in of {email} failed");
        let set_cookie = r.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).expect("set-cookie").to_owned();
        let pair = set_cookie.split(';').next().expect("cookie pair").to_owned();
        let token = pair.split_once('=').map(|(_, v)| v.to_owned()).expect("cookie value");
        let body: Value = r.json().await.expect("json");
        Browser {
            cookie: pair,
            token,
            csrf: body["authenticity_token"].as_str().expect("authenticity_token").to_owned(),
            session_id: body["session"]["id"].as_i64().expect("session id"),
            user_id: body["session"]["user_id"].as_i64().expect("user id"),
        }
    }

    pub async fn sign_in_raw(&self, email: &str, password: &str) -> Response {
        self.http
            .post(self.url("/access/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("request")
    }

    /// A request with a cookie (and, for writes, its CSRF token).
    pub async fn as_browser(&self, method: Method, path: &str, b: &Browser) -> Response {
        let mut req = self.http.request(method.clone(), self.url(path)).header(COOKIE, &b.cookie);
        if method != Method::GET {
            req = req.header("X-CSRF-Token", &b.csrf);
        }
        req.send().await.expect("request")
    }

    /// A request with an `Authorization` header value.
    pub async fn with_auth(&self, method: Method, path: &str, authorization: &str) -> Response {
        self.http.request(method, self.url(path)).header(AUTHORIZATION, authorization).send().await.expect("request")
    }

    pub async fn as_admin(&self, method: Method, path: &str, admin: &User) -> Response {
        self.with_auth(method, path, &basic(&admin.email, PASSWORD)).await
    }

    pub async fn me_session(&self, b: &Browser) -> Response {
        self.as_browser(Method::GET, "/api/v2/users/me/session", b).await
    }

    pub fn store_writes(&self) -> u64 {
        self.state.store.metrics().last_seen_writes.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Status and JSON body of a response.
pub async fn status_json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub fn unauthenticated_a() -> Value {
    json!({ "error": "Couldn't authenticate you" })
}

pub fn role_forbidden() -> Value {
    json!({ "error": { "title": "Forbidden", "message": "You do not have access to this page. Please contact the account owner of this help desk for further help." } })
}

pub fn not_found() -> Value {
    json!({ "error": "RecordNotFound", "description": "Not found" })
}

/// Asserts a 401 "A" with the exact body and header [C-8].
pub async fn assert_401_a(r: Response) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(r.headers(), "www-authenticate"), "Basic realm=\"Web Password\"");
    assert_eq!(header(r.headers(), "content-type"), "application/json; charset=utf-8");
    assert_eq!(r.json::<Value>().await.expect("json"), unauthenticated_a());
}
