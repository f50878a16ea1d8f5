//! SPEC §3 "Sign-in and sign-out": the HTML form, JSON sign-in, cookies, logout.

use crate::common::*;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sessiond::domain::Role;
use std::time::{Duration, Instant};

fn set_cookie(r: &reqwest::Response) -> String {
    header(r.headers(), SET_COOKIE.as_str()).to_owned()
}

// Sign-in issues a new token every time; an old token keeps working only as its own session.
#[tokio::test]
async fn every_sign_in_is_a_new_session_and_tokens_stay_separate() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let first = app.sign_in("ada@example.com").await;
    // Sign in again while presenting the old cookie: never reused or adopted.
    let r = app
        .http
        .post(app.url("/access/login"))
        .header(COOKIE, &first.cookie)
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = set_cookie(&r);
    assert!(!cookie.contains(&first.token));
    let second = app.sign_in("ada@example.com").await;
    assert_ne!(first.token, second.token);
    assert_ne!(first.session_id, second.session_id);
    assert!(second.session_id > first.session_id, "ids increase");

    let (_, a) = status_json(app.me_session(&first).await).await;
    let (_, b) = status_json(app.me_session(&second).await).await;
    assert_eq!(a["session"]["id"], first.session_id);
    assert_eq!(b["session"]["id"], second.session_id);
}

// Cookie attributes over plain http: HttpOnly, SameSite=Lax, Path=/, no Secure, no Domain.
#[tokio::test]
async fn cookie_attributes_over_http() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let r = app.sign_in_raw("ada@example.com", PASSWORD).await;
    let c = set_cookie(&r);
    assert!(c.starts_with("sessiond_session="), "{c}");
    let attrs: Vec<&str> = c.split(';').skip(1).map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{c}");
    assert!(attrs.contains(&"SameSite=Lax"), "{c}");
    assert!(attrs.contains(&"Path=/"), "{c}");
    assert!(!attrs.iter().any(|a| a.eq_ignore_ascii_case("secure")), "{c}");
    assert!(!attrs.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")), "{c}");
    assert!(c.len() <= 4096);
}

// [E-20] Secure and the __Host- prefix exactly when the public URL is https.
#[tokio::test]
async fn https_public_url_makes_cookies_secure_and_host_prefixed() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://sessions.example.com".into())).await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let r = app.sign_in_raw("ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c = set_cookie(&r);
    assert!(c.starts_with("__Host-sessiond_session="), "{c}");
    assert!(c.split(';').any(|a| a.trim() == "Secure"), "{c}");
    let (_, body) = status_json(r).await;
    assert!(
        body["session"]["url"].as_str().is_some_and(|u| u.starts_with("https://sessions.example.com/api/v2/users/"))
    );
    // The prefixed cookie authenticates; the unprefixed name does not.
    let pair = c.split(';').next().expect("pair").to_owned();
    let ok = app.http.get(app.url("/api/v2/users/me/session")).header(COOKIE, &pair).send().await.expect("request");
    assert_eq!(ok.status(), StatusCode::OK);
    let plain = pair.replacen("__Host-", "", 1);
    assert_401_a(
        app.http.get(app.url("/api/v2/users/me/session")).header(COOKIE, plain).send().await.expect("request"),
    )
    .await;
}

// JSON failure: 401 A, the same for a wrong password and an unknown email, and similar timing.
#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    // A real (if modest) hash cost, so that skipping the hash would show in the timing.
    let app = TestApp::spawn_with(|c| {
        c.argon2_m_cost = 8192;
        c.argon2_t_cost = 2;
    })
    .await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let wrong = app.sign_in_raw("ada@example.com", "wrong password").await;
    let unknown = app.sign_in_raw("nobody@example.com", "wrong password").await;
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(unknown.headers().get(SET_COOKIE).is_none());
    let (ws, wb) = status_json(wrong).await;
    let (us, ub) = status_json(unknown).await;
    assert_eq!((ws, &wb), (StatusCode::UNAUTHORIZED, &unauthenticated_a()));
    assert_eq!((us, &ub), (StatusCode::UNAUTHORIZED, &unauthenticated_a()));

    let mut known_time = Duration::ZERO;
    let mut unknown_time = Duration::ZERO;
    for _ in 0..6 {
        let t = Instant::now();
        app.sign_in_raw("ada@example.com", "wrong password").await;
        known_time += t.elapsed();
        let t = Instant::now();
        app.sign_in_raw("nobody@example.com", "wrong password").await;
        unknown_time += t.elapsed();
    }
    let ratio = unknown_time.as_secs_f64() / known_time.as_secs_f64();
    // Generous bounds (the machine may be busy): skipping the hash for unknown emails would
    // make the ratio near 0.05.
    assert!((0.33..3.0).contains(&ratio), "unknown/known timing ratio {ratio:.2}");
}

