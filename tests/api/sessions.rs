//! The Sessions API (SPEC §2 wire format, §4 endpoints): every test runs the real server
//! and talks HTTP to it.

use crate::common::*;
use reqwest::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sessiond::domain::{Role, User};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------- helpers

const JSON_CT: &str = "application/json; charset=utf-8";

/// `T0` (the harness clock's start) on the wire.
const T0_WIRE: &str = "2023-11-14T22:13:20Z";

/// JSON sign-in that works with and without `--session-as-array`: the browser and the body.
async fn sign_in_body(app: &TestApp, email: &str) -> (Browser, Value) {
    let r = app.sign_in_raw(email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::CREATED, "sign-in of {email}");
    let set_cookie = header(r.headers(), SET_COOKIE.as_str()).to_owned();
    let pair = set_cookie.split(';').next().expect("cookie pair").to_owned();
    let token = pair.split_once('=').map(|(_, v)| v.to_owned()).expect("cookie value");
    let body: Value = r.json().await.expect("json");
    let session = if body["session"].is_array() { body["session"][0].clone() } else { body["session"].clone() };
    let b = Browser {
        cookie: pair,
        token,
        csrf: body["authenticity_token"].as_str().expect("authenticity_token").to_owned(),
        session_id: session["id"].as_i64().expect("session id"),
        user_id: session["user_id"].as_i64().expect("user id"),
    };
    (b, body)
}

/// The sorted session ids of a list response (asserting 200).
async fn list_ids(r: reqwest::Response) -> Vec<i64> {
    let (status, body) = status_json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut ids: Vec<i64> =
        body["sessions"].as_array().expect("sessions array").iter().map(|s| s["id"].as_i64().expect("id")).collect();
    ids.sort_unstable();
    ids
}

