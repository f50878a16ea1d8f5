//! SPEC §8 abuse limits: sign-in throttling [E-18] and the API rate limit [E-24].

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sessiond::domain::Role;

const ME: &str = "/api/v2/users/me";

async fn fail_sign_in(app: &TestApp, email: &str) -> StatusCode {
    app.sign_in_raw(email, "wrong password").await.status()
}

// [E-18] ten failures per 15 minutes per account, then 429 with Retry-After — even for the
// right password — and the window rolls: it ends by itself.
#[tokio::test]
async fn ten_failures_throttle_the_account_until_the_window_rolls() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    for i in 0..10 {
        assert_eq!(fail_sign_in(&app, "ada@example.com").await, StatusCode::UNAUTHORIZED, "failure {i}");
        app.clock.advance(1);
    }
    let r = app.sign_in_raw("ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = header(r.headers(), "retry-after").parse().expect("Retry-After seconds");
    assert_eq!(retry, 15 * 60 - 10, "until the oldest failure leaves the window");
    // Refused attempts do not count: hammering does not extend the lockout.
    for _ in 0..20 {
        assert_eq!(fail_sign_in(&app, "ada@example.com").await, StatusCode::TOO_MANY_REQUESTS);
    }
    app.clock.advance(retry - 1);
    assert_eq!(app.sign_in_raw("ada@example.com", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(1);
    assert_eq!(app.sign_in_raw("ada@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    // Other accounts were never affected.
    app.create_user("bob@example.com", Role::EndUser).await;
    assert_eq!(app.sign_in_raw("bob@example.com", PASSWORD).await.status(), StatusCode::CREATED);
}

// Throttling does not reveal whether an email exists: unknown emails throttle the same way.
#[tokio::test]
async fn unknown_emails_are_throttled_identically() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    for _ in 0..10 {
        fail_sign_in(&app, "ada@example.com").await;
        fail_sign_in(&app, "ghost@example.com").await;
    }
    let known = app.sign_in_raw("ada@example.com", "x").await;
    let unknown = app.sign_in_raw("ghost@example.com", "x").await;
    assert_eq!(known.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(unknown.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(known.headers(), "retry-after"), header(unknown.headers(), "retry-after"));
    assert_eq!(status_json(known).await.1, status_json(unknown).await.1);
}

// [E-18] failures count whether they came from the form, JSON sign-in or Basic auth.
#[tokio::test]
async fn form_json_and_basic_failures_share_one_count() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let token = app.api_token(&user).await;
    for i in 0..10 {
        let status = match i % 3 {
            0 => fail_sign_in(&app, "ada@example.com").await,
            1 => app
                .http
                .post(app.url("/access/login"))
                .form(&[("email", "ada@example.com"), ("password", "nope")])
                .send()
                .await
                .expect("form")
                .status(),
            _ => app.with_auth(Method::GET, ME, &basic("ada@example.com", "nope")).await.status(),
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Now every password path answers 429 with Retry-After, the right password included.
    let r = app.with_auth(Method::GET, ME, &basic("ada@example.com", PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!header(r.headers(), "retry-after").is_empty());
    let r = app
        .http
        .post(app.url("/access/login"))
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("form");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!header(r.headers(), "retry-after").is_empty());
    assert!(r.text().await.expect("html").contains("Too many failed attempts"));
    // Tokens are not passwords: the API token still works.
    assert_eq!(app.with_auth(Method::GET, ME, &basic("ada@example.com/token", &token)).await.status(), StatusCode::OK);
}

// Concurrent wrong passwords admit no more failures than the limit.
#[tokio::test]
async fn parallel_wrong_passwords_admit_exactly_the_limit() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let http = app.http.clone();
        let url = app.url("/access/login");
        tasks.push(tokio::spawn(async move {
            http.post(url)
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
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 10);
}

// Per client address: at most 100 failures per 15 minutes, across accounts.
#[tokio::test]
async fn one_address_is_throttled_across_accounts() {
    let app = TestApp::spawn().await;
    for i in 0..100 {
        // 10 accounts × 10 failures: no account is over its own limit before the address is.
        let email = format!("user{}@example.com", i / 10);
        assert_eq!(fail_sign_in(&app, &email).await, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(fail_sign_in(&app, "fresh@example.com").await, StatusCode::TOO_MANY_REQUESTS);
}

// SPEC §8 rate limit: headers on every authenticated 2xx (never Retry-After), then 429 with
// Retry-After and X-Rate-Limit-Remaining: 0; a new minute starts afresh.
#[tokio::test]
async fn api_rate_limit_headers_and_429() {
    let app = TestApp::spawn_with(|c| c.rate_limit = 5).await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let token = app.api_token(&user).await;
    let auth = basic("ada@example.com/token", &token);
    app.clock.set(T0 - T0 % 60); // the start of a minute
    for remaining in (1..=4).rev() {
        let r = app.with_auth(Method::GET, ME, &auth).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(r.headers(), "x-rate-limit"), "5");
        assert_eq!(header(r.headers(), "x-rate-limit-remaining"), remaining.to_string());
        assert!(r.headers().get("retry-after").is_none());
    }
    // [E-24] a 404 for an authenticated caller counts too (the 5th request).
    let r = app.with_auth(Method::GET, "/api/v2/users/me/session", &auth).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.with_auth(Method::GET, ME, &auth).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(r.headers(), "x-rate-limit-remaining"), "0");
    assert_eq!(header(r.headers(), "retry-after"), "60");
    // Unauthenticated requests are not counted against anyone (and carry no rate headers).
    let r = app.http.get(app.url(ME)).send().await.expect("anon");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("x-rate-limit").is_none());
    // Other users have their own budget.
    let bob = app.create_user("bob@example.com", Role::EndUser).await;
    let bob_token = app.api_token(&bob).await;
    assert_eq!(
        app.with_auth(Method::GET, ME, &basic("bob@example.com/token", &bob_token)).await.status(),
        StatusCode::OK
    );
    app.clock.advance(60);
    let r = app.with_auth(Method::GET, ME, &auth).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(r.headers(), "x-rate-limit-remaining"), "4");
}

// SPEC §8 limits: a client that sends its headers too slowly is cut off, so slow clients
// cannot pin the server.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| c.header_timeout_ms = 300).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(b"GET /api/v2/users/me HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // The server closes the connection (possibly after a 408) instead of waiting forever.
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 5 s");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    // A connection that sends nothing is closed the same way…
    let mut idle = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), idle.read_to_end(&mut Vec::new())).await;
    assert!(read.is_ok(), "silent connection still open after 5 s");
    // …and so is a keep-alive connection left idle after a complete request.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    kept.write_all(b"GET /access/login HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut all = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), kept.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "idle keep-alive connection still open after 5 s");
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
}

// SPEC §8 limits: huge headers are refused (431) and bodies over 64 KiB get 413 JSON.
#[tokio::test]
async fn oversized_headers_and_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let token = app.api_token(&user).await;
    let r = app
        .http
        .get(app.url(ME))
        .header("authorization", basic("ada@example.com/token", &token))
        .header("x-padding", "p".repeat(40 * 1024))
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.to_string().contains("closed"), "{e}"),
    }
    let r = app
        .http
        .post(app.url("/api/v2/api_tokens"))
        .header("authorization", basic("ada@example.com/token", &token))
        .header("content-type", "application/json")
        .body(format!("{{\"api_token\":{{\"description\":\"{}\"}}}}", "d".repeat(65 * 1024)))
        .send()
        .await
        .expect("send");
    let (status, body) = status_json(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "PayloadTooLarge");
    // Just under the limit is read (and refused for its content, not its size).
    let r = app
        .http
        .post(app.url("/api/v2/api_tokens"))
        .header("authorization", basic("ada@example.com/token", &token))
        .header("content-type", "application/json")
        .body(format!("{{\"api_token\":{{\"description\":\"{}\"}}}}", "d".repeat(60 * 1024)))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

