//! Several real `sessiond serve` processes on one PostgreSQL database (SPEC §9): they share
//! nothing but the database, so what one does the others honour at once.

#[path = "support/mod.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::process::{Server, sessiond};
use support::{Engine, TestDb, rand_u64};

const PASSWORD: &str = "correct horse battery";

async fn setup() -> Option<TestDb> {
    let db = TestDb::new(Engine::Postgres).await?;
    for (email, role) in [("admin@example.com", "admin"), ("ada@example.com", "end-user")] {
        let out = sessiond(
            &db.url,
            &["user", "add", "--email", email, "--name", "N", "--role", role, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    Some(db)
}

async fn sign_in(http: &reqwest::Client, base: &str, email: &str) -> Result<(String, i64), reqwest::StatusCode> {
    let r = http
        .post(format!("{base}/access/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if r.status() != StatusCode::CREATED {
        return Err(r.status());
    }
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let body: Value = r.json().await.expect("json");
    Ok((cookie, body["session"]["id"].as_i64().expect("id")))
}

async fn me(http: &reqwest::Client, base: &str, cookie: &str) -> StatusCode {
    http.get(format!("{base}/api/v2/users/me/session")).header("cookie", cookie).send().await.expect("me").status()
}

#[tokio::test]
async fn two_instances_share_sessions_and_revocations() {
    let Some(db) = setup().await else { return };
    let a = Server::start(&db.url);
    let b = Server::start(&db.url);
    let http = reqwest::Client::new();

    // Sign in through A, see the session through B.
    let (cookie, id) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in");
    let r = http.get(format!("{}/api/v2/users/me/session", b.base)).header("cookie", &cookie).send().await.expect("b");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["session"]["id"], id);
    let r = http
        .get(format!("{}/api/v2/users/2/sessions/{id}", b.base))
        .basic_auth("admin@example.com", Some(PASSWORD))
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), StatusCode::OK);

    // Delete through B: A refuses the cookie within 1 s (in fact on the next request).
    let r = http
        .delete(format!("{}/api/v2/users/2/sessions/{id}", b.base))
        .basic_auth("admin@example.com", Some(PASSWORD))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if me(&http, &a.base, &cookie).await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(Instant::now() < deadline, "instance A still accepts a session revoked through B");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[tokio::test]
async fn bulk_delete_racing_sign_ins_leaves_nothing_from_before() {
    let Some(db) = setup().await else { return };
    let a = Server::start(&db.url);
    let b = Server::start(&db.url);
    let http = reqwest::Client::new();

    let mut before = Vec::new();
    for _ in 0..30 {
        before.push(sign_in(&http, &b.base, "ada@example.com").await.expect("sign in"));
    }
    // B keeps signing in while A bulk-deletes.
    let b_base = b.base.clone();
    let racer_http = http.clone();
    let racer = tokio::spawn(async move {
        let mut made = Vec::new();
        for _ in 0..40 {
            made.push(sign_in(&racer_http, &b_base, "ada@example.com").await.expect("sign in"));
        }
        made
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let r = http
        .delete(format!("{}/api/v2/users/2/sessions", a.base))
        .basic_auth("admin@example.com", Some(PASSWORD))
        .send()
        .await
        .expect("bulk delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let during = racer.await.expect("racer");

    // Every session created before the delete started is gone, on both instances.
    for (cookie, _) in &before {
        assert_eq!(me(&http, &a.base, cookie).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me(&http, &b.base, cookie).await, StatusCode::UNAUTHORIZED);
    }
    // Those made during the race are either gone or alive, consistently on both, and the
    // list shows exactly the alive ones (nothing resurrected, nothing phantom).
    let mut alive = Vec::new();
    for (cookie, id) in &during {
        let (sa, sb) = (me(&http, &a.base, cookie).await, me(&http, &b.base, cookie).await);
        assert_eq!(sa, sb);
        if sa == StatusCode::OK {
            alive.push(*id);
        }
    }
    let r = http
        .get(format!("{}/api/v2/users/2/sessions?per_page=100", a.base))
        .basic_auth("admin@example.com", Some(PASSWORD))
        .send()
        .await
        .expect("list");
    let body: Value = r.json().await.expect("json");
    let mut listed: Vec<i64> =
        body["sessions"].as_array().expect("sessions").iter().filter_map(|s| s["id"].as_i64()).collect();
    listed.sort_unstable();
    alive.sort_unstable();
    assert_eq!(listed, alive);
}

#[tokio::test]
async fn database_connection_loss_gives_503_then_recovers() {
    use sqlx::Connection;
    let Some(db) = setup().await else { return };
    // Name this server's connections so that only they are cut (other tests run in parallel).
    let app_name = format!("sessiond_restart_{}", std::process::id());
    let url = format!("{}&application_name={app_name}", db.url);
    let a = Server::start(&url);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");

    // Load: sign-ins and session checks in a loop, remembering every acknowledged sign-in.
    let base = a.base.clone();
    let load_http = http.clone();
    let load = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        let mut failures = Vec::new();
        for _ in 0..60 {
            match sign_in(&load_http, &base, "ada@example.com").await {
                Ok(s) => {
                    let status = me(&load_http, &base, &s.0).await;
                    if status != StatusCode::OK {
                        failures.push(status);
                    }
                    acknowledged.push(s);
                }
                Err(status) => failures.push(status),
            }
        }
        (acknowledged, failures)
    });
    // Meanwhile, terminate every database connection of this server, a few times.
    let mut admin = sqlx::PgConnection::connect(&support::postgres_base_url()).await.expect("admin connection");
    let mut terminated = 0i64;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&app_name)
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
        terminated += n;
    }
    let (acknowledged, failures) = load.await.expect("load");
    assert!(terminated > 0, "the test cut no connection");
    eprintln!("terminated {terminated} connections; {} requests failed: {failures:?}", failures.len());
    // Failures, if any, were 503s (JSON), never 500s or hangs.
    assert!(failures.iter().all(|s| *s == StatusCode::SERVICE_UNAVAILABLE), "{failures:?}");
    // It recovers by itself: the next requests succeed.
    let (cookie, _) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in after recovery");
    assert_eq!(me(&http, &a.base, &cookie).await, StatusCode::OK);
    // No acknowledged sign-in was lost.
    for (cookie, _) in &acknowledged {
        assert_eq!(me(&http, &a.base, cookie).await, StatusCode::OK);
    }
    assert!(!acknowledged.is_empty());
}

// SPEC §8 across instances: 200 parallel wrong passwords through two instances admit no
// more failures than the limit (the counters live in the database, under a lock).
#[tokio::test]
async fn parallel_wrong_passwords_through_two_instances_admit_the_limit() {
    let Some(db) = setup().await else { return };
    let a = Server::start(&db.url);
    let b = Server::start(&db.url);
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/access/login"))
                .json(&json!({"email": "ada@example.com", "password": "wrong"}))
                .send()
                .await
                .expect("send")
                .status()
        }));
    }
    let mut checked = 0;
    for t in tasks {
        match t.await.expect("join") {
            StatusCode::UNAUTHORIZED => checked += 1,
            // Throttled, or refused before any check because too many hashes were queued.
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 10, "failures admitted across both instances");
    // The right password is refused too while throttled, on either instance.
    assert!(sign_in(&http, &b.base, "ada@example.com").await.is_err());
}