/// Every session id the admin can see.
async fn all_ids(app: &TestApp, admin: &User) -> Vec<i64> {
    list_ids(app.as_admin(Method::GET, "/api/v2/sessions", admin).await).await
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// Asserts a session object has exactly the five keys, wire timestamps and the right url [C-1] [C-2] [C-3].
fn assert_session_shape(s: &Value, base: &str) {
    let obj = s.as_object().unwrap_or_else(|| panic!("session is not an object: {s}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["authenticated_at", "id", "last_seen_at", "url", "user_id"], "{s}");
    for k in ["authenticated_at", "last_seen_at"] {
        let t = s[k].as_str().unwrap_or_else(|| panic!("{k} is not a string: {s}"));
        assert!(is_wire_timestamp(t), "{k} = {t:?} is not YYYY-MM-DDTHH:MM:SSZ");
    }
    let (id, user) = (s["id"].as_i64().expect("id"), s["user_id"].as_i64().expect("user_id"));
    assert_eq!(s["url"], json!(format!("{base}/api/v2/users/{user}/sessions/{id}.json")));
}

fn is_wire_timestamp(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn with_csrf(b: &Browser, csrf: &str) -> Browser {
    Browser { csrf: csrf.to_owned(), ..b.clone() }
}

/// A request with a cookie, and an `X-CSRF-Token` only when given.
async fn cookie_request(
    app: &TestApp,
    method: Method,
    path: &str,
    b: &Browser,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path)).header(COOKIE, &b.cookie);
    if let Some(c) = csrf {
        req = req.header("X-CSRF-Token", c);
    }
    req.send().await.expect("request")
}

/// Sends raw bytes over a fresh connection and returns (status, head, body).
async fn raw_http(app: &TestApp, request: &str) -> (u16, String, Vec<u8>) {
    let addr = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("end of head");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let body = buf[split + 4..].to_vec();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, head, body)
}

async fn assert_status_body(r: reqwest::Response, status: StatusCode, body: Value, what: &str) {
    let ct = header(r.headers(), "content-type").to_owned();
    let (s, b) = status_json(r).await;
    assert_eq!((s, &b), (status, &body), "{what}");
    assert_eq!(ct, JSON_CT, "{what}");
}

async fn assert_empty(r: reqwest::Response, status: StatusCode, what: &str) {
    let s = r.status();
    let bytes = r.bytes().await.expect("body");
    assert_eq!(s, status, "{what}: {}", String::from_utf8_lossy(&bytes));
    assert!(bytes.is_empty(), "{what}: body must be empty, got {:?}", String::from_utf8_lossy(&bytes));
}

fn invalid_endpoint() -> Value {
    json!({ "error": "InvalidEndpoint", "description": "Not found" })
}

// ---------------------------------------------------------------- §2 wire format

// [C-1] [C-2] [E-5] exactly five keys and wire timestamps in every session body.
#[tokio::test]
async fn session_bodies_have_exactly_five_keys_and_wire_timestamps() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let (b, sign_in) = sign_in_body(&app, &agent.email).await;
    assert_session_shape(&sign_in["session"], &app.base);
    assert_eq!(sign_in["session"]["authenticated_at"], json!(T0_WIRE));
    assert_eq!(sign_in["session"]["last_seen_at"], json!(T0_WIRE));

    // Activity 90 s later moves last_seen_at; authenticated_at stays.
    app.clock.advance(90);
    let (s, me) = status_json(app.me_session(&b).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_session_shape(&me["session"], &app.base);
    assert_eq!(me["session"]["authenticated_at"], json!(T0_WIRE));
    assert_eq!(me["session"]["last_seen_at"], json!("2023-11-14T22:14:50Z"));
    assert_eq!(me["session"]["id"], json!(b.session_id));
    assert_eq!(me["session"]["user_id"], json!(agent.id));

    let show_path = format!("/api/v2/users/{}/sessions/{}", agent.id, b.session_id);
    let (s, show) = status_json(app.as_admin(Method::GET, &show_path, &admin).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(show, me, "show 3 and show 4 describe the same session identically");
    for path in ["/api/v2/sessions".to_owned(), format!("/api/v2/users/{}/sessions", agent.id)] {
        let (s, list) = status_json(app.as_admin(Method::GET, &path, &admin).await).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        let sessions = list["sessions"].as_array().expect("sessions");
        assert_eq!(sessions.len(), 1, "{path}");
        assert_session_shape(&sessions[0], &app.base);
        assert_eq!(sessions[0], me["session"], "{path}");
    }
}

// [C-3] url uses the configured public URL (including a path prefix), whatever the Host.
#[tokio::test]
async fn url_uses_the_configured_public_url() {
    let public = "https://sessions.example.com/zd";
    let app = TestApp::spawn_with(|c| c.public_url = Some(public.into())).await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let (b, sign_in) = sign_in_body(&app, &agent.email).await;
    let expected = json!(format!("{public}/api/v2/users/{}/sessions/{}.json", agent.id, b.session_id));
    assert_eq!(sign_in["session"]["url"], expected);

    let (_, me) = status_json(app.me_session(&b).await).await;
    assert_eq!(me["session"]["url"], expected);
    let r = app
        .http
        .get(app.url(&format!("/api/v2/users/{}/sessions/{}", agent.id, b.session_id)))
        .header(HOST, "elsewhere.example:9999")
        .header(reqwest::header::AUTHORIZATION, basic(&admin.email, PASSWORD))
        .send()
        .await
        .expect("request");
    let (s, show) = status_json(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(show["session"]["url"], expected, "the Host header does not override --public-url");
    let (_, list) = status_json(app.as_admin(Method::GET, "/api/v2/sessions", &admin).await).await;
    assert_eq!(list["sessions"][0]["url"], expected);
}

// [C-3] without --public-url, url uses the scheme, host and port the request used.
#[tokio::test]
async fn url_defaults_to_the_request_host() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (b, sign_in) = sign_in_body(&app, &admin.email).await;
    let tail = format!("/api/v2/users/{}/sessions/{}.json", admin.id, b.session_id);
    assert_eq!(sign_in["session"]["url"], json!(format!("{}{tail}", app.base)));

    for host in ["sessions.test:8443", "localhost", "10.1.2.3:8080"] {
        let r = app
            .http
            .get(app.url("/api/v2/users/me/session"))
            .header(HOST, host)
            .header(COOKIE, &b.cookie)
            .send()
            .await
            .expect("request");
        let (s, me) = status_json(r).await;
        assert_eq!(s, StatusCode::OK, "{host}");
        assert_eq!(me["session"]["url"], json!(format!("http://{host}{tail}")), "{host}");

        let r = app
            .http
            .get(app.url("/api/v2/sessions"))
            .header(HOST, host)
            .header(reqwest::header::AUTHORIZATION, basic(&admin.email, PASSWORD))
            .send()
            .await
            .expect("request");
        let (_, list) = status_json(r).await;
        assert_eq!(list["sessions"][0]["url"], json!(format!("http://{host}{tail}")), "{host}");
    }
}

// [C-4] every Sessions API path also answers with `.json`, identically.
#[tokio::test]
async fn json_suffix_answers_identically_on_every_path() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let _a2 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;

    // Reads: same status, content type and body, for the admin and for the owner's cookie.
    let reads = [
        "/api/v2/sessions".to_owned(),
        format!("/api/v2/users/{}/sessions", agent.id),
        format!("/api/v2/users/{}/sessions/{}", agent.id, a1.session_id),
        format!("/api/v2/users/{}/sessions/{}", agent.id, u1.session_id), // 404: not that user's
        format!("/api/v2/users/{}/sessions/999999", agent.id),
        "/api/v2/users/me/sessions".to_owned(),
        format!("/api/v2/users/me/sessions/{}", a1.session_id),
        "/api/v2/users/me/session".to_owned(),
        format!("/api/v2/users/{}/sessions", user.id), // agent: role-403
    ];
    for path in &reads {
        for as_cookie in [false, true] {
            let plain = if as_cookie {
                app.as_browser(Method::GET, path, &a1).await
            } else {
                app.as_admin(Method::GET, path, &admin).await
            };
            let suffixed = if as_cookie {
                app.as_browser(Method::GET, &format!("{path}.json"), &a1).await
            } else {
                app.as_admin(Method::GET, &format!("{path}.json"), &admin).await
            };
            let (ct1, ct2) = (
                header(plain.headers(), "content-type").to_owned(),
                header(suffixed.headers(), "content-type").to_owned(),
            );
            let (p, s) = (status_json(plain).await, status_json(suffixed).await);
            assert_eq!(p, s, "{path} vs {path}.json (cookie: {as_cookie})");
            assert_eq!(ct1, ct2, "{path}");
            assert_ne!(p.0, StatusCode::INTERNAL_SERVER_ERROR);
        }
    }

    // Renew.
    let (s, renew) = status_json(app.as_browser(Method::GET, "/api/v2/users/me/session/renew.json", &a1).await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(renew["authenticity_token"].as_str().is_some_and(|t| !t.is_empty()), "{renew}");

    // Writes, each with its effect.
    let a3 = app.sign_in(&agent.email).await;
    let r = app
        .as_admin(Method::DELETE, &format!("/api/v2/users/{}/sessions/{}.json", agent.id, a3.session_id), &admin)
        .await;
    assert_empty(r, StatusCode::NO_CONTENT, "delete one .json").await;
    assert_401_a(app.me_session(&a3).await).await;

    let a4 = app.sign_in(&agent.email).await;
    assert_empty(
        app.as_browser(Method::DELETE, "/api/v2/users/me/logout.json", &a4).await,
        StatusCode::NO_CONTENT,
        "logout .json",
    )
    .await;
    assert_401_a(app.me_session(&a4).await).await;

    let a5 = app.sign_in(&agent.email).await;
    let r = app
        .as_admin(Method::DELETE, &format!("/api/v2/sessions/destroy_many.json?ids={}", a5.session_id), &admin)
        .await;
    assert_empty(r, StatusCode::NO_CONTENT, "destroy_many .json").await;
    assert_401_a(app.me_session(&a5).await).await;

    let r = app.as_admin(Method::POST, &format!("/api/v2/users/logout_many.json?ids={}", user.id), &admin).await;
    assert_empty(r, StatusCode::ACCEPTED, "logout_many .json").await;
    assert_401_a(app.me_session(&u1).await).await;

    let r = app.as_admin(Method::DELETE, &format!("/api/v2/users/{}/sessions.json", agent.id), &admin).await;
    assert_empty(r, StatusCode::NO_CONTENT, "bulk .json").await;
    assert_401_a(app.me_session(&a1).await).await;
    assert_eq!(all_ids(&app, &admin).await, Vec::<i64>::new());

    let u2 = app.sign_in(&user.email).await;
    assert_empty(
        app.as_browser(Method::DELETE, "/api/v2/users/me/sessions.json", &u2).await,
        StatusCode::NO_CONTENT,
        "alias .json",
    )
    .await;
    assert_401_a(app.me_session(&u2).await).await;
}

// [C-6] `me` is the caller's own id in every /users/{user_id}/… path, for every carrier.
#[tokio::test]
async fn me_means_the_caller_in_every_user_path() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let ad = app.sign_in(&admin.email).await;
    let token = app.api_token(&agent).await;
    let token_auth = basic(&format!("{}/token", agent.email), &token);

    // Lists: `me` and the numeric id give the same answer; for an admin `me` is the admin.
    let by_id =
        status_json(app.as_browser(Method::GET, &format!("/api/v2/users/{}/sessions", agent.id), &a1).await).await;
    let by_me = status_json(app.as_browser(Method::GET, "/api/v2/users/me/sessions", &a1).await).await;
    assert_eq!(by_me, by_id);
    assert_eq!(
        list_ids(app.with_auth(Method::GET, "/api/v2/users/me/sessions", &token_auth).await).await,
        sorted(vec![a1.session_id, a2.session_id])
    );
    assert_eq!(
        list_ids(app.as_admin(Method::GET, "/api/v2/users/me/sessions", &admin).await).await,
        vec![ad.session_id]
    );

    // Show.
    let by_id = status_json(
        app.as_browser(Method::GET, &format!("/api/v2/users/{}/sessions/{}", agent.id, a2.session_id), &a1).await,
    )
    .await;
    let by_me =
        status_json(app.as_browser(Method::GET, &format!("/api/v2/users/me/sessions/{}", a2.session_id), &a1).await)
            .await;
    assert_eq!(by_id.0, StatusCode::OK);
    assert_eq!(by_me, by_id);
    // For the admin, `me` is the admin: the agent's session is not under it.
    assert_status_body(
        app.as_admin(Method::GET, &format!("/api/v2/users/me/sessions/{}", a2.session_id), &admin).await,
        StatusCode::NOT_FOUND,
        not_found(),
        "admin me + agent session",
    )
    .await;

    // Delete one via `me` (API token caller).
    let r = app.with_auth(Method::DELETE, &format!("/api/v2/users/me/sessions/{}", a2.session_id), &token_auth).await;
    assert_empty(r, StatusCode::NO_CONTENT, "delete me/sessions/id").await;
    assert_401_a(app.me_session(&a2).await).await;
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK);

    // Bulk via `me` by the admin signs out only the admin.
    assert_empty(
        app.as_admin(Method::DELETE, "/api/v2/users/me/sessions", &admin).await,
        StatusCode::NO_CONTENT,
        "admin bulk me",
    )
    .await;
    assert_401_a(app.me_session(&ad).await).await;
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK);
    assert_eq!(all_ids(&app, &admin).await, vec![a1.session_id]);
}

