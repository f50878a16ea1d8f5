//! SPEC §3: the four credential carriers, their exact failures, OAuth scopes and CSRF.

use crate::common::*;
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE};
use serde_json::json;
use sessiond::domain::Role;

const ME: &str = "/api/v2/users/me";

fn invalid_token_body() -> serde_json::Value {
    json!({
        "error": "invalid_token",
        "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."
    })
}

// [C-8] password, API token and cookie each accepted; wrong ones get 401 A exactly.
#[tokio::test]
async fn basic_password_and_api_token_are_accepted_and_refused_with_401_a() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::Agent).await;
    let token = app.api_token(&user).await;

    let (s, body) = status_json(app.with_auth(Method::GET, ME, &basic("ada@example.com", PASSWORD)).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["id"], user.id);
    // Email is case-insensitive.
    let r = app.with_auth(Method::GET, ME, &basic("ADA@Example.com", PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = app.with_auth(Method::GET, ME, &basic("ada@example.com/token", &token)).await;
    assert_eq!(r.status(), StatusCode::OK);

    assert_401_a(app.with_auth(Method::GET, ME, &basic("ada@example.com", "wrong password")).await).await;
    assert_401_a(app.with_auth(Method::GET, ME, &basic("nobody@example.com", PASSWORD)).await).await;
    assert_401_a(app.with_auth(Method::GET, ME, &basic("ada@example.com/token", "not-a-token")).await).await;
    // The token belongs to ada: presenting it with another email fails.
    app.create_user("bob@example.com", Role::Agent).await;
    assert_401_a(app.with_auth(Method::GET, ME, &basic("bob@example.com/token", &token)).await).await;
    // A token of the right shape that was never issued.
    let forged = "A".repeat(43);
    assert_401_a(app.with_auth(Method::GET, ME, &basic("ada@example.com/token", &forged)).await).await;
}

// [C-9] no credentials on an API path: 401 A, never an anonymous user.
#[tokio::test]
async fn no_credentials_is_401_a_everywhere() {
    let app = TestApp::spawn().await;
    for path in [
        ME,
        "/api/v2/sessions",
        "/api/v2/users/me/session",
        "/api/v2/users/1/sessions",
        "/api/v2/users/me/session/renew",
    ] {
        assert_401_a(app.http.get(app.url(path)).send().await.expect("request")).await;
    }
    assert_401_a(app.http.delete(app.url("/api/v2/users/me/logout")).send().await.expect("request")).await;
}

// [C-10] bearer tokens: accepted; unknown, malformed, empty or expired → 401 B.
#[tokio::test]
async fn oauth_bearer_is_accepted_and_bad_ones_get_401_b() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let token = app.oauth_token(&user, &["read", "write"], None).await;
    for auth in [format!("Bearer {token}"), format!("bearer {token}"), format!("  BEARER   {token}  ")] {
        let r = app.with_auth(Method::GET, ME, &auth).await;
        assert_eq!(r.status(), StatusCode::OK, "{auth:?}");
    }
    for auth in
        ["Bearer ".to_owned(), "Bearer".to_owned(), "Bearer nope".to_owned(), format!("Bearer {}", "B".repeat(43))]
    {
        let r = app.with_auth(Method::GET, ME, &auth).await;
        let (s, body) = status_json(r).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body, invalid_token_body(), "{auth:?}");
    }
    // [E-13] an expired token is 401 B.
    let expiring = app.oauth_token(&user, &["read"], Some(app.clock_now() + 10)).await;
    assert_eq!(app.with_auth(Method::GET, ME, &format!("Bearer {expiring}")).await.status(), StatusCode::OK);
    app.clock.advance(10);
    let (s, body) = status_json(app.with_auth(Method::GET, ME, &format!("Bearer {expiring}")).await).await;
    assert_eq!((s, body), (StatusCode::UNAUTHORIZED, invalid_token_body()));
}