// Issue 6 CSRF: the state-changing GETs (renew, GET logout) refuse cross-site browser
// requests when authenticated by cookie; same-site ones and header callers are fine.
#[tokio::test]
async fn cross_site_renew_and_logout_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let token = app.api_token(&user).await;
    let b = app.sign_in("ada@example.com").await;
    let csrf_403 = json!({"error":{"title":"Forbidden","message":"Invalid authenticity token"}});
    for path in ["/api/v2/users/me/session/renew", "/api/v2/users/me/logout"] {
        for (name, value) in [
            ("sec-fetch-site", "cross-site".to_owned()),
            ("origin", "https://evil.example".to_owned()),
            ("origin", "null".to_owned()),
        ] {
            let r = app
                .http
                .get(app.url(path))
                .header("cookie", &b.cookie)
                .header(name, value.clone())
                .send()
                .await
                .expect("send");
            let (status, body) = status_json(r).await;
            assert_eq!((status, body), (StatusCode::FORBIDDEN, csrf_403.clone()), "{path} {name}: {value}");
        }
        // The session survived every refused attempt.
        assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
        // Header-authenticated callers are not browsers: no such rule.
        let r = app
            .http
            .get(app.url(path))
            .header("authorization", basic("ada@example.com/token", &token))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .expect("send");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    // Same-origin browser requests work.
    let r = app
        .http
        .get(app.url("/api/v2/users/me/session/renew"))
        .header("cookie", &b.cookie)
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.base.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .get(app.url("/api/v2/users/me/logout"))
        .header("cookie", &b.cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_401_a(app.me_session(&b).await).await;
}

/// Every value stored in the database, as text, in the forms a thief might try.
async fn dump_database(app: &TestApp) -> Vec<String> {
    use base64::Engine;
    use sqlx::Row;
    let tables = ["users", "sessions", "api_tokens", "oauth_tokens", "sign_in_failures", "security_settings"];
    let mut values = Vec::new();
    let push_bytes = |values: &mut Vec<String>, b: Vec<u8>| {
        values.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b));
        values.push(b.iter().map(|x| format!("{x:02x}")).collect());
        values.push(String::from_utf8_lossy(&b).into_owned());
    };
    match crate::ENGINE {
        crate::support::Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.db.url).await.expect("connect");
            for t in tables {
                for row in
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {t}"))).fetch_all(&pool).await.expect("dump")
                {
                    for i in 0..row.columns().len() {
                        if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                            values.push(s);
                        } else if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                            push_bytes(&mut values, b);
                        }
                    }
                }
            }
        }
        crate::support::Engine::Postgres => {
            let pool = sqlx::PgPool::connect(&app.db.url).await.expect("connect");
            for t in tables {
                for row in
                    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {t}"))).fetch_all(&pool).await.expect("dump")
                {
                    for i in 0..row.columns().len() {
                        if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                            values.push(s);
                        } else if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                            push_bytes(&mut values, b);
                        }
                    }
                }
            }
        }
    }
    values
}