// [C-7] DELETE needs no Content-Type or Accept; 204 has no body; JSON content type.
#[tokio::test]
async fn delete_needs_no_content_headers_and_204_is_empty() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let a3 = app.sign_in(&agent.email).await;
    let host = app.base.trim_start_matches("http://").to_owned();

    // Header-authenticated DELETE, no Accept, no Content-Type, no body.
    let req = format!(
        "DELETE /api/v2/users/{}/sessions/{} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        agent.id,
        a1.session_id,
        basic(&admin.email, PASSWORD)
    );
    let (status, head, body) = raw_http(&app, &req).await;
    assert_eq!(status, 204, "{head}");
    assert!(body.is_empty(), "204 body: {:?}", String::from_utf8_lossy(&body));
    assert!(!head.to_ascii_lowercase().contains("content-type"), "a 204 has no content type: {head}");
    assert_401_a(app.me_session(&a1).await).await;

    // Cookie DELETE (logout), CSRF header only.
    let req = format!(
        "DELETE /api/v2/users/me/logout HTTP/1.1\r\nHost: {host}\r\nCookie: {}\r\nX-CSRF-Token: {}\r\nConnection: close\r\n\r\n",
        a2.cookie, a2.csrf
    );
    let (status, head, body) = raw_http(&app, &req).await;
    assert_eq!(status, 204, "{head}");
    assert!(body.is_empty());
    assert_401_a(app.me_session(&a2).await).await;

    // Odd Accept / Content-Type headers do not matter either.
    let r = app
        .http
        .delete(app.url(&format!("/api/v2/users/{}/sessions/{}", agent.id, a3.session_id)))
        .header(reqwest::header::AUTHORIZATION, basic(&admin.email, PASSWORD))
        .header(reqwest::header::ACCEPT, "text/html")
        .header(CONTENT_TYPE, "text/plain")
        .body("not json")
        .send()
        .await
        .expect("request");
    assert_empty(r, StatusCode::NO_CONTENT, "odd headers").await;

    // JSON content type on success and error answers alike.
    let a4 = app.sign_in(&agent.email).await;
    for (r, status) in [
        (app.me_session(&a4).await, StatusCode::OK),
        (app.as_admin(Method::GET, "/api/v2/sessions", &admin).await, StatusCode::OK),
        (app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &a4).await, StatusCode::OK),
        (app.http.get(app.url("/api/v2/sessions")).send().await.expect("request"), StatusCode::UNAUTHORIZED),
        (
            app.as_browser(Method::GET, &format!("/api/v2/users/{}/sessions", admin.id), &a4).await,
            StatusCode::FORBIDDEN,
        ),
        (app.as_admin(Method::GET, "/api/v2/users/me/sessions/424242", &admin).await, StatusCode::NOT_FOUND),
        (app.as_admin(Method::GET, "/api/v2/nope", &admin).await, StatusCode::NOT_FOUND),
        (app.as_admin(Method::POST, "/api/v2/users/logout_many?ids=x", &admin).await, StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(r.status(), status);
        assert_eq!(header(r.headers(), "content-type"), JSON_CT, "{status}");
    }
}

// ---------------------------------------------------------------- §4 the endpoints

// [C-13] admins list every session; everybody else only their own, whatever the carrier.
#[tokio::test]
async fn list_all_shows_admins_everything_and_others_their_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let ad = app.sign_in(&admin.email).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;
    let everyone = sorted(vec![ad.session_id, a1.session_id, a2.session_id, u1.session_id]);

    assert_eq!(all_ids(&app, &admin).await, everyone);
    assert_eq!(list_ids(app.as_browser(Method::GET, "/api/v2/sessions", &ad).await).await, everyone);
    let (_, body) = status_json(app.as_admin(Method::GET, "/api/v2/sessions", &admin).await).await;
    assert_eq!(body["count"], json!(4));

    let agent_own = sorted(vec![a1.session_id, a2.session_id]);
    assert_eq!(list_ids(app.as_browser(Method::GET, "/api/v2/sessions", &a1).await).await, agent_own);
    let token = app.api_token(&agent).await;
    let r = app.with_auth(Method::GET, "/api/v2/sessions", &basic(&format!("{}/token", agent.email), &token)).await;
    assert_eq!(list_ids(r).await, agent_own);
    let oauth = app.oauth_token(&agent, &["read"], None).await;
    assert_eq!(
        list_ids(app.with_auth(Method::GET, "/api/v2/sessions", &format!("Bearer {oauth}")).await).await,
        agent_own
    );
    let (_, body) = status_json(app.as_browser(Method::GET, "/api/v2/sessions", &a1).await).await;
    assert_eq!(body["count"], json!(2));

    assert_eq!(list_ids(app.as_browser(Method::GET, "/api/v2/sessions", &u1).await).await, vec![u1.session_id]);
    assert_eq!(
        list_ids(app.with_auth(Method::GET, "/api/v2/sessions", &basic(&user.email, PASSWORD)).await).await,
        vec![u1.session_id]
    );
    // An admin-role API token sees everything too.
    let admin_token = app.api_token(&admin).await;
    let r =
        app.with_auth(Method::GET, "/api/v2/sessions", &basic(&format!("{}/token", admin.email), &admin_token)).await;
    assert_eq!(list_ids(r).await, everyone);
}

// [C-14] list 2: admin or the user themself; exactly that user's sessions.
#[tokio::test]
async fn list_for_user_is_for_the_admin_or_the_user_themself() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let nobody = app.create_user("nobody@example.com", Role::EndUser).await;
    let ad = app.sign_in(&admin.email).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;
    let agent_path = format!("/api/v2/users/{}/sessions", agent.id);

    let agent_own = sorted(vec![a1.session_id, a2.session_id]);
    assert_eq!(list_ids(app.as_admin(Method::GET, &agent_path, &admin).await).await, agent_own);
    assert_eq!(list_ids(app.as_browser(Method::GET, &agent_path, &ad).await).await, agent_own);
    assert_eq!(list_ids(app.as_browser(Method::GET, &agent_path, &a1).await).await, agent_own);
    assert_eq!(
        list_ids(app.as_admin(Method::GET, &format!("/api/v2/users/{}/sessions", user.id), &admin).await).await,
        vec![u1.session_id]
    );
    assert_eq!(
        list_ids(app.as_admin(Method::GET, &format!("/api/v2/users/{}/sessions", admin.id), &admin).await).await,
        vec![ad.session_id]
    );
    let (s, body) =
        status_json(app.as_admin(Method::GET, &format!("/api/v2/users/{}/sessions", nobody.id), &admin).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["sessions"], json!([]));
    assert_eq!(body["count"], json!(0));

    assert_status_body(
        app.as_browser(Method::GET, &agent_path, &u1).await,
        StatusCode::FORBIDDEN,
        role_forbidden(),
        "end user on agent",
    )
    .await;
}

// [C-15] show 3: admin or owner; the session object under "session".
#[tokio::test]
async fn show_is_for_the_admin_or_the_owner() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;
    let path = format!("/api/v2/users/{}/sessions/{}", agent.id, a2.session_id);

    let (s, by_admin) = status_json(app.as_admin(Method::GET, &path, &admin).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by_admin.as_object().map(|o| o.len()), Some(1), "only \"session\": {by_admin}");
    assert_eq!(by_admin["session"]["id"], json!(a2.session_id));
    assert_eq!(by_admin["session"]["user_id"], json!(agent.id));
    assert_eq!(by_admin["session"]["authenticated_at"], json!(T0_WIRE));
    assert_session_shape(&by_admin["session"], &app.base);

    // The owner, from another of their sessions and by password.
    assert_eq!(status_json(app.as_browser(Method::GET, &path, &a1).await).await, (StatusCode::OK, by_admin.clone()));
    assert_eq!(
        status_json(app.with_auth(Method::GET, &path, &basic(&agent.email, PASSWORD)).await).await,
        (StatusCode::OK, by_admin)
    );
    // Someone else: role-403.
    assert_status_body(
        app.as_browser(Method::GET, &path, &u1).await,
        StatusCode::FORBIDDEN,
        role_forbidden(),
        "stranger",
    )
    .await;
}