// [C-11] [E-13] read allows GET; DELETE needs write.
#[tokio::test]
async fn oauth_scopes_gate_methods() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let read = app.oauth_token(&user, &["read"], None).await;
    let write = app.oauth_token(&user, &["write"], None).await;

    assert_eq!(app.with_auth(Method::GET, ME, &format!("Bearer {read}")).await.status(), StatusCode::OK);
    let (s, body) =
        status_json(app.with_auth(Method::DELETE, "/api/v2/users/me/logout", &format!("Bearer {read}")).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"error":"Forbidden","description":"You are missing the following required scopes: write"}));

    let (s, body) = status_json(app.with_auth(Method::GET, ME, &format!("Bearer {write}")).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"error":"Forbidden","description":"You are missing the following required scopes: read"}));
    assert_eq!(
        app.with_auth(Method::DELETE, "/api/v2/users/me/logout", &format!("Bearer {write}")).await.status(),
        StatusCode::NO_CONTENT
    );
}

// [C-12] cookie writes need a valid X-CSRF-Token; GET needs none.
#[tokio::test]
async fn cookie_writes_need_the_authenticity_token() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    let csrf_403 = json!({"error":{"title":"Forbidden","message":"Invalid authenticity token"}});

    // GET with the cookie alone works.
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);

    let delete = |token: Option<String>| {
        let mut req = app.http.delete(app.url("/api/v2/users/me/logout")).header(COOKIE, &b.cookie);
        if let Some(t) = token {
            req = req.header("X-CSRF-Token", t);
        }
        req.send()
    };
    for bad in [None, Some(String::new()), Some("garbage".into()), Some(b.token.clone()), Some("é".into())] {
        let (s, body) = status_json(delete(bad.clone()).await.expect("request")).await;
        assert_eq!((s, body), (StatusCode::FORBIDDEN, csrf_403.clone()), "{bad:?}");
    }
    // A valid token of another session is not valid for this one.
    let other = app.sign_in("ada@example.com").await;
    let (s, _) = status_json(delete(Some(other.csrf.clone())).await.expect("request")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The session survived every refused attempt; the right token signs it out.
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
    assert_eq!(delete(Some(b.csrf.clone())).await.expect("request").status(), StatusCode::NO_CONTENT);
    assert_401_a(app.me_session(&b).await).await;
}

// [C-17] the token from renew is accepted by the next cookie DELETE; a forged one is not.
#[tokio::test]
async fn renewed_token_works_and_forged_token_does_not() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    let (s, body) = status_json(app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &b).await).await;
    assert_eq!(s, StatusCode::OK);
    let renewed = body["authenticity_token"].as_str().expect("token").to_owned();
    assert_ne!(renewed, b.csrf, "masked per response");

    let forged = {
        let mut t = renewed.clone().into_bytes();
        let i = t.len() - 3;
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).expect("ascii")
    };
    let r = app
        .http
        .delete(app.url("/api/v2/users/me/logout"))
        .header(COOKIE, &b.cookie)
        .header("X-CSRF-Token", forged)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .http
        .delete(app.url("/api/v2/users/me/logout"))
        .header(COOKIE, &b.cookie)
        .header("X-CSRF-Token", &renewed)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_401_a(app.me_session(&b).await).await;
}

// [E-11] an Authorization header wins; the cookie is then ignored (and no CSRF applies).
#[tokio::test]
async fn authorization_header_wins_over_cookie() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let bob = app.create_user("bob@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    let r = app
        .http
        .get(app.url(ME))
        .header(COOKIE, &b.cookie)
        .header(AUTHORIZATION, basic("bob@example.com", PASSWORD))
        .send()
        .await
        .expect("request");
    let (_, body) = status_json(r).await;
    assert_eq!(body["user"]["id"], bob.id);
    // Bad header + good cookie: the header decides (401), the cookie is not a fallback.
    let r = app
        .http
        .get(app.url(ME))
        .header(COOKIE, &b.cookie)
        .header(AUTHORIZATION, basic("bob@example.com", "wrong"))
        .send()
        .await
        .expect("request");
    assert_401_a(r).await;
    // Header-authenticated DELETE with a cookie and no CSRF token: no CSRF rule, and the
    // cookie's session is not "current" (logout has no effect on it).
    let r = app
        .http
        .delete(app.url("/api/v2/users/me/logout"))
        .header(COOKIE, &b.cookie)
        .header(AUTHORIZATION, basic("ada@example.com", PASSWORD))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
}