// The HTML form: success is a 303 to return_to (relative only) with the cookie.
#[tokio::test]
async fn form_sign_in_redirects_to_a_relative_return_to() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let page = app.http.get(app.url("/access/login")).send().await.expect("request");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header(page.headers(), "content-type").starts_with("text/html"));
    let html = page.text().await.expect("html");
    assert!(
        html.contains("name=\"email\"") && html.contains("name=\"password\"") && html.contains("<label for=\"email\">")
    );

    let form = |return_to: &str| {
        app.http
            .post(app.url("/access/login"))
            .form(&[("email", "ada@example.com"), ("password", PASSWORD), ("return_to", return_to)])
            .send()
    };
    for (return_to, expected) in [
        ("/api/v2/users/me/session", "/api/v2/users/me/session"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
    ] {
        let r = form(return_to).await.expect("request");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{return_to}");
        assert_eq!(header(r.headers(), LOCATION.as_str()), expected, "{return_to}");
        assert!(set_cookie(&r).starts_with("sessiond_session="));
    }
    // The cookie from the form works on the API.
    let r = form("/").await.expect("request");
    let pair = set_cookie(&r).split(';').next().expect("pair").to_owned();
    let ok = app.http.get(app.url("/api/v2/users/me/session")).header(COOKIE, pair).send().await.expect("request");
    assert_eq!(ok.status(), StatusCode::OK);
}

// [E-19] a failed form sign-in answers 401 with the form, a generic message, the email kept.
#[tokio::test]
async fn failed_form_sign_in_shows_the_form_again() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let r = app
            .http
            .post(app.url("/access/login"))
            .form(&[("email", email), ("password", "wrong")])
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get(SET_COOKIE).is_none());
        let html = r.text().await.expect("html");
        assert!(html.contains("did not match an active account"), "{html}");
        assert!(html.contains(&format!("value=\"{email}\"")), "{html}");
    }
    // Hostile input is escaped.
    let r = app
        .http
        .post(app.url("/access/login"))
        .form(&[("email", "\"><script>alert(1)</script>"), ("password", "x")])
        .send()
        .await
        .expect("request");
    let html = r.text().await.expect("html");
    assert!(!html.contains("<script>alert(1)</script>"));
}

// POST /access/logout ends the browser's session with its authenticity token; 303 to login.
#[tokio::test]
async fn form_logout_ends_the_session() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let b = app.sign_in("ada@example.com").await;
    // Without the token: refused, the session lives on.
    let r = app
        .http
        .post(app.url("/access/logout"))
        .header(COOKIE, &b.cookie)
        .form(&[("x", "y")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
    // The home page shows who is signed in and carries a working token.
    let home = app.http.get(app.url("/")).header(COOKIE, &b.cookie).send().await.expect("request");
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.expect("html");
    assert!(html.contains("ada@example.com"));
    let token = html
        .split("name=\"authenticity_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token in page")
        .to_owned();
    let r = app
        .http
        .post(app.url("/access/logout"))
        .header(COOKIE, &b.cookie)
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login");
    assert!(set_cookie(&r).contains("Max-Age=0"));
    assert_401_a(app.me_session(&b).await).await;
    // Signed out: / sends you to the sign-in page.
    let home = app.http.get(app.url("/")).header(COOKIE, &b.cookie).send().await.expect("request");
    assert_eq!(header(home.headers(), LOCATION.as_str()), "/access/login");
}

// Malformed sign-in bodies: 400 InvalidJSON, never a 500.
#[tokio::test]
async fn malformed_sign_in_bodies_are_400() {
    let app = TestApp::spawn().await;
    for (ct, body) in [
        ("application/json", "{not json"),
        ("application/json", ""),
        ("application/json", "[]"),
        ("application/json", "{\"email\": 5, \"password\": \"x\"}"),
        ("application/json", "{\"email\": \"a@b.co\"}"),
        ("application/x-www-form-urlencoded", "email=%ZZ&&&"),
        ("application/x-www-form-urlencoded", "password=x"),
        ("text/plain", "hello"),
    ] {
        let r =
            app.http.post(app.url("/access/login")).header(CONTENT_TYPE, ct).body(body).send().await.expect("request");
        let (s, b) = status_json(r).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ct} {body:?}: {b}");
        assert_eq!(b["error"], "InvalidJSON", "{ct} {body:?}");
        assert!(b["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Over 64 KiB: 413.
    let big = format!("{{\"email\":\"{}\",\"password\":\"x\"}}", "a".repeat(70 * 1024));
    let r = app.http.post(app.url("/access/login")).header(CONTENT_TYPE, "application/json").body(big).send().await;
    if let Ok(r) = r {
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}

// Logout through the API ends only the cookie's session, and that cookie then gets 401.
#[tokio::test]
async fn api_logout_ends_only_the_cookie_session() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let a = app.sign_in("ada@example.com").await;
    let b = app.sign_in("ada@example.com").await;
    assert_eq!(
        app.as_browser(Method::DELETE, "/api/v2/users/me/logout.json", &a).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_401_a(app.me_session(&a).await).await;
    assert_eq!(app.me_session(&b).await.status(), StatusCode::OK);
}