// [C-16] [C-22] show 4 is the cookie's own session; without a cookie session it is 404.
#[tokio::test]
async fn me_session_is_the_cookie_session_and_404_for_header_callers() {
    let app = TestApp::spawn().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    for b in [&a1, &a2] {
        let (s, body) = status_json(app.me_session(b).await).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body["session"]["id"], json!(b.session_id), "each cookie sees its own session");
        assert_eq!(body["session"]["user_id"], json!(agent.id));
        assert_session_shape(&body["session"], &app.base);
    }

    let token = app.api_token(&agent).await;
    let oauth = app.oauth_token(&agent, &["read"], None).await;
    for auth in
        [basic(&agent.email, PASSWORD), basic(&format!("{}/token", agent.email), &token), format!("Bearer {oauth}")]
    {
        assert_status_body(
            app.with_auth(Method::GET, "/api/v2/users/me/session", &auth).await,
            StatusCode::NOT_FOUND,
            not_found(),
            "header caller has no current session",
        )
        .await;
    }
    // [E-11] a header wins over a cookie: still no current session.
    let r = app
        .http
        .get(app.url("/api/v2/users/me/session"))
        .header(COOKIE, &a1.cookie)
        .header(reqwest::header::AUTHORIZATION, basic(&agent.email, PASSWORD))
        .send()
        .await
        .expect("request");
    assert_status_body(r, StatusCode::NOT_FOUND, not_found(), "header + cookie").await;
    // No credentials at all: 401, not 404.
    assert_401_a(app.http.get(app.url("/api/v2/users/me/session")).send().await.expect("request")).await;
}

// [C-17] renew gives an authenticity token the next cookie DELETE accepts.
#[tokio::test]
async fn renewed_authenticity_token_is_accepted_by_the_next_cookie_delete() {
    let app = TestApp::spawn().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;

    let r = app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &a1).await;
    assert_eq!(header(r.headers(), "content-type"), JSON_CT);
    let (s, body) = status_json(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    let renewed = body["authenticity_token"].as_str().expect("token").to_owned();
    assert!(!renewed.is_empty());

    // A made-up token and another session's token are refused; the renewed one is accepted.
    let bad = cookie_request(&app, Method::DELETE, "/api/v2/users/me/logout", &a1, Some("bogus")).await;
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    let other = cookie_request(&app, Method::DELETE, "/api/v2/users/me/logout", &a1, Some(&a2.csrf)).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK, "refused deletes changed nothing");

    let renewed_browser = with_csrf(&a1, &renewed);
    let r =
        app.as_browser(Method::DELETE, &format!("/api/v2/users/me/sessions/{}", a2.session_id), &renewed_browser).await;
    assert_empty(r, StatusCode::NO_CONTENT, "delete with renewed token").await;
    assert_401_a(app.me_session(&a2).await).await;
    assert_empty(
        app.as_browser(Method::DELETE, "/api/v2/users/me/logout", &renewed_browser).await,
        StatusCode::NO_CONTENT,
        "logout with renewed token",
    )
    .await;
    assert_401_a(app.me_session(&a1).await).await;
}

// [C-17] [E-15] renew is activity for a session caller and is recorded at once, even within
// the activity resolution; for header callers it returns a token and touches nothing.
#[tokio::test]
async fn renew_marks_activity_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let show = format!("/api/v2/users/{}/sessions/{}", agent.id, a1.session_id);

    app.clock.advance(10);
    let (_, body) = status_json(app.me_session(&a1).await).await;
    assert_eq!(body["session"]["last_seen_at"], json!(T0_WIRE), "a plain read inside the resolution does not move it");
    assert_eq!(app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &a1).await.status(), StatusCode::OK);
    let (_, body) = status_json(app.as_admin(Method::GET, &show, &admin).await).await;
    assert_eq!(body["session"]["last_seen_at"], json!("2023-11-14T22:13:30Z"), "renew moved last_seen_at at once");
    assert_eq!(body["session"]["authenticated_at"], json!(T0_WIRE));

    // Header callers: a token, and no activity on the user's sessions.
    app.clock.advance(10);
    let token = app.api_token(&agent).await;
    let oauth = app.oauth_token(&agent, &["read"], None).await;
    for auth in
        [basic(&agent.email, PASSWORD), basic(&format!("{}/token", agent.email), &token), format!("Bearer {oauth}")]
    {
        let (s, body) = status_json(app.with_auth(Method::GET, "/api/v2/users/me/session/renew", &auth).await).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body["authenticity_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    }
    let (_, body) = status_json(app.as_admin(Method::GET, &show, &admin).await).await;
    assert_eq!(body["session"]["last_seen_at"], json!("2023-11-14T22:13:30Z"));
    assert_401_a(app.http.get(app.url("/api/v2/users/me/session/renew")).send().await.expect("request")).await;
}

// [C-18] delete one: admin or owner; that session is signed out at once; the others stay.
#[tokio::test]
async fn delete_one_signs_that_session_out_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let a3 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;

    // The owner deletes another of their sessions from a cookie.
    let r =
        app.as_browser(Method::DELETE, &format!("/api/v2/users/{}/sessions/{}", agent.id, a2.session_id), &a1).await;
    assert_empty(r, StatusCode::NO_CONTENT, "owner delete").await;
    assert_401_a(app.me_session(&a2).await).await;
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK);
    // The owner may delete the very session they use.
    let r =
        app.as_browser(Method::DELETE, &format!("/api/v2/users/{}/sessions/{}", agent.id, a1.session_id), &a1).await;
    assert_empty(r, StatusCode::NO_CONTENT, "delete own current").await;
    assert_401_a(app.me_session(&a1).await).await;
    // The admin.
    let path = format!("/api/v2/users/{}/sessions/{}", agent.id, a3.session_id);
    assert_empty(app.as_admin(Method::DELETE, &path, &admin).await, StatusCode::NO_CONTENT, "admin delete").await;
    assert_401_a(app.me_session(&a3).await).await;
    // Gone: a second delete and a show are 404.
    assert_status_body(
        app.as_admin(Method::DELETE, &path, &admin).await,
        StatusCode::NOT_FOUND,
        not_found(),
        "second delete",
    )
    .await;
    assert_status_body(
        app.as_admin(Method::GET, &path, &admin).await,
        StatusCode::NOT_FOUND,
        not_found(),
        "show deleted",
    )
    .await;
    // Other users untouched.
    assert_eq!(app.me_session(&u1).await.status(), StatusCode::OK);
    assert_eq!(all_ids(&app, &admin).await, vec![u1.session_id]);
}

// [C-19] logout (DELETE and GET) ends the cookie's session only; no effect for basic,
// API-token or OAuth callers.
#[tokio::test]
async fn logout_ends_only_the_cookie_session() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let a3 = app.sign_in(&agent.email).await;

    assert_empty(
        app.as_browser(Method::DELETE, "/api/v2/users/me/logout", &a1).await,
        StatusCode::NO_CONTENT,
        "DELETE logout",
    )
    .await;
    assert_401_a(app.me_session(&a1).await).await;
    assert_eq!(all_ids(&app, &admin).await, sorted(vec![a2.session_id, a3.session_id]));

    // GET needs no CSRF token.
    assert_empty(
        app.as_browser(Method::GET, "/api/v2/users/me/logout", &a2).await,
        StatusCode::NO_CONTENT,
        "GET logout",
    )
    .await;
    assert_401_a(app.me_session(&a2).await).await;
    assert_eq!(app.me_session(&a3).await.status(), StatusCode::OK);

    // A cookie DELETE without the CSRF token is refused and ends nothing [C-12].
    let r = cookie_request(&app, Method::DELETE, "/api/v2/users/me/logout", &a3, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.me_session(&a3).await.status(), StatusCode::OK);

    let token = app.api_token(&agent).await;
    let oauth = app.oauth_token(&agent, &["read", "write"], None).await;
    for auth in
        [basic(&agent.email, PASSWORD), basic(&format!("{}/token", agent.email), &token), format!("Bearer {oauth}")]
    {
        for method in [Method::DELETE, Method::GET] {
            assert_empty(
                app.with_auth(method.clone(), "/api/v2/users/me/logout", &auth).await,
                StatusCode::NO_CONTENT,
                "header logout",
            )
            .await;
        }
        // The header credential still works and the cookie session is untouched.
        assert_eq!(app.with_auth(Method::GET, "/api/v2/sessions", &auth).await.status(), StatusCode::OK);
        assert_eq!(app.me_session(&a3).await.status(), StatusCode::OK);
    }
    // An admin's header logout does not touch anyone's session either.
    assert_empty(
        app.as_admin(Method::DELETE, "/api/v2/users/me/logout", &admin).await,
        StatusCode::NO_CONTENT,
        "admin logout",
    )
    .await;
    assert_eq!(all_ids(&app, &admin).await, vec![a3.session_id]);
    assert_401_a(app.http.delete(app.url("/api/v2/users/me/logout")).send().await.expect("request")).await;
}