// Bad input: malformed Authorization values and cookies are clean 4xx JSON, never 500.
#[tokio::test]
async fn malformed_credentials_get_clean_401s() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let raw_values: Vec<Vec<u8>> = vec![
        b"Basic !!!not-base64!!!".to_vec(),
        format!("Basic {}", base64_of("no-colon-here")).into_bytes(),
        format!("Basic {}", base64_of(":")).into_bytes(),
        b"Basic \xc3\xa9\xff".to_vec(),
        b"Basic".to_vec(),
        b"Digest username=x".to_vec(),
        b"Token abc".to_vec(),
        "Basic ".repeat(1000).into_bytes(),
    ];
    for raw in raw_values {
        let value = reqwest::header::HeaderValue::from_bytes(&raw).expect("header value");
        let r = app.http.get(app.url(ME)).header(AUTHORIZATION, value).send().await.expect("request");
        assert_401_a(r).await;
    }
    for cookie in [
        "sessiond_session=garbage".to_owned(),
        "sessiond_session=".to_owned(),
        format!("sessiond_session={}", "A".repeat(43)),
        format!("sessiond_session={}", "A".repeat(5000)),
        "sessiond_session".to_owned(),
        ";;;=;=".to_owned(),
        "other=1".to_owned(),
    ] {
        let r = app.http.get(app.url(ME)).header(COOKIE, cookie.clone()).send().await.expect("request");
        assert_401_a(r).await;
    }
    let r = app
        .http
        .get(app.url(ME))
        .header(COOKIE, reqwest::header::HeaderValue::from_bytes(b"sessiond_session=\xff\xfe").expect("value"))
        .send()
        .await
        .expect("request");
    assert_401_a(r).await;
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

// `serve --disable-password-auth` refuses Basic email:password but not API tokens.
#[tokio::test]
async fn password_auth_can_be_disabled() {
    let app = TestApp::spawn_with(|c| c.disable_password_auth = true).await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let token = app.api_token(&user).await;
    assert_401_a(app.with_auth(Method::GET, ME, &basic("ada@example.com", PASSWORD)).await).await;
    assert_eq!(app.with_auth(Method::GET, ME, &basic("ada@example.com/token", &token)).await.status(), StatusCode::OK);
}

// Suspended users: no sign-in, and their tokens stop working [E-14].
#[tokio::test]
async fn suspended_users_are_refused_by_every_carrier() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::EndUser).await;
    let api = app.api_token(&user).await;
    let oauth = app.oauth_token(&user, &["read", "write"], None).await;
    let b = app.sign_in("ada@example.com").await;
    let patch = sessiond::store::UserPatch { suspended: Some(true), ..Default::default() };
    app.state.store.update_user(user.id, patch).await.expect("suspend");

    assert_401_a(app.sign_in_raw("ada@example.com", PASSWORD).await).await;
    assert_401_a(app.me_session(&b).await).await;
    assert_401_a(app.with_auth(Method::GET, ME, &basic("ada@example.com", PASSWORD)).await).await;
    assert_401_a(app.with_auth(Method::GET, ME, &basic("ada@example.com/token", &api)).await).await;
    assert_eq!(app.with_auth(Method::GET, ME, &format!("Bearer {oauth}")).await.status(), StatusCode::UNAUTHORIZED);

    // Unsuspended: tokens work again (they were kept); the old session is gone for good.
    let patch = sessiond::store::UserPatch { suspended: Some(false), ..Default::default() };
    app.state.store.update_user(user.id, patch).await.expect("unsuspend");
    assert_eq!(app.with_auth(Method::GET, ME, &basic("ada@example.com/token", &api)).await.status(), StatusCode::OK);
    assert_eq!(app.with_auth(Method::GET, ME, &format!("Bearer {oauth}")).await.status(), StatusCode::OK);
    assert_401_a(app.me_session(&b).await).await;
}

// [E-7] GET /users/me carries authenticity_token only for cookie callers.
#[tokio::test]
async fn users_me_has_authenticity_token_only_for_sessions() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", Role::Agent).await;
    let b = app.sign_in("ada@example.com").await;
    let (s, body) = status_json(app.as_browser(Method::GET, ME, &b).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "agent");
    assert!(body["user"]["authenticity_token"].as_str().is_some_and(|t| t.len() == 86));
    let (_, body) = status_json(app.with_auth(Method::GET, ME, &basic("ada@example.com", PASSWORD)).await).await;
    assert!(body["user"].get("authenticity_token").is_none());
    assert_eq!(body["user"]["id"], user.id);
    assert_eq!(body["user"]["url"], format!("{}/api/v2/users/{}.json", app.base, user.id));
}
