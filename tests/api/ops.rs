//! Operating sessiond: the probes, /metrics, and the credential cache seen from outside —
//! every way of ending a credential is honoured on the very next request even while the
//! credential is answered from memory.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sessiond::domain::Role;

fn hits(app: &TestApp) -> u64 {
    app.state.store.metrics().cache_hits.load(std::sync::atomic::Ordering::SeqCst)
}

/// Asks until the credential is answered from the cache (PostgreSQL turns the cache on once
/// its listener is listening), so the revocation that follows is tested against a cached copy.
async fn until_cached(app: &TestApp, ask: impl AsyncFn() -> StatusCode) {
    for _ in 0..200 {
        assert_eq!(ask().await, StatusCode::OK);
        let before = hits(app);
        assert_eq!(ask().await, StatusCode::OK);
        if hits(app) > before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the credential was never answered from the cache");
}

#[tokio::test]
async fn probes_and_metrics_need_no_credentials_and_count_requests() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.http.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(r.status(), StatusCode::OK);

    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
    }
    let r = app.http.get(app.url("/api/v2/users/me/session")).send().await.expect("anonymous");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.http.get(app.url("/api/v2/users/me/session.json")).header("cookie", &b.cookie).send().await;
    assert_eq!(r.expect("json form").status(), StatusCode::OK);
    let r = app.http.get(app.url("/no/such/thing/42")).send().await.expect("unmatched");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = app.http.get(app.url("/metrics")).send().await.expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(r.headers(), "content-type").starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.expect("text");
    let sample = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .map(|l| l.rsplit(' ').next().expect("value").parse().expect("number"))
    };
    // Route patterns, never raw paths: the .json form and the plain one are one series.
    assert_eq!(sample(r#"sessiond_http_requests_total{route="/api/v2/users/me/session",status="200"}"#), Some(4.0));
    assert_eq!(sample(r#"sessiond_http_requests_total{route="/api/v2/users/me/session",status="401"}"#), Some(1.0));
    assert_eq!(sample(r#"sessiond_http_requests_total{route="unmatched",status="404"}"#), Some(1.0));
    assert!(!text.contains("/no/such/thing"), "raw paths must not become series");
    assert_eq!(sample(r#"sessiond_http_request_duration_seconds_count{route="/api/v2/users/me/session"}"#), Some(5.0));
    assert_eq!(
        sample(r#"sessiond_http_request_duration_seconds_bucket{route="/api/v2/users/me/session",le="+Inf"}"#),
        Some(5.0)
    );
    // Signed in just now: no activity to record yet.
    assert_eq!(sample(r#"sessiond_store_writes_total{kind="last_seen"}"#), Some(0.0));
    assert!(sample("sessiond_credential_cache_hits_total").is_some());
    assert!(sample("sessiond_credential_cache_misses_total").expect("misses") >= 1.0);
    // No secret ever appears.
    assert!(!text.contains(&b.token));
}

#[tokio::test]
async fn activity_is_one_write_per_session_per_resolution_in_metrics() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    app.clock.advance(61);
    for _ in 0..20 {
        assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
    }
    let text = app.http.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(text.lines().any(|l| l == r#"sessiond_store_writes_total{kind="last_seen"} 1"#), "{text}");
    // And the write reached the database: the listing shows it.
    let admin = app.admin().await;
    let r = app.as_admin(Method::GET, &format!("/api/v2/users/{}/sessions", b.user_id), &admin).await;
    let (_, body) = status_json(r).await;
    assert_eq!(body["sessions"][0]["last_seen_at"], sessiond::domain::time::format_timestamp(app.clock_now()));
}

#[tokio::test]
async fn every_revocation_is_honoured_at_once_while_cached() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let admin_auth = basic(&admin.email, PASSWORD);
    let admin_call = |method: Method, path: String, body: Option<serde_json::Value>| {
        let mut req = app.http.request(method, app.url(&path)).header("authorization", &admin_auth);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move { req.send().await.expect("admin call").status() }
    };

    // Ways of ending a cookie session.
    type Revoke = fn(i64, i64) -> (Method, String, Option<serde_json::Value>);
    let revocations: [(&str, Revoke); 5] = [
        ("delete the session", |u, s| (Method::DELETE, format!("/api/v2/users/{u}/sessions/{s}"), None)),
        ("delete the user's sessions", |u, _| (Method::DELETE, format!("/api/v2/users/{u}/sessions"), None)),
        ("suspend the user", |u, _| {
            (Method::PUT, format!("/api/v2/users/{u}"), Some(json!({"user": {"suspended": true}})))
        }),
        ("set a new password", |u, _| {
            (Method::PUT, format!("/api/v2/users/{u}/password"), Some(json!({"password": "another long password"})))
        }),
        ("delete the user", |u, _| (Method::DELETE, format!("/api/v2/users/{u}"), None)),
    ];
    for (i, (what, revoke)) in revocations.iter().enumerate() {
        let email = format!("user{i}@example.com");
        app.create_user(&email, Role::EndUser).await;
        let b = app.sign_in(&email).await;
        until_cached(&app, async || app.me_session(&b).await.status()).await;
        let (method, path, body) = revoke(b.user_id, b.session_id);
        let status = admin_call(method, path, body).await;
        assert!(status.is_success(), "{what}: {status}");
        assert_eq!(app.me_session(&b).await.status(), StatusCode::UNAUTHORIZED, "{what}: still signed in");
    }

    // Shortening the timeout ends a session that is idle longer than the new one.
    app.create_user("idle@example.com", Role::EndUser).await;
    let b = app.sign_in("idle@example.com").await;
    until_cached(&app, async || app.me_session(&b).await.status()).await;
    app.clock.advance(5 * 60);
    let mut last = StatusCode::OK;
    for _ in 0..3 {
        last = app.me_session(&b).await.status();
    }
    assert_eq!(last, StatusCode::OK, "five minutes idle is fine under the default timeout");
    app.clock.advance(4 * 60);
    let settings = json!({"security_settings": {"end_user_session_timeout": 2}});
    assert!(admin_call(Method::PUT, "/api/v2/security_settings".into(), Some(settings)).await.is_success());
    assert_eq!(app.me_session(&b).await.status(), StatusCode::UNAUTHORIZED, "timeout shortened: ended");

    // API tokens and OAuth tokens.
    let user = app.create_user("tok@example.com", Role::EndUser).await;
    let token = app.api_token(&user).await;
    let token_auth = basic(&format!("{}/token", user.email), &token);
    let ask_token = async || app.with_auth(Method::GET, "/api/v2/users/me", &token_auth).await.status();
    until_cached(&app, ask_token).await;
    let r = app.with_auth(Method::GET, "/api/v2/api_tokens", &token_auth).await;
    let (_, list) = status_json(r).await;
    let id = list["api_tokens"][0]["id"].as_i64().expect("token id");
    assert!(admin_call(Method::DELETE, format!("/api/v2/api_tokens/{id}"), None).await.is_success());
    assert_eq!(ask_token().await, StatusCode::UNAUTHORIZED, "deleted API token still accepted");

    let bearer = app.oauth_token(&user, &["read", "write"], None).await;
    let bearer_auth = format!("Bearer {bearer}");
    let ask_bearer = async || app.with_auth(Method::GET, "/api/v2/users/me", &bearer_auth).await.status();
    until_cached(&app, ask_bearer).await;
    // Suspending the owner ends every kind of credential.
    let suspend = json!({"user": {"suspended": true}});
    assert!(admin_call(Method::PUT, format!("/api/v2/users/{}", user.id), Some(suspend)).await.is_success());
    assert_eq!(ask_bearer().await, StatusCode::UNAUTHORIZED, "suspended user's bearer token still accepted");
}