// [C-20] bulk delete: every session of that user, idempotent; nobody else's.
#[tokio::test]
async fn bulk_delete_signs_out_every_session_of_the_user_idempotently() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let mut agent_sessions = Vec::new();
    for _ in 0..3 {
        agent_sessions.push(app.sign_in(&agent.email).await);
    }
    let u1 = app.sign_in(&user.email).await;
    let u2 = app.sign_in(&user.email).await;
    let path = format!("/api/v2/users/{}/sessions", agent.id);

    // The user themself, from one of the sessions being ended.
    assert_empty(app.as_browser(Method::DELETE, &path, &agent_sessions[0]).await, StatusCode::NO_CONTENT, "self bulk")
        .await;
    for b in &agent_sessions {
        assert_401_a(app.me_session(b).await).await;
    }
    assert_eq!(all_ids(&app, &admin).await, sorted(vec![u1.session_id, u2.session_id]));
    // Idempotent: again, now with nothing left.
    assert_empty(
        app.with_auth(Method::DELETE, &path, &basic(&agent.email, PASSWORD)).await,
        StatusCode::NO_CONTENT,
        "again",
    )
    .await;
    assert_empty(app.as_admin(Method::DELETE, &path, &admin).await, StatusCode::NO_CONTENT, "admin again").await;

    // The admin on someone else.
    let upath = format!("/api/v2/users/{}/sessions", user.id);
    assert_empty(app.as_admin(Method::DELETE, &upath, &admin).await, StatusCode::NO_CONTENT, "admin bulk").await;
    assert_401_a(app.me_session(&u1).await).await;
    assert_401_a(app.me_session(&u2).await).await;
    assert_eq!(all_ids(&app, &admin).await, Vec::<i64>::new());
    assert_empty(app.as_admin(Method::DELETE, &upath, &admin).await, StatusCode::NO_CONTENT, "admin bulk again").await;
}

// [C-21] [E-6] --session-as-array: shows 3 and 4 and the sign-in body carry a one-element
// array; lists and renew are unchanged.
#[tokio::test]
async fn session_as_array_wraps_single_session_bodies() {
    let app = TestApp::spawn_with(|c| c.session_as_array = true).await;
    let admin = app.admin().await;
    let (b, sign_in) = sign_in_body(&app, &admin.email).await;
    let arr = sign_in["session"].as_array().expect("sign-in session is an array");
    assert_eq!(arr.len(), 1);
    assert_session_shape(&arr[0], &app.base);
    assert!(sign_in["authenticity_token"].is_string());

    let (s, me) = status_json(app.me_session(&b).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me, json!({ "session": [arr[0].clone()] }));
    let (s, show) =
        status_json(app.as_admin(Method::GET, &format!("/api/v2/users/me/sessions/{}", b.session_id), &admin).await)
            .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(show, json!({ "session": [arr[0].clone()] }));

    let (_, list) = status_json(app.as_admin(Method::GET, "/api/v2/sessions", &admin).await).await;
    assert_eq!(list["sessions"], json!([arr[0].clone()]), "list items stay objects");
    let (_, renew) = status_json(app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &b).await).await;
    assert!(renew["authenticity_token"].is_string(), "{renew}");

    // Default (no flag): objects.
    let plain = TestApp::spawn().await;
    let padmin = plain.admin().await;
    let (pb, body) = sign_in_body(&plain, &padmin.email).await;
    assert!(body["session"].is_object());
    let (_, me) = status_json(plain.me_session(&pb).await).await;
    assert!(me["session"].is_object());
}

// [C-23] GET/DELETE /api/v2/users/me/sessions are list 2 and bulk delete 8 for the caller.
#[tokio::test]
async fn me_sessions_aliases_list_and_bulk_delete_for_the_caller() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;

    let alias = status_json(app.as_browser(Method::GET, "/api/v2/users/me/sessions", &a1).await).await;
    let list2 =
        status_json(app.as_browser(Method::GET, &format!("/api/v2/users/{}/sessions", agent.id), &a1).await).await;
    assert_eq!(alias, list2);
    assert_eq!(
        list_ids(app.with_auth(Method::GET, "/api/v2/users/me/sessions", &basic(&user.email, PASSWORD)).await).await,
        vec![u1.session_id]
    );

    // DELETE alias, by a header caller: all of the caller's sessions, nobody else's.
    let r = app.with_auth(Method::DELETE, "/api/v2/users/me/sessions", &basic(&agent.email, PASSWORD)).await;
    assert_empty(r, StatusCode::NO_CONTENT, "alias delete").await;
    assert_401_a(app.me_session(&a1).await).await;
    assert_401_a(app.me_session(&a2).await).await;
    assert_eq!(all_ids(&app, &admin).await, vec![u1.session_id]);
    // And by a cookie caller (CSRF rule applies), idempotent afterwards.
    assert_empty(
        app.as_browser(Method::DELETE, "/api/v2/users/me/sessions", &u1).await,
        StatusCode::NO_CONTENT,
        "cookie alias",
    )
    .await;
    assert_401_a(app.me_session(&u1).await).await;
    assert_empty(
        app.with_auth(Method::DELETE, "/api/v2/users/me/sessions", &basic(&user.email, PASSWORD)).await,
        StatusCode::NO_CONTENT,
        "alias again",
    )
    .await;
}

// [C-24] [E-17] logout_many: admin only, 202 with an empty body, the users are signed out
// before the answer; nobody else is.
#[tokio::test]
async fn logout_many_signs_the_users_out_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let agent2 = app.create_user("agent2@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let b1 = app.sign_in(&agent2.email).await;
    let u1 = app.sign_in(&user.email).await;
    let ad = app.sign_in(&admin.email).await;

    // Non-admins: role-403 and nothing happens.
    let path = format!("/api/v2/users/logout_many?ids={},{}", agent.id, user.id);
    assert_status_body(
        app.as_browser(Method::POST, &path, &b1).await,
        StatusCode::FORBIDDEN,
        role_forbidden(),
        "agent",
    )
    .await;
    assert_status_body(
        app.with_auth(Method::POST, &path, &basic(&user.email, PASSWORD)).await,
        StatusCode::FORBIDDEN,
        role_forbidden(),
        "end user",
    )
    .await;
    assert_eq!(all_ids(&app, &admin).await.len(), 5);

    // The admin (from a cookie, with CSRF).
    let r = app.as_browser(Method::POST, &path, &ad).await;
    assert_empty(r, StatusCode::ACCEPTED, "logout_many").await;
    for b in [&a1, &a2, &u1] {
        assert_401_a(app.me_session(b).await).await;
    }
    assert_eq!(app.me_session(&b1).await.status(), StatusCode::OK);
    assert_eq!(app.me_session(&ad).await.status(), StatusCode::OK);
    assert_eq!(all_ids(&app, &admin).await, sorted(vec![b1.session_id, ad.session_id]));
    // Again (nothing left to do): still 202.
    assert_empty(app.as_admin(Method::POST, &path, &admin).await, StatusCode::ACCEPTED, "again").await;
}

