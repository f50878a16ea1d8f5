//! SPEC §6 (security settings) and §7 (users and credentials), with the session
//! consequences of issue 4: suspension, deletion, password and role changes.

use crate::common::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sessiond::domain::{Role, User};

const USERS: &str = "/api/v2/users";
const SETTINGS: &str = "/api/v2/security_settings";
const API_TOKENS: &str = "/api/v2/api_tokens";
const OAUTH_TOKENS: &str = "/api/v2/oauth/tokens";
/// `T0` in the wire form [C-2].
const T0_WIRE: &str = "2023-11-14T22:13:20Z";

/// Who makes a request: an `Authorization` header value, or a signed-in browser (cookie
/// plus its CSRF token on writes).
enum Who<'a> {
    Auth(String),
    Browser(&'a Browser),
}

fn pw(u: &User) -> Who<'static> {
    Who::Auth(basic(&u.email, PASSWORD))
}

fn tok(u: &User, token: &str) -> Who<'static> {
    Who::Auth(basic(&format!("{}/token", u.email), token))
}

fn bearer(token: &str) -> Who<'static> {
    Who::Auth(format!("Bearer {token}"))
}

/// A request body: none, JSON, or raw bytes sent as `application/json`.
enum Payload {
    None,
    Json(Value),
    Raw(&'static str),
}

async fn send(app: &TestApp, method: Method, path: &str, who: &Who<'_>, payload: Payload) -> Response {
    let mut req = app.http.request(method.clone(), app.url(path));
    match who {
        Who::Auth(a) => req = req.header(AUTHORIZATION, a),
        Who::Browser(b) => {
            req = req.header(COOKIE, &b.cookie);
            if method != Method::GET {
                req = req.header("X-CSRF-Token", &b.csrf);
            }
        }
    }
    match payload {
        Payload::None => {}
        Payload::Json(v) => req = req.json(&v),
        Payload::Raw(s) => req = req.header(CONTENT_TYPE, "application/json").body(s),
    }
    req.send().await.expect("request")
}

async fn call(app: &TestApp, method: Method, path: &str, who: &Who<'_>, payload: Payload) -> (StatusCode, Value) {
    status_json(send(app, method, path, who, payload).await).await
}

/// Asserts a 401 "B" with the exact body [C-10].
async fn assert_401_b(r: Response) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({
            "error": "invalid_token",
            "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."
        })
    );
}

/// Asserts a 422 `RecordInvalid` whose `details` name exactly `fields`.
fn assert_record_invalid(status: StatusCode, body: &Value, fields: &[&str], ctx: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{ctx}: {body}");
    assert_eq!(body["error"], "RecordInvalid", "{ctx}: {body}");
    assert_eq!(body["description"], "Record validation errors", "{ctx}: {body}");
    let details = body["details"].as_object().unwrap_or_else(|| panic!("{ctx}: no details in {body}"));
    let mut named: Vec<&str> = details.keys().map(String::as_str).collect();
    named.sort_unstable();
    let mut want = fields.to_vec();
    want.sort_unstable();
    assert_eq!(named, want, "{ctx}: {body}");
}

/// Asserts a 400 `InvalidJSON` with a description [E-4].
fn assert_invalid_json(status: StatusCode, body: &Value, ctx: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{ctx}: {body}");
    assert_eq!(body["error"], "InvalidJSON", "{ctx}: {body}");
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()), "{ctx}: {body}");
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

fn is_wire_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Asserts the exact user JSON of SPEC §7 [E-2] [E-5].
fn assert_user_json(app: &TestApp, u: &Value, id: i64, name: &str, email: &str, role: &str, suspended: bool) {
    assert_eq!(keys(u), ["created_at", "email", "id", "name", "role", "suspended", "url"], "{u}");
    assert_eq!(u["id"], id, "{u}");
    assert_eq!(u["name"], name, "{u}");
    assert_eq!(u["email"], email, "{u}");
    assert_eq!(u["role"], role, "{u}");
    assert_eq!(u["suspended"], suspended, "{u}");
    assert!(u["created_at"].as_str().is_some_and(is_wire_timestamp), "{u}");
    assert_eq!(u["url"], format!("{}/api/v2/users/{id}.json", app.base), "{u}");
}

async fn users_count(app: &TestApp) -> i64 {
    app.state.store.count_users().await.expect("count users")
}

fn user_path(id: i64) -> String {
    format!("{USERS}/{id}")
}

fn password_path(id: i64) -> String {
    format!("{USERS}/{id}/password")
}

// ---------------------------------------------------------------------------------------
// POST /api/v2/users
// ---------------------------------------------------------------------------------------