// Secrets at rest: a dump of the database holds no usable token. Every stored value, tried
// as a session cookie, an API token and a bearer token, is refused.
#[tokio::test]
async fn a_database_dump_holds_no_usable_token() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::Admin).await;
    let api = app.api_token(&user).await;
    let oauth = app.oauth_token(&user, &["read", "write"], None).await;
    let b = app.sign_in("ada@example.com").await;
    fail_sign_in(&app, "ada@example.com").await;
    let values = dump_database(&app).await;
    assert!(values.len() > 20, "the dump found the stored values");
    // The real secrets work, and none of them appears in the dump.
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
    for secret in [&api, &oauth, &b.token] {
        assert!(!values.iter().any(|v| v.contains(secret.as_str())), "a secret is stored in clear");
    }
    for v in values.iter().filter(|v| !v.is_empty() && v.len() < 2000) {
        let cookie = format!("sessiond_session={v}");
        if reqwest::header::HeaderValue::from_str(&cookie).is_ok() {
            let r = app.http.get(app.url(ME)).header("cookie", cookie).send().await.expect("send");
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "stored value worked as a cookie");
        }
        let r = app.with_auth(Method::GET, ME, &basic("ada@example.com/token", v)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "stored value worked as an API token");
        if reqwest::header::HeaderValue::from_str(&format!("Bearer {v}")).is_ok() {
            let r = app.with_auth(Method::GET, ME, &format!("Bearer {v}")).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "stored value worked as a bearer token");
        }
    }
}

// Security headers on every HTML page: CSP, no framing, no sniffing, a referrer policy and
// no-store (the back button does not show a signed-in page after sign-out).
#[tokio::test]
async fn html_pages_send_security_headers() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    let pages = [
        app.http.get(app.url("/access/login")).send().await.expect("login page"),
        app.http.get(app.url("/")).header("cookie", &b.cookie).send().await.expect("home"),
        app.http
            .post(app.url("/access/login"))
            .form(&[("email", "ada@example.com"), ("password", "wrong")])
            .send()
            .await
            .expect("failed sign-in"),
    ];
    for r in pages {
        let h = r.headers();
        assert!(header(h, "content-type").starts_with("text/html"));
        let csp = header(h, "content-security-policy");
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header(h, "x-frame-options"), "DENY");
        assert_eq!(header(h, "x-content-type-options"), "nosniff");
        assert_eq!(header(h, "referrer-policy"), "same-origin");
        assert_eq!(header(h, "cache-control"), "no-store");
    }
    // API responses that carry tokens are not stored either.
    let r = app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &b).await;
    assert_eq!(header(r.headers(), "cache-control"), "no-store");
    let r = app.sign_in_raw("ada@example.com", PASSWORD).await;
    assert_eq!(header(r.headers(), "cache-control"), "no-store");
}