// [C-24] destroy_many: admin only, 204, exactly those sessions.
#[tokio::test]
async fn destroy_many_deletes_exactly_those_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;
    let u2 = app.sign_in(&user.email).await;
    let path = format!("/api/v2/sessions/destroy_many?ids={},{}", a1.session_id, u2.session_id);

    for (who, r) in [
        ("agent cookie", app.as_browser(Method::DELETE, &path, &a2).await),
        ("end user basic", app.with_auth(Method::DELETE, &path, &basic(&user.email, PASSWORD)).await),
    ] {
        assert_status_body(r, StatusCode::FORBIDDEN, role_forbidden(), who).await;
    }
    assert_eq!(all_ids(&app, &admin).await.len(), 4);

    assert_empty(app.as_admin(Method::DELETE, &path, &admin).await, StatusCode::NO_CONTENT, "destroy_many").await;
    assert_401_a(app.me_session(&a1).await).await;
    assert_401_a(app.me_session(&u2).await).await;
    assert_eq!(app.me_session(&a2).await.status(), StatusCode::OK);
    assert_eq!(app.me_session(&u1).await.status(), StatusCode::OK);
    assert_eq!(all_ids(&app, &admin).await, sorted(vec![a2.session_id, u1.session_id]));
    // Percent-encoded commas are the same list.
    let encoded = format!("/api/v2/sessions/destroy_many?ids={}%2C{}", a2.session_id, u1.session_id);
    assert_empty(app.as_admin(Method::DELETE, &encoded, &admin).await, StatusCode::NO_CONTENT, "encoded").await;
    assert_eq!(all_ids(&app, &admin).await, Vec::<i64>::new());
}

// [C-24] [E-4] the ids list: empty, non-number or over 100 → 400 InvalidValue; duplicates
// count once; unknown ids are ignored.
#[tokio::test]
async fn bulk_ids_are_validated() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let a2 = app.sign_in(&agent.email).await;
    let a3 = app.sign_in(&agent.email).await;

    let hundred_one: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let too_many = hundred_one.join(",");
    let bad_lists = [
        "",
        "?ids=",
        "?ids=,",
        "?ids=1,,2",
        "?ids=a",
        "?ids=1,a",
        "?ids=1.5",
        "?ids=-1",
        "?ids=%20",
        &format!("?ids={too_many}"),
    ];
    for endpoint in [(Method::POST, "/api/v2/users/logout_many"), (Method::DELETE, "/api/v2/sessions/destroy_many")] {
        for q in bad_lists {
            let r = app.as_admin(endpoint.0.clone(), &format!("{}{q}", endpoint.1), &admin).await;
            assert_eq!(header(r.headers(), "content-type"), JSON_CT);
            let (s, body) = status_json(r).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {q}: {body}", endpoint.1);
            assert_eq!(body["error"], json!("InvalidValue"), "{} {q}", endpoint.1);
            assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
            assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
        }
    }
    assert_eq!(all_ids(&app, &admin).await.len(), 3, "refused lists deleted nothing");

    // 100 distinct ids plus duplicates: fine. Unknown ids are ignored.
    let mut hundred: Vec<String> = (1_000_000..1_000_099).map(|i| i.to_string()).collect();
    hundred.push(a1.session_id.to_string());
    hundred.push(a1.session_id.to_string());
    hundred.push("1000000".into());
    let q = format!("/api/v2/sessions/destroy_many?ids={}", hundred.join(","));
    assert_empty(app.as_admin(Method::DELETE, &q, &admin).await, StatusCode::NO_CONTENT, "100 distinct + dups").await;
    assert_401_a(app.me_session(&a1).await).await;
    assert_eq!(all_ids(&app, &admin).await, sorted(vec![a2.session_id, a3.session_id]));

    let q = format!("/api/v2/sessions/destroy_many?ids={0},{0},{0}", a2.session_id);
    assert_empty(app.as_admin(Method::DELETE, &q, &admin).await, StatusCode::NO_CONTENT, "dups").await;
    assert_401_a(app.me_session(&a2).await).await;
    assert_empty(
        app.as_admin(Method::DELETE, "/api/v2/sessions/destroy_many?ids=424242", &admin).await,
        StatusCode::NO_CONTENT,
        "unknown",
    )
    .await;

    let mut users: Vec<String> = (2_000_000..2_000_099).map(|i| i.to_string()).collect();
    users.extend([agent.id.to_string(), agent.id.to_string()]);
    let q = format!("/api/v2/users/logout_many?ids={}", users.join(","));
    assert_empty(app.as_admin(Method::POST, &q, &admin).await, StatusCode::ACCEPTED, "users: 100 distinct + dups")
        .await;
    assert_401_a(app.me_session(&a3).await).await;
    assert_empty(
        app.as_admin(Method::POST, "/api/v2/users/logout_many?ids=424242", &admin).await,
        StatusCode::ACCEPTED,
        "unknown user",
    )
    .await;

    // Non-admins get the role-403 even with a bad list (role before validation).
    let ag = app.sign_in(&agent.email).await;
    assert_status_body(
        app.as_browser(Method::POST, "/api/v2/users/logout_many?ids=a", &ag).await,
        StatusCode::FORBIDDEN,
        role_forbidden(),
        "agent bad ids",
    )
    .await;
}

// [C-25] 404 RecordNotFound: missing user, missing session, a session that is not that user's.
#[tokio::test]
async fn missing_or_foreign_sessions_are_record_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a1 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;

    let foreign = format!("/api/v2/users/{}/sessions/{}", agent.id, u1.session_id);
    for (what, r) in [
        ("admin show foreign", app.as_admin(Method::GET, &foreign, &admin).await),
        ("admin delete foreign", app.as_admin(Method::DELETE, &foreign, &admin).await),
        ("owner show foreign", app.as_browser(Method::GET, &foreign, &a1).await),
        ("owner delete foreign", app.as_browser(Method::DELETE, &foreign, &a1).await),
        (
            "me show foreign",
            app.as_browser(Method::GET, &format!("/api/v2/users/me/sessions/{}", u1.session_id), &a1).await,
        ),
        (
            "me delete foreign",
            app.as_browser(Method::DELETE, &format!("/api/v2/users/me/sessions/{}", u1.session_id), &a1).await,
        ),
        (
            "missing session",
            app.as_admin(Method::GET, &format!("/api/v2/users/{}/sessions/999999", agent.id), &admin).await,
        ),
        (
            "delete missing session",
            app.as_admin(Method::DELETE, &format!("/api/v2/users/{}/sessions/999999", agent.id), &admin).await,
        ),
        ("missing user list", app.as_admin(Method::GET, "/api/v2/users/424242/sessions", &admin).await),
        (
            "missing user show",
            app.as_admin(Method::GET, &format!("/api/v2/users/424242/sessions/{}", a1.session_id), &admin).await,
        ),
        ("missing user bulk", app.as_admin(Method::DELETE, "/api/v2/users/424242/sessions", &admin).await),
        (
            "missing user delete",
            app.as_admin(Method::DELETE, &format!("/api/v2/users/424242/sessions/{}", a1.session_id), &admin).await,
        ),
    ] {
        assert_status_body(r, StatusCode::NOT_FOUND, not_found(), what).await;
    }
    // Nothing was deleted by any of those.
    assert_eq!(app.me_session(&u1).await.status(), StatusCode::OK);
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK);
    assert_eq!(all_ids(&app, &admin).await, sorted(vec![a1.session_id, u1.session_id]));
}

// [C-26] [E-12] a non-admin naming another user, existing or not, gets the role-403.
#[tokio::test]
async fn non_admins_touching_other_users_get_the_role_403() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let ad = app.sign_in(&admin.email).await;
    let a1 = app.sign_in(&agent.email).await;
    let u1 = app.sign_in(&user.email).await;
    let token = app.api_token(&user).await;
    let oauth = app.oauth_token(&agent, &["read", "write"], None).await;

    let targets =
        [(agent.id, a1.session_id), (admin.id, ad.session_id), (user.id, u1.session_id), (424242, 1), (i64::MAX, 1)];
    let callers: [(&str, String); 3] = [
        ("end user token", basic(&format!("{}/token", user.email), &token)),
        ("agent oauth", format!("Bearer {oauth}")),
        ("end user password", basic(&user.email, PASSWORD)),
    ];
    for (who, auth) in &callers {
        let me = if who.starts_with("agent") { agent.id } else { user.id };
        for (target, sid) in targets {
            if target == me {
                continue;
            }
            for (method, path) in [
                (Method::GET, format!("/api/v2/users/{target}/sessions")),
                (Method::DELETE, format!("/api/v2/users/{target}/sessions")),
                (Method::GET, format!("/api/v2/users/{target}/sessions/{sid}")),
                (Method::DELETE, format!("/api/v2/users/{target}/sessions/{sid}")),
                (Method::GET, format!("/api/v2/users/{target}/sessions/999999")),
            ] {
                let r = app.with_auth(method.clone(), &path, auth).await;
                assert_status_body(r, StatusCode::FORBIDDEN, role_forbidden(), &format!("{who} {method} {path}")).await;
            }
        }
    }
    // Cookie caller too.
    for path in [
        format!("/api/v2/users/{}/sessions", admin.id),
        format!("/api/v2/users/{}/sessions/{}", admin.id, ad.session_id),
    ] {
        assert_status_body(
            app.as_browser(Method::DELETE, &path, &a1).await,
            StatusCode::FORBIDDEN,
            role_forbidden(),
            &path,
        )
        .await;
    }
    assert_eq!(
        all_ids(&app, &admin).await,
        sorted(vec![ad.session_id, a1.session_id, u1.session_id]),
        "nothing deleted"
    );
}