// §7 create, [E-2] user url, [E-5]/[C-2] timestamp form: 201 with exactly the user fields;
// the new user signs in with the given password; emails are stored normalised.
#[tokio::test]
async fn admin_creates_a_user_who_can_then_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.clock.advance(5);
    let r = send(
        &app,
        Method::POST,
        USERS,
        &pw(&admin),
        Payload::Json(json!({ "user": {
            "name": "  Grace Hopper ", "email": " Grace@Example.COM ", "role": "agent", "password": "s3cret-enough"
        }})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(r.headers(), "content-type"), "application/json; charset=utf-8");
    let body: Value = r.json().await.expect("json");
    assert_eq!(keys(&body), ["user"]);
    let id = body["user"]["id"].as_i64().expect("id");
    assert_ne!(id, admin.id);
    assert_user_json(&app, &body["user"], id, "Grace Hopper", "grace@example.com", "agent", false);
    assert_eq!(body["user"]["created_at"], "2023-11-14T22:13:25Z");

    // The password given works (with any case of the email); a wrong one does not.
    let (s, signed_in) = status_json(app.sign_in_raw("GRACE@example.com", "s3cret-enough").await).await;
    assert_eq!(s, StatusCode::CREATED, "{signed_in}");
    assert_eq!(signed_in["session"]["user_id"], id);
    assert_eq!(app.sign_in_raw("grace@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    // And the admin can read it back identically.
    let (s, shown) = call(&app, Method::GET, &user_path(id), &pw(&admin), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(shown, body);
}

// §7 create: role defaults to end-user and the password is optional (such a user cannot
// sign in with a password).
#[tokio::test]
async fn create_defaults_to_end_user_without_password() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (s, body) = call(
        &app,
        Method::POST,
        &format!("{USERS}.json"),
        &pw(&admin),
        Payload::Json(json!({ "user": { "name": "Ann", "email": "ann@example.com" } })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let id = body["user"]["id"].as_i64().expect("id");
    assert_user_json(&app, &body["user"], id, "Ann", "ann@example.com", "end-user", false);
    assert_eq!(body["user"]["created_at"], T0_WIRE);
    assert_eq!(app.sign_in_raw("ann@example.com", "").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in_raw("ann@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
}

// §7, issue 4 "bad input on every field": duplicate email in any case, invalid emails,
// over-long or blank names, unknown roles and short passwords → 422 RecordInvalid naming
// each bad field; nothing is created.
#[tokio::test]
async fn create_refuses_invalid_fields_with_422_details() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user("taken@example.com", Role::Agent).await;
    let before = users_count(&app).await;
    let ok = |name: &str, email: &str, role: &str, password: &str| json!({ "user": { "name": name, "email": email, "role": role, "password": password } });
    let long_name = "n".repeat(256);
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (ok("Dup", "taken@example.com", "agent", "long enough"), vec!["email"]),
        (ok("Dup", "TAKEN@Example.Com", "agent", "long enough"), vec!["email"]),
        (ok("Dup", "  taken@EXAMPLE.com ", "agent", "long enough"), vec!["email"]),
        (ok("Dup", "admin@example.com", "admin", "long enough"), vec!["email"]),
        (ok("X", "", "agent", "long enough"), vec!["email"]),
        (ok("X", "ada", "agent", "long enough"), vec!["email"]),
        (ok("X", "ada@", "agent", "long enough"), vec!["email"]),
        (ok("X", "@example.com", "agent", "long enough"), vec!["email"]),
        (ok("X", "a b@example.com", "agent", "long enough"), vec!["email"]),
        (ok("X", "a@@example.com", "agent", "long enough"), vec!["email"]),
        (ok("X", "a@b", "agent", "long enough"), vec!["email"]),
        (ok("X", "ada/token@example.com", "agent", "long enough"), vec!["email"]),
        (ok("X", &long_email, "agent", "long enough"), vec!["email"]),
        (ok(&long_name, "x1@example.com", "agent", "long enough"), vec!["name"]),
        (ok("", "x2@example.com", "agent", "long enough"), vec!["name"]),
        (ok("   ", "x3@example.com", "agent", "long enough"), vec!["name"]),
        (ok("tab\tname", "x4@example.com", "agent", "long enough"), vec!["name"]),
        (ok("X", "x5@example.com", "superuser", "long enough"), vec!["role"]),
        (ok("X", "x6@example.com", "Admin", "long enough"), vec!["role"]),
        (ok("X", "x7@example.com", "end_user", "long enough"), vec!["role"]),
        (ok("X", "x8@example.com", "", "long enough"), vec!["role"]),
        (ok("X", "x9@example.com", "agent", "short"), vec!["password"]),
        (ok("X", "x10@example.com", "agent", ""), vec!["password"]),
        (ok("X", "x11@example.com", "agent", &"p".repeat(1025)), vec!["password"]),
        (ok("", "bad", "owner", "short"), vec!["email", "name", "password", "role"]),
    ];
    for (payload, fields) in cases {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::POST, USERS, &pw(&admin), Payload::Json(payload)).await;
        assert_record_invalid(s, &body, &fields, &ctx);
    }
    assert_eq!(users_count(&app).await, before, "nothing may be created by an invalid request");

    // The boundaries themselves are accepted: a 255-character name, an 8-character password.
    let name255 = "n".repeat(255);
    let (s, body) = call(
        &app,
        Method::POST,
        USERS,
        &pw(&admin),
        Payload::Json(ok(&name255, "edge@example.com", "agent", "8 chars!")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["name"], name255.as_str());
}

// [E-4] bodies that are not JSON, or JSON of the wrong shape or types → 400 InvalidJSON;
// no 500, nothing created [C-28].
#[tokio::test]
async fn create_refuses_non_json_and_wrong_types_with_400() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let before = users_count(&app).await;
    for raw in ["", "   ", "not json", "{", "{\"user\":", "[]", "null", "42", "\"user\""] {
        let (s, body) = call(&app, Method::POST, USERS, &pw(&admin), Payload::Raw(raw)).await;
        assert_invalid_json(s, &body, raw);
    }
    let shapes = [
        json!({}),
        json!({ "user": "x" }),
        json!({ "user": null }),
        json!({ "user": [] }),
        json!({ "users": { "name": "A", "email": "a@example.com" } }),
        json!({ "user": { "name": 5, "email": "a@example.com" } }),
        json!({ "user": { "name": "A", "email": true } }),
        json!({ "user": { "name": "A", "email": "a@example.com", "role": 1 } }),
        json!({ "user": { "name": "A", "email": "a@example.com", "password": 12_345_678 } }),
        json!({ "user": { "name": ["A"], "email": "a@example.com" } }),
        // serde would take an array for a struct: these are the wrong shape too.
        json!({ "user": ["A", "a@example.com"] }),
        json!([{ "user": { "name": "A", "email": "a@example.com" } }]),
    ];
    for payload in shapes {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::POST, USERS, &pw(&admin), Payload::Json(payload)).await;
        assert_invalid_json(s, &body, &ctx);
    }
    assert_eq!(users_count(&app).await, before);
}

// Issue 4: a duplicate email is a 422, not a 500, also when two requests race: two
// concurrent creates with the same email → exactly one 201 and one 422.
#[tokio::test]
async fn duplicate_email_race_gives_one_201_and_one_422() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for round in 0..8 {
        let email = format!("race{round}@example.com");
        let body = |n: &str, e: String| json!({ "user": { "name": n, "email": e, "role": "agent", "password": "long enough" } });
        let who = pw(&admin);
        let (a, b) = tokio::join!(
            call(&app, Method::POST, USERS, &who, Payload::Json(body("First", email.clone()))),
            call(&app, Method::POST, USERS, &who, Payload::Json(body("Second", email.to_uppercase()))),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY], "round {round}: {a:?} {b:?}");
        let (winner, loser) = if a.0 == StatusCode::CREATED { (a.1, b.1) } else { (b.1, a.1) };
        assert_record_invalid(StatusCode::UNPROCESSABLE_ENTITY, &loser, &["email"], "race loser");
        let stored = app.state.store.user_by_email(&email).await.expect("lookup").expect("the winner exists");
        assert_eq!(winner["user"]["id"], stored.0.id);
    }
}