/// The sum of one counter in an instance's /metrics.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Makes B answer this cookie from its cache (its listener is up and the entry is filled).
async fn cached_on(http: &reqwest::Client, base: &str, cookie: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert_eq!(me(http, base, cookie).await, StatusCode::OK);
        let before = metric(http, base, "sessiond_credential_cache_hits_total").await;
        assert_eq!(me(http, base, cookie).await, StatusCode::OK);
        if metric(http, base, "sessiond_credential_cache_hits_total").await > before {
            return;
        }
        assert!(Instant::now() < deadline, "{base} never answered from its cache");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// The cache must not weaken revocation across instances: B answers a cookie from memory, A
// revokes it, and the very next request to B — sent as soon as A has answered — is refused.
// Thirty rounds, no retries.
#[tokio::test]
async fn revocation_through_one_instance_is_refused_by_the_next_request_to_another() {
    let Some(db) = setup().await else { return };
    let a = Server::start(&db.url);
    let b = Server::start(&db.url);
    let http = reqwest::Client::new();
    let mut refused = 0;
    for round in 0..30 {
        let (cookie, id) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in");
        cached_on(&http, &b.base, &cookie).await;
        let r = http
            .delete(format!("{}/api/v2/users/2/sessions/{id}", a.base))
            .basic_auth("admin@example.com", Some(PASSWORD))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let status = me(&http, &b.base, &cookie).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "round {round}: B still accepted a revoked session");
        refused += 1;
    }
    assert_eq!(refused, 30);
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

// Why the next request to another instance is refused: a revoking write is answered only
// after every listening instance has said it dropped its cache. A stand-in listener that
// answers each barrier 300 ms late holds the DELETE at least that long.
#[tokio::test]
async fn a_revocation_is_answered_only_once_every_listener_has_heard_it() {
    let Some(db) = setup().await else { return };
    let a = Server::start(&db.url);
    let http = reqwest::Client::new();
    let (_cookie, id) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in");

    let mut standin = sqlx::postgres::PgListener::connect(&db.url).await.expect("connect");
    standin.listen("sessiond_invalidate").await.expect("listen");
    sqlx::query("SET application_name = 'sessiond-listener:stand-in'").execute(&mut standin).await.expect("name");
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let answering = tokio::spawn(async move {
        let mut answered = 0;
        loop {
            let notice = tokio::select! {
                n = standin.recv() => n.expect("notice"),
                _ = &mut stopped => return answered,
            };
            if let Some(nonce) = notice.payload().strip_prefix("barrier:") {
                tokio::time::sleep(Duration::from_millis(300)).await;
                sqlx::query("SELECT pg_notify('sessiond_invalidation_heard', $1)")
                    .bind(nonce)
                    .execute(&mut standin)
                    .await
                    .expect("answer");
                answered += 1;
            }
        }
    });

    let started = Instant::now();
    let r = http
        .delete(format!("{}/api/v2/users/2/sessions/{id}", a.base))
        .basic_auth("admin@example.com", Some(PASSWORD))
        .send()
        .await
        .expect("delete");
    let took = started.elapsed();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(took >= Duration::from_millis(300), "answered before the stand-in listener had heard it: {took:?}");
    assert!(took < Duration::from_secs(2), "the barrier ran out instead of being answered: {took:?}");
    let _ = stop.send(());
    assert!(answering.await.expect("stand-in") >= 1);
    assert!(a.terminate().success());
}

// Whoever writes the database is heard: a session deleted by hand in SQL (no sessiond
// involved) is refused by an instance that had it cached.
#[tokio::test]
async fn a_session_deleted_by_hand_in_sql_is_refused_by_a_caching_instance() {
    use sqlx::Connection;
    let Some(db) = setup().await else { return };
    let a = Server::start(&db.url);
    let http = reqwest::Client::new();
    let (cookie, id) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in");
    cached_on(&http, &a.base, &cookie).await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let n = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&mut conn).await.expect("delete");
    assert_eq!(n.rows_affected(), 1);
    // The notice travels with the commit; allow the listener a moment, as a client would.
    let deadline = Instant::now() + Duration::from_millis(500);
    while me(&http, &a.base, &cookie).await != StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "a session deleted in SQL is still accepted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(a.terminate().success());
}