// [C-27] [E-12] unknown routes and wrong methods under /api/v2: 404 InvalidEndpoint, judged
// before authentication.
#[tokio::test]
async fn unknown_routes_and_methods_are_invalid_endpoint_before_authentication() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let cases = [
        (Method::GET, "/api/v2/nope".to_owned()),
        (Method::GET, "/api/v2/nope.json".to_owned()),
        (Method::GET, "/api/v2".to_owned()),
        (Method::GET, "/api/v2/".to_owned()),
        (Method::GET, "/api/v2/sessions/1".to_owned()),
        (Method::GET, "/api/v2/users/me/sessions/1/extra".to_owned()),
        (Method::GET, "/api/v2/users/me/session/renew/again".to_owned()),
        (Method::GET, "/api/v3/sessions".to_owned()),
        (Method::POST, "/api/v2/sessions".to_owned()),
        (Method::DELETE, "/api/v2/sessions".to_owned()),
        (Method::PUT, "/api/v2/users/me/session".to_owned()),
        (Method::DELETE, "/api/v2/users/me/session".to_owned()),
        (Method::POST, "/api/v2/users/me/session/renew".to_owned()),
        (Method::PATCH, format!("/api/v2/users/{}/sessions/{}", agent.id, a1.session_id)),
        (Method::POST, format!("/api/v2/users/{}/sessions", agent.id)),
        (Method::PUT, "/api/v2/users/me/logout".to_owned()),
        (Method::GET, "/api/v2/sessions/destroy_many?ids=1".to_owned()),
        (Method::POST, "/api/v2/sessions/destroy_many?ids=1".to_owned()),
        (Method::DELETE, "/api/v2/users/logout_many?ids=1".to_owned()),
        (Method::PUT, "/api/v2/users/logout_many.json?ids=1".to_owned()),
    ];
    for (method, path) in &cases {
        // No credentials, bad credentials, good credentials: the same 404.
        let anon = app.http.request(method.clone(), app.url(path)).send().await.expect("request");
        assert_status_body(anon, StatusCode::NOT_FOUND, invalid_endpoint(), &format!("anonymous {method} {path}"))
            .await;
        let bad = app.with_auth(method.clone(), path, &basic(&admin.email, "wrong password")).await;
        assert_status_body(bad, StatusCode::NOT_FOUND, invalid_endpoint(), &format!("bad creds {method} {path}")).await;
        let bearer = app.with_auth(method.clone(), path, "Bearer nonsense").await;
        assert_status_body(bearer, StatusCode::NOT_FOUND, invalid_endpoint(), &format!("bad bearer {method} {path}"))
            .await;
        let good = app.as_admin(method.clone(), path, &admin).await;
        assert_status_body(good, StatusCode::NOT_FOUND, invalid_endpoint(), &format!("admin {method} {path}")).await;
        // A cookie write without CSRF on an unknown route: still 404, not 403.
        let cookie = cookie_request(&app, method.clone(), path, &a1, None).await;
        assert_status_body(cookie, StatusCode::NOT_FOUND, invalid_endpoint(), &format!("cookie {method} {path}")).await;
    }
    // Known routes without credentials: 401 (the control for the above).
    assert_401_a(app.http.get(app.url("/api/v2/sessions")).send().await.expect("request")).await;
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK, "nothing above ended the session");
}

// [C-28] non-numeric, negative, zero and over-i64 ids are 404 RecordNotFound, never 500.
#[tokio::test]
async fn malformed_ids_are_record_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let bad = [
        "abc",
        "1.5",
        "-1",
        "-9223372036854775808",
        "0",
        "00",
        "+1",
        "1e3",
        "0x10",
        " 1",
        "%20",
        "1%20",
        "%00",
        "%FF",
        "%C3%28",
        "%2F",
        "1;2",
        "99999999999999999999",
        "9223372036854775808",
        "18446744073709551616",
        "00000000000000000000001",
        "null",
        "me2",
        "ME",
        "%E2%80%8B1",
    ];
    for seg in bad {
        let paths = [
            (Method::GET, format!("/api/v2/users/{seg}/sessions")),
            (Method::DELETE, format!("/api/v2/users/{seg}/sessions")),
            (Method::GET, format!("/api/v2/users/{seg}/sessions/{}", a1.session_id)),
            (Method::DELETE, format!("/api/v2/users/{seg}/sessions/{}", a1.session_id)),
            (Method::GET, format!("/api/v2/users/{}/sessions/{seg}", agent.id)),
            (Method::DELETE, format!("/api/v2/users/{}/sessions/{seg}", agent.id)),
            (Method::GET, format!("/api/v2/users/me/sessions/{seg}")),
            (Method::DELETE, format!("/api/v2/users/me/sessions/{seg}")),
            (Method::GET, format!("/api/v2/users/me/sessions/{seg}.json")),
        ];
        for (method, path) in &paths {
            let r = app.as_admin(method.clone(), path, &admin).await;
            assert_status_body(r, StatusCode::NOT_FOUND, not_found(), &format!("admin {method} {path}")).await;
        }
        // The owner's own path with a bad session id.
        let r = app.as_browser(Method::GET, &format!("/api/v2/users/me/sessions/{seg}"), &a1).await;
        assert_status_body(r, StatusCode::NOT_FOUND, not_found(), &format!("owner {seg}")).await;
        let r = app.as_browser(Method::DELETE, &format!("/api/v2/users/{}/sessions/{seg}", agent.id), &a1).await;
        assert_status_body(r, StatusCode::NOT_FOUND, not_found(), &format!("owner delete {seg}")).await;
    }
    assert_eq!(app.me_session(&a1).await.status(), StatusCode::OK, "the session survived every bad delete");
    // The largest i64 is a well-formed id that simply does not exist.
    let r =
        app.as_admin(Method::GET, &format!("/api/v2/users/{}/sessions/9223372036854775807", agent.id), &admin).await;
    assert_status_body(r, StatusCode::NOT_FOUND, not_found(), "i64::MAX").await;
}