// [E-3] [C-26] create is admin-only: agents and end users (any carrier) get the role-403
// body, also when their body is invalid; nothing is created.
#[tokio::test]
async fn non_admins_cannot_create_users() {
    let app = TestApp::spawn().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let end_user = app.create_user("end@example.com", Role::EndUser).await;
    let browser = app.sign_in("end@example.com").await;
    let token = app.api_token(&agent).await;
    let before = users_count(&app).await;
    let good =
        json!({ "user": { "name": "N", "email": "new@example.com", "role": "admin", "password": "long enough" } });
    for who in [pw(&agent), pw(&end_user), tok(&agent, &token), Who::Browser(&browser)] {
        let (s, body) = call(&app, Method::POST, USERS, &who, Payload::Json(good.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(body, role_forbidden());
        let (s, body) = call(&app, Method::POST, USERS, &who, Payload::Raw("not json")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body, role_forbidden());
    }
    assert_eq!(users_count(&app).await, before);
    assert_401_a(app.http.post(app.url(USERS)).json(&good).send().await.expect("request")).await;
}

// ---------------------------------------------------------------------------------------
// GET /api/v2/users/{id}
// ---------------------------------------------------------------------------------------

// §7 show: admin or self; other users → role-403 (also for ids that do not exist) [E-12];
// unknown id (admin) → 404; non-numeric → 404 [C-28]; `.json` suffix identical [C-4].
#[tokio::test]
async fn show_user_is_for_admins_and_self() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let end_user = app.create_user("end@example.com", Role::EndUser).await;

    let (s, body) = call(&app, Method::GET, &user_path(end_user.id), &pw(&admin), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert_user_json(&app, &body["user"], end_user.id, &end_user.name, "end@example.com", "end-user", false);
    assert_eq!(body["user"]["created_at"], T0_WIRE);
    let (s, with_suffix) =
        call(&app, Method::GET, &format!("{}.json", user_path(end_user.id)), &pw(&admin), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(with_suffix, body);

    let (s, own) = call(&app, Method::GET, &user_path(end_user.id), &pw(&end_user), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(own, body, "self sees the same user JSON (no authenticity_token for Basic) [E-7]");

    for (who, other) in [(&agent, end_user.id), (&end_user, agent.id), (&end_user, admin.id), (&agent, 999_999)] {
        let (s, body) = call(&app, Method::GET, &user_path(other), &pw(who), Payload::None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{} → {other}", who.email);
        assert_eq!(body, role_forbidden());
    }

    for path in [user_path(999_999), format!("{USERS}/abc"), format!("{USERS}/0")] {
        let (s, body) = call(&app, Method::GET, &path, &pw(&admin), Payload::None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, not_found(), "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// PUT /api/v2/users/{id}
// ---------------------------------------------------------------------------------------

// [E-2] update takes {"user":{…}} and answers 200 {"user":{…}}; partial updates keep the
// other fields; bad values → 422, wrong types → 400, unknown id → 404.
#[tokio::test]
async fn admin_updates_name_and_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::EndUser).await;
    let path = user_path(user.id);

    let (s, body) =
        call(&app, Method::PUT, &path, &pw(&admin), Payload::Json(json!({ "user": { "name": " Ann B. " } }))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), ["user"]);
    assert_user_json(&app, &body["user"], user.id, "Ann B.", "ann@example.com", "end-user", false);
    assert_eq!(body["user"]["created_at"], T0_WIRE);

    let (s, body) =
        call(&app, Method::PUT, &path, &pw(&admin), Payload::Json(json!({ "user": { "role": "agent" } }))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_user_json(&app, &body["user"], user.id, "Ann B.", "ann@example.com", "agent", false);
    let (_, shown) = call(&app, Method::GET, &path, &pw(&admin), Payload::None).await;
    assert_eq!(shown, body);

    for (payload, field) in [
        (json!({ "user": { "role": "owner" } }), "role"),
        (json!({ "user": { "role": "" } }), "role"),
        (json!({ "user": { "name": "" } }), "name"),
        (json!({ "user": { "name": "x".repeat(256) } }), "name"),
    ] {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::PUT, &path, &pw(&admin), Payload::Json(payload)).await;
        assert_record_invalid(s, &body, &[field], &ctx);
    }
    for payload in [
        json!({ "user": { "name": 5 } }),
        json!({ "user": { "suspended": "yes" } }),
        json!({ "user": { "role": ["admin"] } }),
        json!({ "user": "x" }),
        json!({ "name": "No envelope" }),
    ] {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::PUT, &path, &pw(&admin), Payload::Json(payload)).await;
        assert_invalid_json(s, &body, &ctx);
    }
    let (s, body) = call(&app, Method::PUT, &path, &pw(&admin), Payload::Raw("{nope")).await;
    assert_invalid_json(s, &body, "{nope");
    // Nothing above changed the user.
    let (_, after) = call(&app, Method::GET, &path, &pw(&admin), Payload::None).await;
    assert_eq!(after, shown);

    let (s, body) =
        call(&app, Method::PUT, &user_path(999_999), &pw(&admin), Payload::Json(json!({ "user": { "name": "Z" } })))
            .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found());
}

// Issue 4, [E-3] [C-26]: an end user cannot promote themself (403, role unchanged), by
// cookie or Basic, by id or `me`; agents cannot update anyone either.
#[tokio::test]
async fn end_user_cannot_promote_themself() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let end_user = app.create_user("end@example.com", Role::EndUser).await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let browser = app.sign_in("end@example.com").await;
    let promote = json!({ "user": { "role": "admin" } });
    let attempts: Vec<(Who, String)> = vec![
        (Who::Browser(&browser), format!("{USERS}/me")),
        (Who::Browser(&browser), user_path(end_user.id)),
        (pw(&end_user), user_path(end_user.id)),
        (pw(&agent), user_path(agent.id)),
        (pw(&agent), user_path(end_user.id)),
    ];
    for (who, path) in &attempts {
        let (s, body) = call(&app, Method::PUT, path, who, Payload::Json(promote.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body, role_forbidden());
    }
    for u in [&end_user, &agent] {
        let (_, shown) = call(&app, Method::GET, &user_path(u.id), &pw(&admin), Payload::None).await;
        assert_eq!(shown["user"]["role"], u.role.as_str(), "{} was promoted", u.email);
    }
    // Their next admin-only request is still refused.
    let (s, _) = call(&app, Method::GET, SETTINGS, &Who::Browser(&browser), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

// Issue 4: a role change takes effect on the next request — a demoted admin's next
// admin-only request is 403 (cookie and Basic), a promoted user's next one is 200.
#[tokio::test]
async fn role_change_applies_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let other = app.create_user("second@example.com", Role::Admin).await;
    let promoted = app.create_user("end@example.com", Role::EndUser).await;
    let other_browser = app.sign_in("second@example.com").await;
    let promoted_browser = app.sign_in("end@example.com").await;

    let (s, _) = call(&app, Method::GET, SETTINGS, &Who::Browser(&other_browser), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(&app, Method::GET, SETTINGS, &Who::Browser(&promoted_browser), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, body) = call(
        &app,
        Method::PUT,
        &user_path(other.id),
        &pw(&admin),
        Payload::Json(json!({ "user": { "role": "agent" } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["role"], "agent");
    let (s, body) = call(&app, Method::GET, SETTINGS, &Who::Browser(&other_browser), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body, role_forbidden());
    let (s, _) = call(&app, Method::GET, SETTINGS, &pw(&other), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A demoted admin keeps their session (a role change is not a sign-out).
    assert_eq!(app.me_session(&other_browser).await.status(), StatusCode::OK);

    let (s, _) = call(
        &app,
        Method::PUT,
        &user_path(promoted.id),
        &pw(&admin),
        Payload::Json(json!({ "user": { "role": "admin" } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = call(&app, Method::GET, SETTINGS, &Who::Browser(&promoted_browser), Payload::None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // …and may now act on other users.
    let (s, _) = call(&app, Method::GET, &user_path(admin.id), &Who::Browser(&promoted_browser), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
}

// §7, [E-14], [C-29]: suspending signs the user out everywhere (every cookie gets 401 A on
// its very next request), refuses password, API-token and OAuth callers (401 A / 401 B) and
// sign-in; unsuspending restores the tokens and the password, but not the sessions.
#[tokio::test]
async fn suspension_signs_out_everywhere_and_refuses_tokens_until_lifted() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::Agent).await;
    let bystander = app.create_user("bob@example.com", Role::Agent).await;
    let b1 = app.sign_in("ann@example.com").await;
    let b2 = app.sign_in("ann@example.com").await;
    let bob = app.sign_in("bob@example.com").await;
    let api = app.api_token(&user).await;
    let oauth = app.oauth_token(&user, &["read", "write"], None).await;
    let me = format!("{USERS}/me");
    for who in [Who::Browser(&b1), Who::Browser(&b2), tok(&user, &api), bearer(&oauth), pw(&user)] {
        let (s, _) = call(&app, Method::GET, &me, &who, Payload::None).await;
        assert_eq!(s, StatusCode::OK);
    }

    let (s, body) = call(
        &app,
        Method::PUT,
        &user_path(user.id),
        &pw(&admin),
        Payload::Json(json!({ "user": { "suspended": true } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_user_json(&app, &body["user"], user.id, &user.name, "ann@example.com", "agent", true);

    assert_401_a(app.me_session(&b1).await).await;
    assert_401_a(app.me_session(&b2).await).await;
    assert_401_a(send(&app, Method::GET, &me, &tok(&user, &api), Payload::None).await).await;
    assert_401_b(send(&app, Method::GET, &me, &bearer(&oauth), Payload::None).await).await;
    assert_401_a(send(&app, Method::GET, &me, &pw(&user), Payload::None).await).await;
    assert_eq!(app.sign_in_raw("ann@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    // Their sessions are gone, not just hidden; others' are untouched.
    let (s, list) = call(&app, Method::GET, &format!("{USERS}/{}/sessions", user.id), &pw(&admin), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["sessions"], json!([]));
    assert_eq!(app.me_session(&bob).await.status(), StatusCode::OK);
    let (s, _) = call(&app, Method::GET, &me, &pw(&bystander), Payload::None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, body) = call(
        &app,
        Method::PUT,
        &user_path(user.id),
        &pw(&admin),
        Payload::Json(json!({ "user": { "suspended": false } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["user"]["suspended"], false);
    for who in [tok(&user, &api), bearer(&oauth), pw(&user)] {
        let (s, body) = call(&app, Method::GET, &me, &who, Payload::None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["id"], user.id);
    }
    assert_401_a(app.me_session(&b1).await).await;
    assert_401_a(app.me_session(&b2).await).await;
    let again = app.sign_in("ann@example.com").await;
    assert_eq!(app.me_session(&again).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// PUT /api/v2/users/{id}/password
// ---------------------------------------------------------------------------------------

// [E-2] self change with the previous password → 200 {}; every OTHER session of the user
// is signed out, the caller's current one stays; the new password works and the old one
// doesn't.
#[tokio::test]
async fn own_password_change_keeps_the_current_session_only() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ann@example.com", Role::EndUser).await;
    app.create_user("bob@example.com", Role::EndUser).await;
    let current = app.sign_in("ann@example.com").await;
    let other = app.sign_in("ann@example.com").await;
    let third = app.sign_in("ann@example.com").await;
    let bobs = app.sign_in("bob@example.com").await;

    let (s, body) = call(
        &app,
        Method::PUT,
        &password_path(user.id),
        &Who::Browser(&current),
        Payload::Json(json!({ "password": "brand new password", "previous_password": PASSWORD })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body, json!({}));

    let (s, mine) = status_json(app.me_session(&current).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine["session"]["id"], current.session_id);
    assert_401_a(app.me_session(&other).await).await;
    assert_401_a(app.me_session(&third).await).await;
    assert_eq!(app.me_session(&bobs).await.status(), StatusCode::OK, "other users are untouched");

    assert_eq!(app.sign_in_raw("ann@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_401_a(send(&app, Method::GET, &format!("{USERS}/me"), &pw(&user), Payload::None).await).await;
    assert_eq!(app.sign_in_raw("ann@example.com", "brand new password").await.status(), StatusCode::CREATED);
    let (s, _) = call(
        &app,
        Method::GET,
        &format!("{USERS}/me"),
        &Who::Auth(basic("ann@example.com", "brand new password")),
        Payload::None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

// [E-2] a self change via `me` and a non-cookie carrier (no current session) signs out
// every session of the user.
#[tokio::test]
async fn own_password_change_without_a_cookie_signs_out_all_sessions() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ann@example.com", Role::Agent).await;
    let token = app.api_token(&user).await;
    let b1 = app.sign_in("ann@example.com").await;
    let b2 = app.sign_in("ann@example.com").await;
    let (s, body) = call(
        &app,
        Method::PUT,
        &format!("{USERS}/me/password.json"),
        &tok(&user, &token),
        Payload::Json(json!({ "password": "brand new password", "previous_password": PASSWORD })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body, json!({}));
    assert_401_a(app.me_session(&b1).await).await;
    assert_401_a(app.me_session(&b2).await).await;
    assert_eq!(app.sign_in_raw("ann@example.com", "brand new password").await.status(), StatusCode::CREATED);
}

// [E-2]: a missing or wrong previous_password on a self change → 422 naming
// previous_password (also for an admin changing their own); a too-short new password →
// 422 naming password; wrong types → 400. Nothing changes: the old password still works
// and no session is signed out.
#[tokio::test]
async fn own_password_change_needs_the_previous_password() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::EndUser).await;
    let current = app.sign_in("ann@example.com").await;
    let other = app.sign_in("ann@example.com").await;
    let path = password_path(user.id);
    let cases = [
        (json!({ "password": "brand new password" }), vec!["previous_password"]),
        (json!({ "password": "brand new password", "previous_password": "wrong password" }), vec!["previous_password"]),
        (json!({ "password": "brand new password", "previous_password": "" }), vec!["previous_password"]),
        (json!({ "password": "short", "previous_password": PASSWORD }), vec!["password"]),
        (json!({ "password": "short" }), vec!["password", "previous_password"]),
    ];
    for (payload, fields) in cases {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::PUT, &path, &Who::Browser(&current), Payload::Json(payload)).await;
        assert_record_invalid(s, &body, &fields, &ctx);
    }
    for payload in [json!({}), json!({ "password": 12_345_678, "previous_password": PASSWORD }), json!(["x"])] {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::PUT, &path, &Who::Browser(&current), Payload::Json(payload)).await;
        assert_invalid_json(s, &body, &ctx);
    }
    let (s, body) = call(&app, Method::PUT, &path, &Who::Browser(&current), Payload::Raw("password=x")).await;
    assert_invalid_json(s, &body, "form body");

    // An admin changing their own password needs it too.
    let (s, body) = call(
        &app,
        Method::PUT,
        &password_path(admin.id),
        &pw(&admin),
        Payload::Json(json!({ "password": "brand new password" })),
    )
    .await;
    assert_record_invalid(s, &body, &["previous_password"], "admin self change");

    assert_eq!(app.me_session(&current).await.status(), StatusCode::OK);
    assert_eq!(app.me_session(&other).await.status(), StatusCode::OK);
    assert_eq!(app.sign_in_raw("ann@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    assert_eq!(app.sign_in_raw("admin@example.com", PASSWORD).await.status(), StatusCode::CREATED);
}

// [E-2] an admin changing someone else's password needs no previous_password and signs
// out all of that user's sessions (the admin's own stay); unknown user → 404.
#[tokio::test]
async fn admin_resets_another_users_password_and_signs_them_out() {
    let app = TestApp::spawn().await;
    app.admin().await;
    let user = app.create_user("ann@example.com", Role::Agent).await;
    let admin_browser = app.sign_in("admin@example.com").await;
    let b1 = app.sign_in("ann@example.com").await;
    let b2 = app.sign_in("ann@example.com").await;
    let (s, body) = call(
        &app,
        Method::PUT,
        &password_path(user.id),
        &Who::Browser(&admin_browser),
        Payload::Json(json!({ "password": "reset by admin" })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body, json!({}));
    assert_401_a(app.me_session(&b1).await).await;
    assert_401_a(app.me_session(&b2).await).await;
    assert_eq!(app.me_session(&admin_browser).await.status(), StatusCode::OK);
    assert_eq!(app.sign_in_raw("ann@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in_raw("ann@example.com", "reset by admin").await.status(), StatusCode::CREATED);

    let (s, body) = call(
        &app,
        Method::PUT,
        &password_path(999_999),
        &Who::Browser(&admin_browser),
        Payload::Json(json!({ "password": "reset by admin" })),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found());
    let (s, body) = call(
        &app,
        Method::PUT,
        &password_path(user.id),
        &Who::Browser(&admin_browser),
        Payload::Json(json!({ "password": "short" })),
    )
    .await;
    assert_record_invalid(s, &body, &["password"], "admin reset with a short password");
}

// [C-26] [E-12] a non-admin changing another user's password → role-403 (even with the
// right previous password, or a bad body); that user's password and sessions are untouched.
#[tokio::test]
async fn non_admin_cannot_change_another_users_password() {
    let app = TestApp::spawn().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let victim = app.create_user("victim@example.com", Role::EndUser).await;
    let victims = app.sign_in("victim@example.com").await;
    for payload in [
        Payload::Json(json!({ "password": "hijacked password" })),
        Payload::Json(json!({ "password": "hijacked password", "previous_password": PASSWORD })),
        Payload::Raw("garbage"),
    ] {
        let (s, body) = call(&app, Method::PUT, &password_path(victim.id), &pw(&agent), payload).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body, role_forbidden());
    }
    assert_eq!(app.me_session(&victims).await.status(), StatusCode::OK);
    assert_eq!(app.sign_in_raw("victim@example.com", PASSWORD).await.status(), StatusCode::CREATED);
    assert_eq!(app.sign_in_raw("victim@example.com", "hijacked password").await.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------
// DELETE /api/v2/users/{id}
// ---------------------------------------------------------------------------------------

// [E-2] delete → 200 {"user":{…}} (the deleted user); their sessions and tokens go with
// them (cookie 401 A, API token 401 A, OAuth 401 B — even after the email is reused);
// deleting again → 404; non-admins → role-403.
#[tokio::test]
async fn admin_deletes_a_user_with_their_sessions_and_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::Agent).await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let browser = app.sign_in("ann@example.com").await;
    let api = app.api_token(&user).await;
    let oauth = app.oauth_token(&user, &["read", "write"], None).await;
    let path = user_path(user.id);

    let (s, body) = call(&app, Method::DELETE, &path, &pw(&agent), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body, role_forbidden());
    assert_eq!(app.me_session(&browser).await.status(), StatusCode::OK);

    // No Content-Type or Accept needed for a DELETE [C-7].
    let r = app.as_admin(Method::DELETE, &path, &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(r.headers(), "content-type"), "application/json; charset=utf-8");
    let body: Value = r.json().await.expect("json");
    assert_eq!(keys(&body), ["user"]);
    assert_user_json(&app, &body["user"], user.id, &user.name, "ann@example.com", "agent", false);

    assert_401_a(app.me_session(&browser).await).await;
    let me = format!("{USERS}/me");
    assert_401_a(send(&app, Method::GET, &me, &tok(&user, &api), Payload::None).await).await;
    assert_401_b(send(&app, Method::GET, &me, &bearer(&oauth), Payload::None).await).await;
    let (s, body) = call(&app, Method::GET, &path, &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()));
    let (s, body) = call(&app, Method::DELETE, &path, &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()));

    // The email is free again; the old tokens do not come back with it.
    let (s, body) = call(
        &app,
        Method::POST,
        USERS,
        &pw(&admin),
        Payload::Json(json!({ "user": { "name": "Ann again", "email": "ann@example.com", "role": "agent" } })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_ne!(body["user"]["id"], user.id);
    assert_401_a(send(&app, Method::GET, &me, &tok(&user, &api), Payload::None).await).await;
    assert_401_b(send(&app, Method::GET, &me, &bearer(&oauth), Payload::None).await).await;
    assert_401_a(app.me_session(&browser).await).await;
}

// ---------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------

// [E-1] any signed-in user creates API tokens for themself (body optional) → 201 with the
// token shown once; it works as `email/token:TOKEN`; the list shows the caller's tokens
// without secrets; delete → 204 and the token then gets 401 A [E-5].
#[tokio::test]
async fn api_tokens_are_created_listed_used_and_revoked() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::EndUser).await;
    app.api_token(&admin).await; // someone else's token: never in ann's list
    let browser = app.sign_in("ann@example.com").await;
    app.clock.advance(7);

    let r = send(&app, Method::POST, API_TOKENS, &Who::Browser(&browser), Payload::None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(r.headers(), "content-type"), "application/json; charset=utf-8");
    let first: Value = r.json().await.expect("json");
    assert_eq!(keys(&first), ["api_token"]);
    let t1 = &first["api_token"];
    assert_eq!(keys(t1), ["created_at", "description", "id", "token"]);
    assert_eq!(t1["description"], "");
    assert_eq!(t1["created_at"], "2023-11-14T22:13:27Z");
    let secret1 = t1["token"].as_str().expect("token").to_owned();
    assert!(secret1.len() >= 43, "≥ 256 bits: {secret1}");

    let (s, second) = call(
        &app,
        Method::POST,
        &format!("{API_TOKENS}.json"),
        &pw(&user),
        Payload::Json(json!({ "api_token": { "description": "CI robot" } })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let t2 = &second["api_token"];
    assert_eq!(t2["description"], "CI robot");
    let secret2 = t2["token"].as_str().expect("token").to_owned();
    assert_ne!(secret1, secret2);
    // An envelope without a description is fine too.
    let (s, third) = call(&app, Method::POST, API_TOKENS, &pw(&user), Payload::Json(json!({ "api_token": {} }))).await;
    assert_eq!(s, StatusCode::CREATED, "{third}");

    for secret in [&secret1, &secret2] {
        let (s, me) = call(&app, Method::GET, &format!("{USERS}/me"), &tok(&user, secret), Payload::None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(me["user"]["id"], user.id);
    }

    let (s, list) = call(&app, Method::GET, API_TOKENS, &tok(&user, &secret1), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    let listed = list["api_tokens"].as_array().expect("api_tokens list");
    let ids: Vec<&Value> = listed.iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&t1["id"], &t2["id"], &third["api_token"]["id"]]);
    for t in listed {
        assert_eq!(keys(t), ["created_at", "description", "id"], "no secret in the list: {t}");
    }
    assert_eq!(listed[1]["description"], "CI robot");
    assert!(!list.to_string().contains(&secret1) && !list.to_string().contains(&secret2));

    let id1 = t1["id"].as_i64().expect("id");
    let r = send(&app, Method::DELETE, &format!("{API_TOKENS}/{id1}"), &Who::Browser(&browser), Payload::None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.text().await.expect("body"), "");
    assert_401_a(send(&app, Method::GET, &format!("{USERS}/me"), &tok(&user, &secret1), Payload::None).await).await;
    let (s, _) = call(&app, Method::GET, &format!("{USERS}/me"), &tok(&user, &secret2), Payload::None).await;
    assert_eq!(s, StatusCode::OK, "the other token still works");
    let (s, body) = call(&app, Method::DELETE, &format!("{API_TOKENS}/{id1}"), &pw(&user), Payload::None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()));
    let (_, list) = call(&app, Method::GET, API_TOKENS, &pw(&user), Payload::None).await;
    assert_eq!(list["api_tokens"].as_array().map(Vec::len), Some(2));
}

// [E-1] a non-admin deleting another user's token → 404 (and it keeps working); an admin
// may revoke anyone's. Bad bodies: not JSON / wrong types → 400, over-long description → 422.
#[tokio::test]
async fn api_token_ownership_and_bad_bodies() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ann = app.create_user("ann@example.com", Role::Agent).await;
    let bob = app.create_user("bob@example.com", Role::EndUser).await;
    let (s, created) = call(&app, Method::POST, API_TOKENS, &pw(&ann), Payload::None).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = created["api_token"]["id"].as_i64().expect("id");
    let secret = created["api_token"]["token"].as_str().expect("token").to_owned();
    let path = format!("{API_TOKENS}/{id}");

    let (s, body) = call(&app, Method::DELETE, &path, &pw(&bob), Payload::None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()));
    let (s, _) = call(&app, Method::GET, &format!("{USERS}/me"), &tok(&ann, &secret), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    for bad in [format!("{API_TOKENS}/abc"), format!("{API_TOKENS}/0"), format!("{API_TOKENS}/999999")] {
        let (s, body) = call(&app, Method::DELETE, &bad, &pw(&ann), Payload::None).await;
        assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()), "{bad}");
    }
    let r = app.as_admin(Method::DELETE, &path, &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_401_a(send(&app, Method::GET, &format!("{USERS}/me"), &tok(&ann, &secret), Payload::None).await).await;

    for raw in ["nope", "{", "[]", "\"x\""] {
        let (s, body) = call(&app, Method::POST, API_TOKENS, &pw(&bob), Payload::Raw(raw)).await;
        assert_invalid_json(s, &body, raw);
    }
    for payload in [
        json!({ "api_token": "x" }),
        json!({ "api_token": { "description": 5 } }),
        json!({ "api_token": ["CI robot"] }),
        json!([{ "api_token": { "description": "CI robot" } }]),
    ] {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::POST, API_TOKENS, &pw(&bob), Payload::Json(payload)).await;
        assert_invalid_json(s, &body, &ctx);
    }
    let (s, body) = call(
        &app,
        Method::POST,
        API_TOKENS,
        &pw(&bob),
        Payload::Json(json!({ "api_token": { "description": "d".repeat(256) } })),
    )
    .await;
    assert_record_invalid(s, &body, &["description"], "long description");
    let (s, body) = call(
        &app,
        Method::POST,
        API_TOKENS,
        &pw(&bob),
        Payload::Json(json!({ "api_token": { "description": "line\nbreak" } })),
    )
    .await;
    assert_record_invalid(s, &body, &["description"], "control character in description");
    let (_, list) = call(&app, Method::GET, API_TOKENS, &pw(&bob), Payload::None).await;
    assert_eq!(list, json!({ "api_tokens": [] }), "no token was created by a bad request");
    // Without credentials: 401 A [C-9].
    assert_401_a(app.http.post(app.url(API_TOKENS)).send().await.expect("request")).await;
}

// ---------------------------------------------------------------------------------------
// OAuth tokens
// ---------------------------------------------------------------------------------------

// §7 [E-13] admin creates an OAuth token for a user → 201 with full_token shown once; it
// works as Bearer with its scopes enforced [C-11]; delete → 204, then the bearer gets 401 B.
#[tokio::test]
async fn admin_issues_and_revokes_oauth_tokens_with_scopes_enforced() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::EndUser).await;
    app.clock.advance(3);
    let r = send(
        &app,
        Method::POST,
        OAUTH_TOKENS,
        &pw(&admin),
        Payload::Json(json!({ "token": { "user_id": user.id, "scopes": ["read"] } })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(r.headers(), "content-type"), "application/json; charset=utf-8");
    let body: Value = r.json().await.expect("json");
    assert_eq!(keys(&body), ["token"]);
    let t = &body["token"];
    for k in ["id", "user_id", "full_token", "scopes", "created_at"] {
        assert!(t.get(k).is_some(), "{k} missing from {t}");
    }
    assert_eq!(t["user_id"], user.id);
    assert_eq!(t["scopes"], json!(["read"]));
    assert_eq!(t["created_at"], "2023-11-14T22:13:23Z");
    let read_only = t["full_token"].as_str().expect("full_token").to_owned();
    let read_id = t["id"].as_i64().expect("id");

    let (s, me) = call(&app, Method::GET, &format!("{USERS}/me"), &bearer(&read_only), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["user"]["id"], user.id);
    let wipe = format!("{USERS}/me/sessions");
    let (s, body) = call(&app, Method::DELETE, &wipe, &bearer(&read_only), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({ "error": "Forbidden", "description": "You are missing the following required scopes: write" })
    );

    let (s, body) = call(
        &app,
        Method::POST,
        &format!("{OAUTH_TOKENS}.json"),
        &pw(&admin),
        Payload::Json(json!({ "token": { "user_id": user.id, "scopes": ["write", "read", "write"] } })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let mut scopes: Vec<String> = serde_json::from_value(body["token"]["scopes"].clone()).expect("scopes are strings");
    scopes.sort();
    assert_eq!(scopes, ["read", "write"], "duplicates collapse");
    let full = body["token"]["full_token"].as_str().expect("full_token").to_owned();
    assert_ne!(full, read_only);
    let r = send(&app, Method::DELETE, &wipe, &bearer(&full), Payload::None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let (s, body) = call(
        &app,
        Method::POST,
        OAUTH_TOKENS,
        &pw(&admin),
        Payload::Json(json!({ "token": { "user_id": user.id, "scopes": ["write"] } })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let write_only = body["token"]["full_token"].as_str().expect("full_token").to_owned();
    let (s, body) = call(&app, Method::GET, &format!("{USERS}/me"), &bearer(&write_only), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["description"], "You are missing the following required scopes: read");

    let r = app.as_admin(Method::DELETE, &format!("{OAUTH_TOKENS}/{read_id}"), &admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.text().await.expect("body"), "");
    assert_401_b(send(&app, Method::GET, &format!("{USERS}/me"), &bearer(&read_only), Payload::None).await).await;
    let (s, _) = call(&app, Method::DELETE, &wipe, &bearer(&full), Payload::None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "other tokens are unaffected");
    let (s, body) = call(&app, Method::DELETE, &format!("{OAUTH_TOKENS}/{read_id}"), &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()));
    let (s, body) = call(&app, Method::DELETE, &format!("{OAUTH_TOKENS}/xyz"), &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::NOT_FOUND, not_found()));
}

// [E-13] optional expires_at (RFC 3339, any offset) is honoured with the injected clock:
// the token works until then and gets 401 B from that instant on.
#[tokio::test]
async fn oauth_token_expiry_is_honoured() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.create_user("ann@example.com", Role::Agent).await;
    // T0 + 1 h, written with a +02:00 offset.
    let (s, body) = call(
        &app,
        Method::POST,
        OAUTH_TOKENS,
        &pw(&admin),
        Payload::Json(
            json!({ "token": { "user_id": user.id, "scopes": ["read"], "expires_at": "2023-11-15T01:13:20+02:00" } }),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["token"]["expires_at"], "2023-11-14T23:13:20Z", "[E-5] wire form");
    let token = body["token"]["full_token"].as_str().expect("full_token").to_owned();
    let (s, body) = call(
        &app,
        Method::POST,
        OAUTH_TOKENS,
        &pw(&admin),
        Payload::Json(json!({ "token": { "user_id": user.id, "scopes": ["read"] } })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let forever = body["token"]["full_token"].as_str().expect("full_token").to_owned();

    let me = format!("{USERS}/me");
    assert_eq!(send(&app, Method::GET, &me, &bearer(&token), Payload::None).await.status(), StatusCode::OK);
    app.clock.advance(3599);
    assert_eq!(send(&app, Method::GET, &me, &bearer(&token), Payload::None).await.status(), StatusCode::OK);
    app.clock.advance(1);
    assert_401_b(send(&app, Method::GET, &me, &bearer(&token), Payload::None).await).await;
    app.clock.advance(86_400);
    assert_401_b(send(&app, Method::GET, &me, &bearer(&token), Payload::None).await).await;
    assert_eq!(send(&app, Method::GET, &me, &bearer(&forever), Payload::None).await.status(), StatusCode::OK);
}

// §7 [E-13] [E-3]: bad scopes, unknown users and bad expiries → 422 naming the field;
// wrong types → 400; non-admins → role-403 for create and delete.
#[tokio::test]
async fn oauth_token_creation_is_validated_and_admin_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let tok_of = |scopes: Value| json!({ "token": { "user_id": agent.id, "scopes": scopes } });
    let cases = [
        (tok_of(json!([])), "scopes"),
        (tok_of(json!(["admin"])), "scopes"),
        (tok_of(json!(["read", "delete"])), "scopes"),
        (tok_of(json!(["READ"])), "scopes"),
        (json!({ "token": { "user_id": 999_999, "scopes": ["read"] } }), "user_id"),
        (json!({ "token": { "user_id": agent.id, "scopes": ["read"], "expires_at": "tomorrow" } }), "expires_at"),
        (json!({ "token": { "user_id": agent.id, "scopes": ["read"], "expires_at": "2023-11-15" } }), "expires_at"),
    ];
    for (payload, field) in cases {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::POST, OAUTH_TOKENS, &pw(&admin), Payload::Json(payload)).await;
        assert_record_invalid(s, &body, &[field], &ctx);
    }
    for payload in [
        tok_of(json!("read")),
        tok_of(json!([1])),
        json!({ "token": { "user_id": "abc", "scopes": ["read"] } }),
        json!({ "token": { "scopes": ["read"] } }),
        json!({ "token": { "user_id": agent.id } }),
        json!({ "token": { "user_id": agent.id, "scopes": ["read"], "expires_at": 5 } }),
        json!({ "token": "x" }),
        json!({ "token": [1, ["read"]] }),
        json!({}),
    ] {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::POST, OAUTH_TOKENS, &pw(&admin), Payload::Json(payload)).await;
        assert_invalid_json(s, &body, &ctx);
    }
    let (s, body) = call(&app, Method::POST, OAUTH_TOKENS, &pw(&admin), Payload::Raw("scopes=read")).await;
    assert_invalid_json(s, &body, "form body");

    // Non-admins: 403 for creating (also for themselves, also with a bad body) and deleting.
    let (s, created) =
        call(&app, Method::POST, OAUTH_TOKENS, &pw(&admin), Payload::Json(tok_of(json!(["read"])))).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = created["token"]["id"].as_i64().expect("id");
    let token = created["token"]["full_token"].as_str().expect("full_token").to_owned();
    for payload in [Payload::Json(tok_of(json!(["read", "write"]))), Payload::Raw("nope")] {
        let (s, body) = call(&app, Method::POST, OAUTH_TOKENS, &pw(&agent), payload).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body, role_forbidden());
    }
    let (s, body) = call(&app, Method::DELETE, &format!("{OAUTH_TOKENS}/{id}"), &pw(&agent), Payload::None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body, role_forbidden());
    let (s, _) = call(&app, Method::GET, &format!("{USERS}/me"), &bearer(&token), Payload::None).await;
    assert_eq!(s, StatusCode::OK, "the agent could not revoke it");
}

// ---------------------------------------------------------------------------------------
// Security settings
// ---------------------------------------------------------------------------------------

fn settings(agent: i64, end_user: i64, max: i64, enabled: bool) -> Value {
    json!({ "security_settings": {
        "agent_session_timeout": agent,
        "end_user_session_timeout": end_user,
        "maximum_session_duration": max,
        "maximum_session_duration_enabled": enabled,
    }})
}

// §6 defaults (60, 480, 720, false); PUT is a partial update answering the whole set; the
// bounds 1 and 20160 are accepted; `.json` works [C-4].
#[tokio::test]
async fn security_settings_defaults_and_partial_updates() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app.as_admin(Method::GET, SETTINGS, &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(r.headers(), "content-type"), "application/json; charset=utf-8");
    assert_eq!(r.json::<Value>().await.expect("json"), settings(60, 480, 720, false));

    let who = pw(&admin);
    let put = |v: Value| call(&app, Method::PUT, SETTINGS, &who, Payload::Json(json!({ "security_settings": v })));
    let (s, body) = put(json!({ "agent_session_timeout": 30 })).await;
    assert_eq!((s, body), (StatusCode::OK, settings(30, 480, 720, false)));
    let (s, body) = put(json!({ "end_user_session_timeout": 20_160, "maximum_session_duration_enabled": true })).await;
    assert_eq!((s, body), (StatusCode::OK, settings(30, 20_160, 720, true)));
    let (s, body) = put(json!({ "maximum_session_duration": 1 })).await;
    assert_eq!((s, body), (StatusCode::OK, settings(30, 20_160, 1, true)));
    let (s, body) = put(json!({})).await;
    assert_eq!((s, body), (StatusCode::OK, settings(30, 20_160, 1, true)));
    let (s, body) = put(json!({ "agent_session_timeout": 1, "unknown_setting": 3 })).await;
    assert_eq!((s, body), (StatusCode::OK, settings(1, 20_160, 1, true)));

    let (s, body) = call(&app, Method::GET, &format!("{SETTINGS}.json"), &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::OK, settings(1, 20_160, 1, true)));
}

// [E-23] each timeout outside 1 … 20160 → 422 RecordInvalid naming the field, and nothing
// is applied (not even the valid fields of the same request); wrong types → 400 [E-4].
#[tokio::test]
async fn security_settings_are_validated() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for field in ["agent_session_timeout", "end_user_session_timeout", "maximum_session_duration"] {
        for bad in [json!(0), json!(-1), json!(20_161), json!(i64::MAX), json!(i64::MIN)] {
            let payload = json!({ "security_settings": { field: bad, "maximum_session_duration_enabled": true } });
            let ctx = payload.to_string();
            let (s, body) = call(&app, Method::PUT, SETTINGS, &pw(&admin), Payload::Json(payload)).await;
            assert_record_invalid(s, &body, &[field], &ctx);
        }
        for bad in [json!("5"), json!(1.5), json!(true), json!([5]), json!(1e30)] {
            let payload = json!({ "security_settings": { field: bad } });
            let ctx = payload.to_string();
            let (s, body) = call(&app, Method::PUT, SETTINGS, &pw(&admin), Payload::Json(payload)).await;
            assert_invalid_json(s, &body, &ctx);
        }
    }
    for payload in [
        json!({ "security_settings": { "maximum_session_duration_enabled": "true" } }),
        json!({ "security_settings": { "maximum_session_duration_enabled": 1 } }),
        json!({ "security_settings": "x" }),
        json!({ "security_settings": [30, 480, 720, false] }),
        json!([{ "security_settings": { "agent_session_timeout": 5 } }]),
        json!({ "agent_session_timeout": 5 }),
    ] {
        let ctx = payload.to_string();
        let (s, body) = call(&app, Method::PUT, SETTINGS, &pw(&admin), Payload::Json(payload)).await;
        assert_invalid_json(s, &body, &ctx);
    }
    let (s, body) = call(&app, Method::PUT, SETTINGS, &pw(&admin), Payload::Raw("agent_session_timeout=5")).await;
    assert_invalid_json(s, &body, "form body");
    let (s, body) = call(&app, Method::GET, SETTINGS, &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::OK, settings(60, 480, 720, false)), "no bad request changed anything");
}

// [E-3] security settings are admin-only: agents and end users get the role-403 body for
// GET and PUT (with a good or a bad body), and nothing changes.
#[tokio::test]
async fn security_settings_are_admin_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    app.create_user("end@example.com", Role::EndUser).await;
    let end_browser = app.sign_in("end@example.com").await;
    let oauth = app.oauth_token(&agent, &["read", "write"], None).await;
    for who in [pw(&agent), Who::Browser(&end_browser), bearer(&oauth)] {
        let (s, body) = call(&app, Method::GET, SETTINGS, &who, Payload::None).await;
        assert_eq!((s, body), (StatusCode::FORBIDDEN, role_forbidden()));
        for payload in
            [Payload::Json(json!({ "security_settings": { "agent_session_timeout": 1 } })), Payload::Raw("x")]
        {
            let (s, body) = call(&app, Method::PUT, SETTINGS, &who, payload).await;
            assert_eq!((s, body), (StatusCode::FORBIDDEN, role_forbidden()));
        }
    }
    let (s, body) = call(&app, Method::GET, SETTINGS, &pw(&admin), Payload::None).await;
    assert_eq!((s, body), (StatusCode::OK, settings(60, 480, 720, false)));
}

// [C-41] a changed agent idle timeout ends a live agent session at its next request: the
// same idle time that was fine under the default (60 min) ends it under 5 min; an end
// user's session (480 min) is untouched.
#[tokio::test]
async fn lowering_the_agent_timeout_expires_a_live_session() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user("agent@example.com", Role::Agent).await;
    app.create_user("end@example.com", Role::EndUser).await;
    let agent = app.sign_in("agent@example.com").await;
    let end_user = app.sign_in("end@example.com").await;
    let idle = 6 * 60 + 60; // 6 minutes plus the 60 s activity grace

    app.clock.advance(idle);
    assert_eq!(app.me_session(&agent).await.status(), StatusCode::OK, "alive under the default timeout");

    let (s, body) = call(
        &app,
        Method::PUT,
        SETTINGS,
        &pw(&admin),
        Payload::Json(json!({ "security_settings": { "agent_session_timeout": 5 } })),
    )
    .await;
    assert_eq!((s, body), (StatusCode::OK, settings(5, 480, 720, false)));
    app.clock.advance(idle);
    assert_401_a(app.me_session(&agent).await).await;
    assert_eq!(app.me_session(&end_user).await.status(), StatusCode::OK);
}

// [C-41] lowering the end-user timeout or enabling the maximum duration likewise applies
// to sessions that already exist, at their next request.
#[tokio::test]
async fn end_user_timeout_and_maximum_duration_apply_to_live_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user("agent@example.com", Role::Agent).await;
    app.create_user("end@example.com", Role::EndUser).await;
    let agent = app.sign_in("agent@example.com").await;
    let end_user = app.sign_in("end@example.com").await;

    // 32 minutes of agent activity every 4 minutes, then 20 idle: both alive under the defaults.
    for _ in 0..8 {
        app.clock.advance(4 * 60);
        assert_eq!(app.me_session(&agent).await.status(), StatusCode::OK);
    }
    app.clock.advance(20 * 60);
    assert_eq!(app.me_session(&end_user).await.status(), StatusCode::OK);

    let (s, _) = call(
        &app,
        Method::PUT,
        SETTINGS,
        &pw(&admin),
        Payload::Json(json!({ "security_settings": {
            "end_user_session_timeout": 10, "maximum_session_duration": 30, "maximum_session_duration_enabled": true
        } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The agent is active (idle 20 min < 60) but over the 30-minute maximum duration.
    assert_401_a(app.me_session(&agent).await).await;
    app.clock.advance(11 * 60 + 60);
    assert_401_a(app.me_session(&end_user).await).await;
    // A fresh agent session is fine under the new maximum.
    let fresh = app.sign_in("agent@example.com").await;
    assert_eq!(app.me_session(&fresh).await.status(), StatusCode::OK);
}