// Losing the listening connection loses notices: the instance must stop trusting its cache
// until it listens again. Cut only the listener, revoke by hand meanwhile, and the cached
// session must still be refused.
#[tokio::test]
async fn losing_the_listener_turns_the_cache_off_until_it_listens_again() {
    use sqlx::Connection;
    let Some(db) = setup().await else { return };
    let app_name = format!("t{}_{}", std::process::id(), rand_u64() % 1_000_000);
    let a = Server::start(&format!("{}&application_name={app_name}", db.url));
    let http = reqwest::Client::new();
    let (cookie, id) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in");
    let (other, _) = sign_in(&http, &a.base, "ada@example.com").await.expect("sign in");
    cached_on(&http, &a.base, &cookie).await;
    // Once listening, the listener renames itself `sessiond-listener:<the URL's name>`.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind(format!("sessiond-listener:{app_name}"))
    .fetch_one(&mut conn)
    .await
    .expect("terminate");
    assert_eq!(cut, 1, "exactly one listening connection");
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&mut conn).await.expect("delete");
    let deadline = Instant::now() + Duration::from_millis(500);
    while me(&http, &a.base, &cookie).await != StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "a revocation made while the listener was down is still ignored");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // And the cache comes back once the listener does.
    cached_on(&http, &a.base, &other).await;
    assert!(a.terminate().success());
}