// [C-29] [E-17] after every kind of delete the signed-out cookie gets 401 A on its very next
// request (a read, and a write carrying a valid CSRF token).
#[tokio::test]
async fn signed_out_cookie_gets_401_on_its_very_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let kinds =
        ["one", "one via me", "bulk", "bulk alias", "logout DELETE", "logout GET", "logout_many", "destroy_many"];
    for (i, kind) in kinds.into_iter().enumerate() {
        let victim = app.sign_in(&agent.email).await;
        let bystander = app.sign_in(&admin.email).await;
        assert_eq!(app.me_session(&victim).await.status(), StatusCode::OK, "{kind}: alive before");
        let r = match kind {
            "one" => {
                app.as_admin(
                    Method::DELETE,
                    &format!("/api/v2/users/{}/sessions/{}", agent.id, victim.session_id),
                    &admin,
                )
                .await
            }
            "one via me" => {
                app.as_browser(Method::DELETE, &format!("/api/v2/users/me/sessions/{}", victim.session_id), &victim)
                    .await
            }
            "bulk" => app.as_admin(Method::DELETE, &format!("/api/v2/users/{}/sessions", agent.id), &admin).await,
            "bulk alias" => app.as_browser(Method::DELETE, "/api/v2/users/me/sessions", &victim).await,
            "logout DELETE" => app.as_browser(Method::DELETE, "/api/v2/users/me/logout", &victim).await,
            "logout GET" => app.as_browser(Method::GET, "/api/v2/users/me/logout", &victim).await,
            "logout_many" => {
                app.as_admin(Method::POST, &format!("/api/v2/users/logout_many?ids={}", agent.id), &admin).await
            }
            _ => {
                app.as_admin(
                    Method::DELETE,
                    &format!("/api/v2/sessions/destroy_many?ids={}", victim.session_id),
                    &admin,
                )
                .await
            }
        };
        assert!(r.status() == StatusCode::NO_CONTENT || r.status() == StatusCode::ACCEPTED, "{kind}: {}", r.status());
        // The very next request, alternating a read and a CSRF-carrying write.
        if i % 2 == 0 {
            assert_401_a(app.me_session(&victim).await).await;
        } else {
            assert_401_a(app.as_browser(Method::DELETE, "/api/v2/users/me/logout", &victim).await).await;
        }
        assert_401_a(app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &victim).await).await;
        assert_401_a(app.as_browser(Method::GET, "/api/v2/sessions", &victim).await).await;
        assert_eq!(
            app.me_session(&bystander).await.status(),
            StatusCode::OK,
            "{kind}: another user's session survives"
        );
        assert!(!all_ids(&app, &admin).await.contains(&victim.session_id), "{kind}: gone from the list");
    }
}

// [E-12] the order of judgement: 404 InvalidEndpoint, then 401, then OAuth scope 403, then
// role-403, then 404 RecordNotFound.
#[tokio::test]
async fn judgement_order_is_route_then_authentication_then_scope_then_role_then_lookup() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a1 = app.sign_in(&agent.email).await;
    let read_only = app.oauth_token(&agent, &["read"], None).await;
    let read_write = app.oauth_token(&agent, &["read", "write"], None).await;
    let admin_read_only = app.oauth_token(&admin, &["read"], None).await;
    let other = format!("/api/v2/users/{}/sessions/999999", admin.id);
    let missing_user = "/api/v2/users/424242/sessions/999999";

    // 1. Route before authentication.
    let r = app.http.delete(app.url("/api/v2/users/424242/sessions/1/x")).send().await.expect("request");
    assert_status_body(r, StatusCode::NOT_FOUND, invalid_endpoint(), "route first").await;
    // 2. Authentication before everything else on a known route.
    assert_401_a(app.http.delete(app.url(&other)).send().await.expect("request")).await;
    assert_401_a(app.with_auth(Method::DELETE, &other, &basic(&agent.email, "wrong")).await).await;
    let (s, body) = status_json(app.with_auth(Method::DELETE, &other, "Bearer not-a-real-token").await).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], json!("invalid_token"));
    // 3. Scope before role: a read-only token DELETEing another user's session.
    let scope_403 =
        json!({ "error": "Forbidden", "description": "You are missing the following required scopes: write" });
    for path in [&other, missing_user, "/api/v2/sessions/destroy_many?ids=a"] {
        assert_status_body(
            app.with_auth(Method::DELETE, path, &format!("Bearer {read_only}")).await,
            StatusCode::FORBIDDEN,
            scope_403.clone(),
            path,
        )
        .await;
    }
    assert_status_body(
        app.with_auth(Method::POST, "/api/v2/users/logout_many?ids=a", &format!("Bearer {read_only}")).await,
        StatusCode::FORBIDDEN,
        scope_403.clone(),
        "scope on logout_many",
    )
    .await;
    // Scope before validation for an admin too.
    assert_status_body(
        app.with_auth(Method::DELETE, "/api/v2/sessions/destroy_many?ids=a", &format!("Bearer {admin_read_only}"))
            .await,
        StatusCode::FORBIDDEN,
        scope_403,
        "admin scope",
    )
    .await;
    // 4. Role before lookup: existing or missing user, existing or missing session.
    for path in [other.as_str(), missing_user] {
        for auth in [format!("Bearer {read_write}"), basic(&agent.email, PASSWORD)] {
            assert_status_body(
                app.with_auth(Method::DELETE, path, &auth).await,
                StatusCode::FORBIDDEN,
                role_forbidden(),
                path,
            )
            .await;
            assert_status_body(
                app.with_auth(Method::GET, path, &auth).await,
                StatusCode::FORBIDDEN,
                role_forbidden(),
                path,
            )
            .await;
        }
    }
    assert_status_body(
        app.with_auth(Method::DELETE, "/api/v2/sessions/destroy_many?ids=a", &format!("Bearer {read_write}")).await,
        StatusCode::FORBIDDEN,
        role_forbidden(),
        "role before ids validation",
    )
    .await;
    // 5. Lookup last: the caller may act, but nothing is there.
    assert_status_body(
        app.as_admin(Method::DELETE, missing_user, &admin).await,
        StatusCode::NOT_FOUND,
        not_found(),
        "admin missing",
    )
    .await;
    assert_status_body(
        app.as_browser(Method::DELETE, "/api/v2/users/me/sessions/999999", &a1).await,
        StatusCode::NOT_FOUND,
        not_found(),
        "own missing",
    )
    .await;
    // And the CSRF check (a cookie write) comes before role and lookup as well.
    let r = cookie_request(&app, Method::DELETE, &other, &a1, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        status_json(r).await.1,
        json!({ "error": { "title": "Forbidden", "message": "Invalid authenticity token" } })
    );
}

// [E-21] the `.json` suffix belongs to /api/v2 paths only.
#[tokio::test]
async fn json_suffix_applies_to_api_paths_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    assert_eq!(app.http.get(app.url("/access/login")).send().await.expect("request").status(), StatusCode::OK);
    assert_eq!(
        app.http.get(app.url("/access/login.json")).send().await.expect("request").status(),
        StatusCode::NOT_FOUND
    );
    let r = app
        .http
        .post(app.url("/access/login.json"))
        .json(&json!({ "email": admin.email, "password": PASSWORD }))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get(SET_COOKIE).is_none(), "no session is made through /access/login.json");
    assert_eq!(
        app.http.post(app.url("/access/logout.json")).send().await.expect("request").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.http.get(app.url("/.json")).send().await.expect("request").status(), StatusCode::NOT_FOUND);
    assert_eq!(all_ids(&app, &admin).await, Vec::<i64>::new());
    // The control: the suffix does work under /api/v2.
    assert_eq!(app.as_admin(Method::GET, "/api/v2/sessions.json", &admin).await.status(), StatusCode::OK);
}

// [C-18] [C-28] many parallel DELETEs of one session: exactly one 204, the rest 404, no 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deletes_of_one_session_succeed_exactly_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let token = app.api_token(&admin).await;
    let auth = basic(&format!("{}/token", admin.email), &token);
    for round in 0..3 {
        let victim = app.sign_in(&agent.email).await;
        let survivor = app.sign_in(&agent.email).await;
        let url = app.url(&format!("/api/v2/users/{}/sessions/{}", agent.id, victim.session_id));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..24 {
            let (http, url, auth) = (app.http.clone(), url.clone(), auth.clone());
            set.spawn(async move {
                let r = http.delete(url).header(reqwest::header::AUTHORIZATION, auth).send().await.expect("request");
                status_json(r).await
            });
        }
        let results = set.join_all().await;
        let ok = results.iter().filter(|(s, b)| *s == StatusCode::NO_CONTENT && b.is_null()).count();
        let gone = results.iter().filter(|(s, b)| *s == StatusCode::NOT_FOUND && *b == not_found()).count();
        assert_eq!((ok, gone), (1, 23), "round {round}: {results:?}");
        assert_401_a(app.me_session(&victim).await).await;
        assert_eq!(app.me_session(&survivor).await.status(), StatusCode::OK);
    }
}
