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

// SPEC §8: a chunked body (no declared length) over 64 KiB is refused too, also by a route
// that never reads its body; a small one is not.
#[tokio::test]
async fn oversized_chunked_bodies_are_refused_on_every_route() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::Admin).await;
    let token = app.api_token(&user).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let send = |size: usize| {
        let addr = addr.clone();
        let auth = basic("ada@example.com/token", &token);
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
            let head = format!(
                "POST /api/v2/users/logout_many.json?ids=99 HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await.expect("head");
            let mut left = size;
            while left > 0 {
                let n = left.min(8 * 1024);
                // The server may answer and close as soon as the limit is passed.
                if s.write_all(format!("{n:x}\r\n{}\r\n", "x".repeat(n)).as_bytes()).await.is_err() {
                    break;
                }
                left -= n;
            }
            let _ = s.write_all(b"0\r\n\r\n").await;
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer).await;
            String::from_utf8_lossy(&answer).into_owned()
        }
    };
    let big = send(70 * 1024).await;
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    assert!(big.contains("PayloadTooLarge"), "{big}");
    let small = send(1024).await;
    assert!(small.starts_with("HTTP/1.1 2"), "{small}");
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
            ("sec-fetch-site", "same-site".to_owned()),
            ("sec-fetch-site", "cross-site, same-origin".to_owned()),
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
    // The same loop over either engine's rows.
    macro_rules! collect {
        ($pool:expr) => {
            for t in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {t}")))
                    .fetch_all(&$pool)
                    .await
                    .expect("dump");
                for row in rows {
                    for i in 0..row.len() {
                        if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                            values.push(s);
                        } else if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                            values.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b));
                            values.push(b.iter().map(|x| format!("{x:02x}")).collect());
                            values.push(String::from_utf8_lossy(&b).into_owned());
                        }
                    }
                }
            }
        };
    }
    match crate::ENGINE {
        crate::support::Engine::Sqlite => collect!(sqlx::SqlitePool::connect(&app.db.url).await.expect("connect")),
        crate::support::Engine::Postgres => collect!(sqlx::PgPool::connect(&app.db.url).await.expect("connect")),
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

// Login CSRF: a hostile page cannot sign a browser into another account, neither with a
// form nor with a "simple" text/plain request; API clients (no browser headers) still can.
#[tokio::test]
async fn cross_site_sign_in_is_refused() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let csrf_403 = json!({"error":{"title":"Forbidden","message":"Invalid authenticity token"}});
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let r = app
            .http
            .post(app.url("/access/login"))
            .header(name, value)
            .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .expect("send");
        assert!(r.headers().get("set-cookie").is_none());
        assert_eq!(status_json(r).await, (StatusCode::FORBIDDEN, csrf_403.clone()), "{name}: {value}");
    }
    let r = app
        .http
        .post(app.url("/access/login"))
        .header("content-type", "text/plain")
        .body(json!({"email": "ada@example.com", "password": PASSWORD}).to_string())
        .send()
        .await
        .expect("send");
    assert!(r.headers().get("set-cookie").is_none());
    let (status, body) = status_json(r).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidJSON")));
    // Same-origin browser forms and plain API clients sign in.
    let r = app
        .http
        .post(app.url("/access/login"))
        .header("origin", app.base.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.sign_in_raw("ada@example.com", PASSWORD).await.status(), StatusCode::CREATED);
}

// A declared body over 64 KiB is refused at once (413), before any of it is read.
#[tokio::test]
async fn huge_declared_bodies_are_refused_before_reading() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    stream
        .write_all(b"POST /access/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{")
        .await
        .expect("write");
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("PayloadTooLarge"), "{text}");
}

// HEAD never changes state: a HEAD of the logout path leaves the session alone.
#[tokio::test]
async fn head_logout_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    let r = app.http.head(app.url("/api/v2/users/me/logout")).header("cookie", &b.cookie).send().await.expect("head");
    assert!(r.status().is_success());
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
}

// The last active admin cannot be demoted, suspended or deleted (422); with a second
// admin it can.
#[tokio::test]
async fn the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let me = format!("/api/v2/users/{}", admin.id);
    let auth = basic(&admin.email, PASSWORD);
    let put =
        |body: serde_json::Value| app.http.put(app.url(&me)).header("authorization", auth.clone()).json(&body).send();
    for (body, field) in
        [(json!({"user": {"role": "agent"}}), "role"), (json!({"user": {"suspended": true}}), "suspended")]
    {
        let (status, err) = status_json(put(body).await.expect("put")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err["details"][field].is_array(), "{err}");
    }
    let (status, err) = status_json(app.with_auth(Method::DELETE, &me, &auth).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // Renaming is fine.
    assert_eq!(put(json!({"user": {"name": "Boss"}})).await.expect("put").status(), StatusCode::OK);
    // With another admin, the first may step down.
    app.create_user("second@example.com", Role::Admin).await;
    assert_eq!(put(json!({"user": {"role": "agent"}})).await.expect("put").status(), StatusCode::OK);
}

// A flood of concurrent password checks is bounded: beyond the hashing slots and a short
// queue, requests are refused at once with 503 and Retry-After (never a 500 or a hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_flood_is_refused_not_queued_without_bound() {
    let app = TestApp::spawn_with(|c| {
        c.argon2_m_cost = 8192;
        c.argon2_t_cost = 3;
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..160 {
        let http = app.http.clone();
        let url = app.url("/access/login");
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .json(&json!({"email": format!("nobody{i}@example.com"), "password": "wrong"}))
                .send()
                .await
                .expect("send");
            let retry = r.headers().get("retry-after").is_some();
            let (status, body) = status_json(r).await;
            (status, body, retry)
        }));
    }
    let mut busy = 0;
    for t in tasks {
        let (status, body, retry) = t.await.expect("join");
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"], "ServerBusy");
                assert!(retry);
                busy += 1;
            }
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(busy > 0, "160 simultaneous hashes were all queued");
}

// SPEC §8 "no lockout that a stranger can extend forever": failures from a stranger's
// address do not lock the account out of an address it has signed in from before; from a
// new address the account limit still applies, right password or not [E-18].
#[tokio::test]
async fn strangers_cannot_lock_an_account_out_of_its_known_address() {
    let app = TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let from = |ip: &'static str, password: &'static str| {
        app.http
            .post(app.url("/access/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": "ada@example.com", "password": password}))
            .send()
    };
    // Ada signs in from home once.
    assert_eq!(from("198.51.100.7", PASSWORD).await.expect("send").status(), StatusCode::CREATED);
    // A stranger fails ten times, paced or not, from elsewhere.
    for _ in 0..10 {
        assert_eq!(from("203.0.113.66", "guess").await.expect("send").status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(from("203.0.113.66", "guess").await.expect("send").status(), StatusCode::TOO_MANY_REQUESTS);
    // From a new address the account is throttled, even with the right password…
    assert_eq!(from("192.0.2.1", PASSWORD).await.expect("send").status(), StatusCode::TOO_MANY_REQUESTS);
    // …but from home Ada still signs in.
    assert_eq!(from("198.51.100.7", PASSWORD).await.expect("send").status(), StatusCode::CREATED);
    // Her own failures at home still count against her there.
    for _ in 0..10 {
        assert_eq!(from("198.51.100.7", "typo").await.expect("send").status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(from("198.51.100.7", PASSWORD).await.expect("send").status(), StatusCode::TOO_MANY_REQUESTS);
}
