//! Pagination of the session lists (SPEC §5, [E-4], [E-8], [E-9], [E-10]): cursor (keyset)
//! pagination with `page[size]`, offset pagination with `page`/`per_page`, their envelopes,
//! links, sorts and errors, and keyset walks under concurrent creates and deletes.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use sessiond::domain::secret::{new_secret, random_bytes};
use sessiond::domain::{Role, Session, User};
use sessiond::store::NewSession;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

const SORTS: [&str; 6] = ["id", "-id", "authenticated_at", "-authenticated_at", "last_seen_at", "-last_seen_at"];

/// A credential as one request header: (name, value).
type Cred = (&'static str, String);

// ---------------------------------------------------------------------------------------------
// helpers

/// A server whose rate limit cannot interfere with tests that make hundreds of requests.
async fn spawn_unthrottled() -> TestApp {
    TestApp::spawn_with(|c| c.rate_limit = 1_000_000).await
}

/// API-token credentials for `user`: cheap to check and they create no session of their own.
async fn token_cred(app: &TestApp, user: &User) -> Cred {
    let token = app.api_token(user).await;
    ("authorization", basic(&format!("{}/token", user.email), &token))
}

async fn admin_cred(app: &TestApp) -> (User, Cred) {
    let admin = app.admin().await;
    let cred = token_cred(app, &admin).await;
    (admin, cred)
}

/// GET a path (relative to the server) or an absolute URL (a link from a response).
async fn get(app: &TestApp, cred: &Cred, target: &str) -> (StatusCode, Value) {
    let url = if target.starts_with("http://") || target.starts_with("https://") {
        target.to_owned()
    } else {
        app.url(target)
    };
    let r = app.http.get(url).header(cred.0, &cred.1).send().await.expect("request");
    status_json(r).await
}

/// GET that must answer 200.
async fn ok(app: &TestApp, cred: &Cred, target: &str) -> Value {
    let (status, body) = get(app, cred, target).await;
    assert_eq!(status, StatusCode::OK, "GET {target}: {body}");
    body
}

/// Creates a session straight in the store, authenticated at `authenticated_at` and last
/// seen at `last_seen_at` (≥ `authenticated_at`).
async fn seed_at(app: &TestApp, user_id: i64, authenticated_at: i64, last_seen_at: i64) -> Session {
    seed_in(&app.state, user_id, authenticated_at, last_seen_at).await
}

async fn seed_in(state: &sessiond::AppState, user_id: i64, authenticated_at: i64, last_seen_at: i64) -> Session {
    let secret = new_secret();
    let new = NewSession {
        user_id,
        token: secret.digest,
        csrf_secret: random_bytes::<32>(),
        ip: None,
        user_agent: None,
        created_via: "test",
        checked_password_hash: None,
    };
    let s = state.store.create_session(new, authenticated_at).await.expect("create session");
    if last_seen_at != authenticated_at {
        state.store.touch_session(s.id, last_seen_at).await.expect("touch session");
    }
    Session { last_seen_at, ..s }
}

/// `n` sessions of `user_id`, authenticated at distinct, increasing instants.
async fn seed_many(app: &TestApp, user_id: i64, n: i64) -> Vec<Session> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(seed_at(app, user_id, T0 - 1800 + i, T0 - 1800 + i).await);
    }
    out
}

/// `n` sessions over `users` whose three orders (id, authenticated_at, last_seen_at) all
/// differ and that tie on both timestamps, so the id tie-break matters.
async fn seed_tie_rich(app: &TestApp, users: &[i64], n: i64) -> Vec<Session> {
    let mut out = Vec::new();
    for i in 0..n {
        let auth = T0 - 1000 + ((i * 7) % 5) * 60;
        let seen = auth + ((i * 3) % 4) * 45;
        let user = users[(i as usize) % users.len()];
        out.push(seed_at(app, user, auth, seen).await);
    }
    out
}

fn sort_value(sort: &str, s: &Session) -> i64 {
    match sort.trim_start_matches('-') {
        "id" => s.id,
        "authenticated_at" => s.authenticated_at,
        "last_seen_at" => s.last_seen_at,
        other => panic!("unknown sort {other}"),
    }
}

/// Where `a` stands relative to `b` in `sort` (key, then id; both reversed for `-`).
fn cmp_in(sort: &str, a: &Session, b: &Session) -> Ordering {
    let o = (sort_value(sort, a), a.id).cmp(&(sort_value(sort, b), b.id));
    if sort.starts_with('-') { o.reverse() } else { o }
}

fn ordered<'a>(sort: &str, sessions: impl IntoIterator<Item = &'a Session>) -> Vec<i64> {
    let mut v: Vec<&Session> = sessions.into_iter().collect();
    v.sort_by(|a, b| cmp_in(sort, a, b));
    v.iter().map(|s| s.id).collect()
}

fn ids(body: &Value) -> Vec<i64> {
    body["sessions"].as_array().expect("sessions is an array").iter().map(|s| s["id"].as_i64().expect("id")).collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A string or null, nothing else.
fn opt_str(v: &Value, what: &str) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => panic!("{what} must be a string or null, got {other}"),
    }
}

/// One cursor page, decoded.
#[derive(Debug, Clone)]
struct Page {
    ids: Vec<i64>,
    has_more: bool,
    after: Option<String>,
    before: Option<String>,
    next: Option<String>,
    prev: Option<String>,
}

fn parse_page(body: &Value) -> Page {
    assert_eq!(keys(body), set(&["sessions", "meta", "links"]), "cursor envelope: {body}");
    assert_eq!(keys(&body["meta"]), set(&["has_more", "after_cursor", "before_cursor"]), "meta: {body}");
    assert_eq!(keys(&body["links"]), set(&["next", "prev"]), "links: {body}");
    Page {
        ids: ids(body),
        has_more: body["meta"]["has_more"].as_bool().expect("has_more is a bool"),
        after: opt_str(&body["meta"]["after_cursor"], "after_cursor"),
        before: opt_str(&body["meta"]["before_cursor"], "before_cursor"),
        next: opt_str(&body["links"]["next"], "links.next"),
        prev: opt_str(&body["links"]["prev"], "links.prev"),
    }
}

async fn page_at(app: &TestApp, cred: &Cred, target: &str) -> Page {
    parse_page(&ok(app, cred, target).await)
}

/// Follows `links.next` from `first` until it is null.
async fn walk_next(app: &TestApp, cred: &Cred, first: &str) -> Vec<Page> {
    let mut pages = vec![page_at(app, cred, first).await];
    while let Some(next) = pages.last().and_then(|p| p.next.clone()) {
        assert!(pages.len() < 1000, "walk does not end");
        pages.push(page_at(app, cred, &next).await);
    }
    pages
}

/// Follows `links.prev` from `start`'s link until it is null; pages in the order visited.
async fn walk_prev(app: &TestApp, cred: &Cred, start: &Page) -> Vec<Page> {
    let mut pages: Vec<Page> = Vec::new();
    let mut link = start.prev.clone();
    while let Some(prev) = link {
        assert!(pages.len() < 1000, "walk does not end");
        let p = page_at(app, cred, &prev).await;
        link = p.prev.clone();
        pages.push(p);
    }
    pages
}

fn query_map(url: &Url) -> HashMap<String, String> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Asserts `link` is an absolute URL on this server with exactly this path; returns its query.
fn assert_link(app: &TestApp, link: &str, path: &str) -> HashMap<String, String> {
    let url = Url::parse(link).unwrap_or_else(|e| panic!("{link:?} is not an absolute URL: {e}"));
    assert_eq!(format!("{}://{}", url.scheme(), url.authority()), app.base, "link {link}");
    assert_eq!(url.path(), path, "link {link}");
    query_map(&url)
}

fn invalid_param(title: &str) -> Value {
    json!({ "errors": [{ "code": "InvalidPaginationParameter", "title": title }] })
}

fn invalid_sort() -> Value {
    json!({ "error": "InvalidPaginationParameter", "description": "sort is not valid" })
}

fn invalid_depth() -> Value {
    json!({ "errors": [{
        "code": "InvalidPaginationDepth",
        "title": "Pagination requests using Offset Pagination are limited to page 100 or up to 10000 records (page * per_page)"
    }] })
}

async fn assert_400(app: &TestApp, cred: &Cred, target: &str, expected: &Value) {
    let (status, body) = get(app, cred, target).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "GET {target}: {body}");
    assert_eq!(&body, expected, "GET {target}");
}

// ---------------------------------------------------------------------------------------------
// request parsing

// [C-30] [C-5]
#[tokio::test]
async fn percent_encoded_brackets_unknown_and_repeated_params() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    let all: Vec<i64> = seed_many(&app, user.id, 7).await.iter().map(|s| s.id).collect();

    let raw = ok(&app, &cred, "/api/v2/sessions?page[size]=3").await;
    assert_eq!(ids(&raw), all[..3].to_vec());
    assert!(raw.get("meta").is_some(), "page[size] selects cursor pagination: {raw}");
    for q in [
        "page%5Bsize%5D=3",
        "page%5bsize%5d=3",
        "page%5Bsize]=3",
        "page[size%5D=3",
        "page[size]=3&foo=bar&page[sizes]=9&page=7&utf8=%E2%9C%93",
        "zzz&page[size]=3&=&&",
        // repeated: the last value wins
        "page[size]=1&page[size]=3",
        "page[size]=50&page%5Bsize%5D=3",
    ] {
        let body = ok(&app, &cred, &format!("/api/v2/sessions?{q}")).await;
        assert_eq!(body, raw, "?{q} must answer like ?page[size]=3");
    }

    // The cursor parameters too: raw and encoded `page[after]` reach the same page.
    let after = raw["meta"]["after_cursor"].as_str().expect("after_cursor").to_owned();
    let second_raw = ok(&app, &cred, &format!("/api/v2/sessions?page[size]=3&page[after]={after}")).await;
    assert_eq!(ids(&second_raw), all[3..6].to_vec());
    let second_enc = ok(&app, &cred, &format!("/api/v2/sessions?page%5Bsize%5D=3&page%5Bafter%5D={after}")).await;
    assert_eq!(second_enc, second_raw);
    let before = second_raw["meta"]["before_cursor"].as_str().expect("before_cursor").to_owned();
    let back_enc = ok(&app, &cred, &format!("/api/v2/sessions?page%5Bsize%5D=3&page%5Bbefore%5D={before}")).await;
    assert_eq!(ids(&back_enc), all[..3].to_vec());
    // Repeated cursors: the last one wins.
    let repeated = format!("/api/v2/sessions?page[size]=3&page[after]=garbage&page[after]={after}");
    assert_eq!(ok(&app, &cred, &repeated).await, second_raw);

    // Offset mode: unknown parameters are ignored, repeated ones take the last value.
    let plain = ok(&app, &cred, "/api/v2/sessions").await;
    assert_eq!(ids(&plain), all);
    assert_eq!(ok(&app, &cred, "/api/v2/sessions?foo=1&bar&page%5Bsizes%5D=2").await, plain);
    let per2 = ok(&app, &cred, "/api/v2/sessions?per_page=5&per_page=2").await;
    assert_eq!(ids(&per2), all[..2].to_vec());
    assert_eq!(per2["count"], json!(7));
}

// [C-31] [E-4]
#[tokio::test]
async fn page_size_is_capped_at_100() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    let all: Vec<i64> = seed_many(&app, user.id, 150).await.iter().map(|s| s.id).collect();

    for size in ["100", "101", "1000", &i64::MAX.to_string()] {
        for path in ["/api/v2/sessions", &format!("/api/v2/users/{}/sessions.json", user.id)] {
            let p = page_at(&app, &cred, &format!("{path}?page[size]={size}")).await;
            assert_eq!(p.ids, all[..100].to_vec(), "page[size]={size} on {path}");
            assert!(p.has_more);
            let next = p.next.expect("next link");
            let q = assert_link(&app, &next, path);
            assert!(q.contains_key("page[size]"), "{next}");
            // The link keeps the (capped) size: the rest arrives in one more page.
            let last = page_at(&app, &cred, &next).await;
            assert_eq!(last.ids, all[100..].to_vec());
            assert!(!last.has_more);
            assert_eq!(last.next, None);
        }
    }
    for size in [1usize, 2, 99] {
        let p = page_at(&app, &cred, &format!("/api/v2/sessions?page[size]={size}")).await;
        assert_eq!(p.ids, all[..size].to_vec());
    }
}

// [C-31] [E-4]
#[tokio::test]
async fn invalid_page_sizes_are_400() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_many(&app, user.id, 3).await;
    let expected = invalid_param("page[size] is not valid");
    for bad in [
        "page[size]=0",
        "page[size]=-1",
        "page[size]=1.5",
        "page[size]=",
        "page[size]",
        "page[size]=abc",
        "page[size]=1e9",
        "page[size]=9223372036854775808",
        "page[size]=99999999999999999999",
        "page[size]=-9223372036854775809",
        "page[size]=0x10",
        "page[size]=5abc",
        "page%5Bsize%5D=0",
        "page%5Bsize%5D=abc",
        "page%5Bsize%5D=",
        "page[size]=3&page[size]=0",
    ] {
        for path in ["/api/v2/sessions", "/api/v2/sessions.json", &format!("/api/v2/users/{}/sessions", user.id)] {
            assert_400(&app, &cred, &format!("{path}?{bad}"), &expected).await;
        }
    }
    // Non-vacuity: the same requests with a good size succeed.
    ok(&app, &cred, "/api/v2/sessions?page[size]=3").await;
}

// [C-32] [E-4]
#[tokio::test]
async fn after_and_before_together_are_400() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_many(&app, user.id, 6).await;
    let first = page_at(&app, &cred, "/api/v2/sessions?page[size]=2").await;
    let second = page_at(&app, &cred, first.next.as_deref().expect("next")).await;
    let (a, b) = (second.after.expect("after"), second.before.expect("before"));
    // Each cursor alone is fine…
    ok(&app, &cred, &format!("/api/v2/sessions?page[size]=2&page[after]={a}")).await;
    ok(&app, &cred, &format!("/api/v2/sessions?page[size]=2&page[before]={b}")).await;
    // …both together are not.
    let expected = invalid_param("page[before] and page[after] cannot be used together");
    for q in [
        format!("page[size]=2&page[after]={a}&page[before]={b}"),
        format!("page[before]={b}&page[after]={a}"),
        format!("page%5Bsize%5D=2&page%5Bafter%5D={a}&page%5Bbefore%5D={b}"),
        format!("page[size]=2&sort=id&page[after]={a}&page[before]={a}"),
    ] {
        assert_400(&app, &cred, &format!("/api/v2/sessions?{q}"), &expected).await;
        assert_400(&app, &cred, &format!("/api/v2/users/{}/sessions.json?{q}", user.id), &expected).await;
    }
}

// ---------------------------------------------------------------------------------------------
// envelopes and links

// [C-33] [C-1]
#[tokio::test]
async fn cursor_envelope_has_exactly_the_documented_keys() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_many(&app, user.id, 5).await;
    for q in ["page[size]=2", "page[size]=2&page=2&per_page=1", "page[size]=100", "page[size]=2&sort=-last_seen_at"] {
        let body = ok(&app, &cred, &format!("/api/v2/sessions?{q}")).await;
        assert_eq!(keys(&body), set(&["sessions", "meta", "links"]), "?{q}: {body}");
        assert!(body.get("next_page").is_none() && body.get("previous_page").is_none() && body.get("count").is_none());
        assert_eq!(keys(&body["meta"]), set(&["has_more", "after_cursor", "before_cursor"]));
        assert!(body["meta"]["has_more"].is_boolean());
        assert!(body["meta"]["after_cursor"].is_string() && body["meta"]["before_cursor"].is_string());
        assert_eq!(keys(&body["links"]), set(&["next", "prev"]));
        let sessions = body["sessions"].as_array().expect("sessions");
        assert!(!sessions.is_empty());
        for s in sessions {
            assert_eq!(keys(s), set(&["authenticated_at", "id", "last_seen_at", "url", "user_id"]), "{s}");
        }
    }
    // The same list without page[size] is the offset envelope.
    let offset = ok(&app, &cred, "/api/v2/sessions").await;
    assert_eq!(keys(&offset), set(&["sessions", "next_page", "previous_page", "count"]));
}

// [C-34] [E-8] [E-9]
#[tokio::test]
async fn links_are_absolute_keep_the_path_and_carry_size_and_sort() {
    let app = TestApp::spawn().await;
    let (admin, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    // 7 sessions: pages of 3 are 3, 3, 1.
    let sessions = seed_tie_rich(&app, &[user.id], 7).await;
    // Some for the admin too, so that /users/me/sessions has something to page through.
    let mine: Vec<Session> = vec![
        seed_at(&app, admin.id, T0 - 50, T0 - 50).await,
        seed_at(&app, admin.id, T0 - 40, T0 - 40).await,
        seed_at(&app, admin.id, T0 - 30, T0 - 30).await,
    ];

    let user_path = format!("/api/v2/users/{}/sessions", user.id);
    let user_path_json = format!("{user_path}.json");
    let cases: Vec<(&str, &[Session])> = vec![
        (&user_path, &sessions),
        (&user_path_json, &sessions),
        ("/api/v2/users/me/sessions", &mine),
        ("/api/v2/users/me/sessions.json", &mine),
    ];
    for (path, members) in cases {
        for sort in [None, Some("-id"), Some("last_seen_at"), Some("-authenticated_at")] {
            let size = 3;
            let sort_q = sort.map(|s| format!("&sort={s}")).unwrap_or_default();
            let expected = ordered(sort.unwrap_or("id"), members);
            let pages = walk_next(&app, &cred, &format!("{path}?page[size]={size}{sort_q}")).await;
            assert_eq!(pages.len(), expected.len().div_ceil(size), "{path} {sort:?}");
            let walked: Vec<i64> = pages.iter().flat_map(|p| p.ids.clone()).collect();
            assert_eq!(walked, expected, "{path} {sort:?}");
            for (i, p) in pages.iter().enumerate() {
                let last = i + 1 == pages.len();
                assert_eq!(p.has_more, !last, "{path} {sort:?} page {i}");
                match &p.next {
                    None => assert!(last, "{path} {sort:?}: next is null on page {i} of {}", pages.len()),
                    Some(next) => {
                        assert!(!last, "{path} {sort:?}: the last page has a next link");
                        let q = assert_link(&app, next, path);
                        assert_eq!(q.get("page[size]").map(String::as_str), Some("3"), "{next}");
                        assert_eq!(q.get("page[after]"), p.after.as_ref(), "{next}");
                        assert!(!q.contains_key("page[before]"), "{next}");
                        assert_eq!(q.get("sort").map(String::as_str), sort, "{next}");
                    }
                }
                match &p.prev {
                    None => assert_eq!(i, 0, "{path} {sort:?}: prev is null on page {i}"),
                    Some(prev) => {
                        assert!(i > 0, "{path} {sort:?}: the first page has a prev link");
                        let q = assert_link(&app, prev, path);
                        assert_eq!(q.get("page[size]").map(String::as_str), Some("3"), "{prev}");
                        assert_eq!(q.get("page[before]"), p.before.as_ref(), "{prev}");
                        assert!(!q.contains_key("page[after]"), "{prev}");
                        assert_eq!(q.get("sort").map(String::as_str), sort, "{prev}");
                    }
                }
            }
        }
    }
}

// [C-34] [C-39] [C-3]: absolute links are built on the configured public URL when there is one.
#[tokio::test]
async fn links_use_the_configured_public_url() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://sessions.example.com".into())).await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    let all: Vec<i64> = seed_many(&app, user.id, 5).await.iter().map(|s| s.id).collect();
    let public = "https://sessions.example.com";

    let first = page_at(&app, &cred, "/api/v2/sessions.json?page[size]=2&sort=-id").await;
    let next = first.next.expect("next");
    assert!(next.starts_with(&format!("{public}/api/v2/sessions.json?")), "{next}");
    // The same link, sent to the test server, is the next page.
    let local = next.replacen(public, &app.base, 1);
    let second = page_at(&app, &cred, &local).await;
    assert_eq!(second.ids, vec![all[2], all[1]]);
    let prev = second.prev.expect("prev");
    assert!(prev.starts_with(&format!("{public}/api/v2/sessions.json?")), "{prev}");

    let offset = ok(&app, &cred, "/api/v2/sessions?per_page=2&page=2").await;
    for key in ["next_page", "previous_page"] {
        let link = offset[key].as_str().unwrap_or_else(|| panic!("{key}: {offset}"));
        assert!(link.starts_with(&format!("{public}/api/v2/sessions?")), "{key}: {link}");
    }
}

// [C-34] [E-9]
#[tokio::test]
async fn empty_pages_have_every_cursor_and_link_null() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    let other = app.create_user("o@example.com", Role::EndUser).await;
    let empty = json!({
        "sessions": [],
        "meta": { "has_more": false, "after_cursor": null, "before_cursor": null },
        "links": { "next": null, "prev": null }
    });
    // Nothing at all yet (token callers have no session of their own).
    for path in ["/api/v2/sessions?page[size]=5", "/api/v2/sessions.json?page[size]=5&sort=-last_seen_at"] {
        assert_eq!(ok(&app, &cred, path).await, empty, "{path}");
    }
    seed_many(&app, user.id, 4).await;
    // A user without sessions, while others have some.
    assert_eq!(ok(&app, &cred, &format!("/api/v2/users/{}/sessions?page[size]=2", other.id)).await, empty);
    // Past the end and before the start of a non-empty list.
    for sort in SORTS {
        let pages = walk_next(&app, &cred, &format!("/api/v2/sessions?page[size]=2&sort={sort}")).await;
        assert_eq!(pages.len(), 2, "{sort}");
        let last = pages.last().expect("a page");
        let after = last.after.as_deref().expect("after_cursor on a non-empty page");
        let q = format!("/api/v2/sessions?page[size]=2&sort={sort}&page[after]={after}");
        assert_eq!(ok(&app, &cred, &q).await, empty, "{q}");
        let before = pages[0].before.as_deref().expect("before_cursor on a non-empty page");
        let q = format!("/api/v2/sessions?page[size]=2&sort={sort}&page[before]={before}");
        assert_eq!(ok(&app, &cred, &q).await, empty, "{q}");
    }
}

// ---------------------------------------------------------------------------------------------
// walks and sorts

// [C-35] [C-36] [C-37] [E-9]
#[tokio::test]
async fn walking_next_and_prev_in_every_sort_and_size() {
    let app = spawn_unthrottled().await;
    let (_, cred) = admin_cred(&app).await;
    let a = app.create_user("a@example.com", Role::Agent).await;
    let b = app.create_user("b@example.com", Role::EndUser).await;
    let sessions = seed_tie_rich(&app, &[a.id, b.id], 13).await;
    let n = sessions.len();
    for sort in SORTS {
        let expected = ordered(sort, &sessions);
        for size in [1usize, 3, 4, 12, 13, 14] {
            let pages = walk_next(&app, &cred, &format!("/api/v2/sessions?page[size]={size}&sort={sort}")).await;
            let chunks: Vec<Vec<i64>> = expected.chunks(size).map(<[i64]>::to_vec).collect();
            let got: Vec<Vec<i64>> = pages.iter().map(|p| p.ids.clone()).collect();
            // [C-35] every session exactly once, in order, in pages of `size`.
            assert_eq!(got, chunks, "sort={sort} size={size}");
            for (i, p) in pages.iter().enumerate() {
                let last = i + 1 == pages.len();
                // [E-9] both cursors on non-empty pages; next null exactly on the last page,
                // prev null exactly on the first.
                assert!(p.after.is_some() && p.before.is_some(), "sort={sort} size={size} page {i}");
                assert_eq!(p.next.is_none(), last, "sort={sort} size={size} page {i}");
                assert_eq!(p.has_more, !last, "sort={sort} size={size} page {i}");
                assert_eq!(p.prev.is_none(), i == 0, "sort={sort} size={size} page {i}");
            }
            // [C-36] from every page, `prev` goes back through the same pages.
            for k in 1..pages.len() {
                let back = walk_prev(&app, &cred, &pages[k]).await;
                assert_eq!(back.len(), k, "sort={sort} size={size} from page {k}");
                for (j, p) in back.iter().enumerate() {
                    let idx = k - 1 - j;
                    assert_eq!(p.ids, pages[idx].ids, "sort={sort} size={size} from page {k}, back to {idx}");
                    // has_more after page[before]: whether older pages remain.
                    assert_eq!(p.has_more, idx > 0, "sort={sort} size={size} page {idx} reached backwards");
                    assert_eq!(p.prev.is_none(), idx == 0);
                    // Something follows every page reached backwards, and `next` finds it.
                    let next = p.next.as_deref().expect("next on a page reached backwards");
                    assert_eq!(page_at(&app, &cred, next).await.ids, pages[idx + 1].ids);
                    assert_eq!(p.after, pages[idx].after);
                    assert_eq!(p.before, pages[idx].before);
                }
            }
        }
        assert_eq!(expected.len(), n);
    }
}

// [C-37]
#[tokio::test]
async fn every_sort_orders_the_list_correctly() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let a = app.create_user("a@example.com", Role::Agent).await;
    let b = app.create_user("b@example.com", Role::EndUser).await;
    let sessions = seed_tie_rich(&app, &[a.id, b.id], 13).await;
    let mut orders = HashSet::new();
    for sort in SORTS {
        let body = ok(&app, &cred, &format!("/api/v2/sessions?page[size]=100&sort={sort}")).await;
        assert_eq!(ids(&body), ordered(sort, &sessions), "sort={sort}");
        orders.insert(ids(&body));
        // Independently of our model: the shown field is monotone, ties broken by id.
        let field = sort.trim_start_matches('-');
        let rows: Vec<(String, i64)> = body["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|s| {
                let key = match &s[field] {
                    Value::String(t) => t.clone(),
                    v => format!("{:020}", v.as_i64().expect("id")),
                };
                (key, s["id"].as_i64().expect("id"))
            })
            .collect();
        for w in rows.windows(2) {
            let o = w[0].cmp(&w[1]);
            let want = if sort.starts_with('-') { Ordering::Greater } else { Ordering::Less };
            assert_eq!(o, want, "sort={sort}: {:?} then {:?}", w[0], w[1]);
        }
    }
    assert_eq!(orders.len(), 6, "the six sorts give six different orders of this data");
    // Default is id.
    assert_eq!(ids(&ok(&app, &cred, "/api/v2/sessions?page[size]=100").await), ordered("id", &sessions));
    // sort_by / sort_order are ignored under cursor pagination, even when invalid.
    for q in ["sort_by=last_seen_at&sort_order=desc", "sort_by=bogus&sort_order=sideways", "sort_order=desc"] {
        let body = ok(&app, &cred, &format!("/api/v2/sessions?page[size]=100&{q}")).await;
        assert_eq!(ids(&body), ordered("id", &sessions), "{q}");
        let body = ok(&app, &cred, &format!("/api/v2/sessions?page[size]=100&sort=-authenticated_at&{q}")).await;
        assert_eq!(ids(&body), ordered("-authenticated_at", &sessions), "{q}");
    }
}

// [C-37] [E-4]
#[tokio::test]
async fn unknown_sorts_are_400() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_many(&app, user.id, 3).await;
    for bad in [
        "name",
        "",
        "-",
        "--id",
        "ID",
        "+id",
        "%2Bid",
        "id,-id",
        "id%20",
        "created_at",
        "-updated_at",
        "authenticated_at%00",
        "user_id",
    ] {
        assert_400(&app, &cred, &format!("/api/v2/sessions?page[size]=2&sort={bad}"), &invalid_sort()).await;
        assert_400(
            &app,
            &cred,
            &format!("/api/v2/users/{}/sessions.json?page[size]=2&sort={bad}", user.id),
            &invalid_sort(),
        )
        .await;
        // The offset list honours `sort` too, and refuses the same values [E-10].
        assert_400(&app, &cred, &format!("/api/v2/sessions?sort={bad}"), &invalid_sort()).await;
    }
    // [E-4] a bad sort_by (offset mode) gets the same body.
    for bad in ["name", "", "-id", "ID", "created_at"] {
        assert_400(&app, &cred, &format!("/api/v2/sessions?sort_by={bad}"), &invalid_sort()).await;
        assert_400(&app, &cred, &format!("/api/v2/sessions.json?page=1&per_page=2&sort_by={bad}"), &invalid_sort())
            .await;
    }
    for good in SORTS {
        ok(&app, &cred, &format!("/api/v2/sessions?page[size]=2&sort={good}")).await;
    }
}

// [C-38]
#[tokio::test]
async fn cursors_that_do_not_decode_or_belong_to_another_sort_are_400() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_tie_rich(&app, &[user.id], 13).await;
    let path = "/api/v2/sessions";

    // A real cursor for each sort.
    let mut cursors: BTreeMap<&str, String> = BTreeMap::new();
    for sort in SORTS {
        let p = page_at(&app, &cred, &format!("{path}?page[size]=3&sort={sort}")).await;
        let c = p.after.expect("after_cursor");
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "not base64url: {c}");
        cursors.insert(sort, c);
    }
    for param in ["page[after]", "page[before]"] {
        let expected = invalid_param(&format!("{param} is not valid"));
        for (made_for, cursor) in &cursors {
            // Valid with its own sort…
            ok(&app, &cred, &format!("{path}?page[size]=3&sort={made_for}&{param}={cursor}")).await;
            // …refused with every other.
            for sort in SORTS.iter().filter(|s| *s != made_for) {
                let q = format!("{path}?page[size]=3&sort={sort}&{param}={cursor}");
                assert_400(&app, &cred, &q, &expected).await;
            }
        }
        // The default sort is `id`: an id cursor works without `sort`, a -id cursor does not.
        ok(&app, &cred, &format!("{path}?page[size]=3&{param}={}", cursors["id"])).await;
        assert_400(&app, &cred, &format!("{path}?page[size]=3&{param}={}", cursors["-id"]), &expected).await;

        // Cursors that do not decode.
        let random = URL_SAFE_NO_PAD.encode(random_bytes::<22>());
        let random_short = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        let random_long = URL_SAFE_NO_PAD.encode(random_bytes::<64>());
        let zeros = URL_SAFE_NO_PAD.encode([0u8; 22]);
        for junk in [
            random.as_str(),
            random_short.as_str(),
            random_long.as_str(),
            zeros.as_str(),
            "",
            "not-a-cursor",
            "!!!!",
            "%FF%FE%00",
            "====",
            "1",
            "12345",
        ] {
            for sort in ["", "&sort=-last_seen_at"] {
                assert_400(&app, &cred, &format!("{path}?page[size]=3{sort}&{param}={junk}"), &expected).await;
            }
        }

        // Tampered cursors: every single-character change, truncation, extension.
        let real = &cursors["authenticated_at"];
        let q = |c: &str| format!("{path}?page[size]=3&sort=authenticated_at&{param}={c}");
        for i in 0..real.len() {
            let mut bytes = real.clone().into_bytes();
            bytes[i] = match bytes[i] {
                b'A' => b'B',
                b'_' => b'-',
                _ => b'A',
            };
            let tampered = String::from_utf8(bytes).expect("ascii");
            assert_ne!(&tampered, real);
            assert_400(&app, &cred, &q(&tampered), &expected).await;
        }
        assert_400(&app, &cred, &q(&real[..real.len() - 1]), &expected).await;
        assert_400(&app, &cred, &q(&format!("{real}A")), &expected).await;
        assert_400(&app, &cred, &q(&format!("A{real}")), &expected).await;
    }
}

// ---------------------------------------------------------------------------------------------
// offset pagination

// [C-39]
#[tokio::test]
async fn offset_pagination_envelope_defaults_and_links() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    let all: Vec<i64> = seed_many(&app, user.id, 150).await.iter().map(|s| s.id).collect();

    // Defaults: page 1, per_page 100.
    let body = ok(&app, &cred, "/api/v2/sessions").await;
    assert_eq!(keys(&body), set(&["sessions", "next_page", "previous_page", "count"]));
    assert_eq!(ids(&body), all[..100].to_vec());
    assert_eq!(body["count"], json!(150));
    assert_eq!(body["previous_page"], Value::Null);
    let next = body["next_page"].as_str().expect("next_page");
    let q = assert_link(&app, next, "/api/v2/sessions");
    assert_eq!(q.get("page").map(String::as_str), Some("2"));
    let body2 = ok(&app, &cred, next).await;
    assert_eq!(ids(&body2), all[100..].to_vec());
    assert_eq!(body2["next_page"], Value::Null);
    let prev = body2["previous_page"].as_str().expect("previous_page");
    assert_eq!(assert_link(&app, prev, "/api/v2/sessions").get("page").map(String::as_str), Some("1"));
    assert_eq!(ids(&ok(&app, &cred, prev).await), all[..100].to_vec());

    // per_page above 100 is capped.
    for per_page in ["101", "1000", "9223372036854775807"] {
        let body = ok(&app, &cred, &format!("/api/v2/sessions?per_page={per_page}")).await;
        assert_eq!(ids(&body), all[..100].to_vec(), "per_page={per_page}");
    }

    // Walking next_page visits everything, on each path, keeping the path (and `.json`).
    let path_user = format!("/api/v2/users/{}/sessions.json", user.id);
    for path in ["/api/v2/sessions", "/api/v2/sessions.json", path_user.as_str()] {
        let mut url = format!("{path}?per_page=40");
        let mut seen = Vec::new();
        let mut page = 1;
        loop {
            let body = ok(&app, &cred, &url).await;
            assert_eq!(body["count"], json!(150));
            seen.extend(ids(&body));
            match body["previous_page"].as_str() {
                None => assert_eq!(page, 1),
                Some(prev) => {
                    let q = assert_link(&app, prev, path);
                    assert_eq!(q.get("page"), Some(&(page - 1).to_string()));
                    assert_eq!(q.get("per_page").map(String::as_str), Some("40"));
                }
            }
            match body["next_page"].as_str() {
                None => break,
                Some(next) => {
                    let q = assert_link(&app, next, path);
                    assert_eq!(q.get("page"), Some(&(page + 1).to_string()));
                    assert_eq!(q.get("per_page").map(String::as_str), Some("40"));
                    url = next.to_owned();
                    page += 1;
                }
            }
        }
        assert_eq!(page, 4, "{path}");
        assert_eq!(seen, all, "{path}");
    }
}

// [C-39] [E-10]
#[tokio::test]
async fn offset_sorts_are_honoured_and_carried_in_links() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let a = app.create_user("a@example.com", Role::Agent).await;
    let b = app.create_user("b@example.com", Role::EndUser).await;
    let sessions = seed_tie_rich(&app, &[a.id, b.id], 13).await;

    let mut cases: Vec<(String, &str)> = Vec::new();
    for (by, key) in [("id", "id"), ("authenticated_at", "authenticated_at"), ("last_seen_at", "last_seen_at")] {
        cases.push((format!("sort_by={by}"), key));
        cases.push((format!("sort_by={by}&sort_order=asc"), key));
        let desc = match key {
            "id" => "-id",
            "authenticated_at" => "-authenticated_at",
            _ => "-last_seen_at",
        };
        cases.push((format!("sort_by={by}&sort_order=desc"), desc));
    }
    cases.push(("sort_order=desc".into(), "-id"));
    // [E-10] the cursor sorts work under offset too (and win over sort_by/sort_order).
    for sort in SORTS {
        cases.push((format!("sort={sort}"), sort));
        cases.push((format!("sort={sort}&sort_by=last_seen_at&sort_order=desc"), sort));
    }
    for (q, sort) in cases {
        let expected = ordered(sort, &sessions);
        let full = ok(&app, &cred, &format!("/api/v2/sessions?{q}")).await;
        assert_eq!(ids(&full), expected, "?{q}");
        // Page through 4 at a time following next_page: the links carry the sort.
        let mut url = format!("/api/v2/sessions.json?per_page=4&{q}");
        let mut seen = Vec::new();
        for _ in 0..10 {
            let body = ok(&app, &cred, &url).await;
            seen.extend(ids(&body));
            match body["next_page"].as_str() {
                Some(next) => {
                    assert_link(&app, next, "/api/v2/sessions.json");
                    url = next.to_owned();
                }
                None => break,
            }
        }
        assert_eq!(seen, expected, "?{q} walked by next_page");
    }
}

// [C-40] [E-10]
#[tokio::test]
async fn offset_depth_is_limited_after_capping_per_page() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_many(&app, user.id, 3).await;
    for q in [
        "page=101",
        "page=101&per_page=100",
        "page=101&per_page=1000",
        "page=201&per_page=50",
        "page=10001&per_page=1",
        "page=5001&per_page=2",
        "page=9223372036854775807&per_page=1",
        "page=9223372036854775807&per_page=9223372036854775807",
    ] {
        assert_400(&app, &cred, &format!("/api/v2/sessions?{q}"), &invalid_depth()).await;
        assert_400(&app, &cred, &format!("/api/v2/users/{}/sessions.json?{q}", user.id), &invalid_depth()).await;
    }
    for q in [
        "page=100",
        "page=100&per_page=100",
        // per_page=1000 is capped to 100 first: 100 × 100 = 10000 is allowed.
        "page=100&per_page=1000",
        "page=100&per_page=101",
        "page=200&per_page=50",
        "page=10000&per_page=1",
        "page=5000&per_page=2",
    ] {
        let body = ok(&app, &cred, &format!("/api/v2/sessions?{q}")).await;
        assert_eq!(ids(&body), Vec::<i64>::new(), "?{q}");
        assert_eq!(body["count"], json!(3));
    }
}

// [E-10] [C-39]
#[tokio::test]
async fn offset_page_past_the_end_is_empty_and_points_back() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    let all: Vec<i64> = seed_many(&app, user.id, 5).await.iter().map(|s| s.id).collect();
    for path in ["/api/v2/sessions", "/api/v2/sessions.json"] {
        let body = ok(&app, &cred, &format!("{path}?page=4&per_page=2")).await;
        assert_eq!(keys(&body), set(&["sessions", "next_page", "previous_page", "count"]));
        assert_eq!(body["sessions"], json!([]));
        assert_eq!(body["next_page"], Value::Null);
        assert_eq!(body["count"], json!(5));
        let prev = body["previous_page"].as_str().expect("previous_page points back");
        let q = assert_link(&app, prev, path);
        assert_eq!(q.get("page").map(String::as_str), Some("3"));
        assert_eq!(q.get("per_page").map(String::as_str), Some("2"));
        assert_eq!(ids(&ok(&app, &cred, prev).await), all[4..].to_vec());

        // The last real page: next null, previous set.
        let last = ok(&app, &cred, &format!("{path}?page=3&per_page=2")).await;
        assert_eq!(ids(&last), all[4..].to_vec());
        assert_eq!(last["next_page"], Value::Null);
        assert!(last["previous_page"].is_string());

        let far = ok(&app, &cred, &format!("{path}?page=100")).await;
        assert_eq!(far["sessions"], json!([]));
        assert_eq!(far["next_page"], Value::Null);
        assert!(far["previous_page"].is_string());
    }
    // An empty list: page 1 has no links at all.
    let other = app.create_user("o@example.com", Role::EndUser).await;
    let body = ok(&app, &cred, &format!("/api/v2/users/{}/sessions", other.id)).await;
    assert_eq!(body, json!({ "sessions": [], "next_page": null, "previous_page": null, "count": 0 }));
}

// [E-4] [C-39]
#[tokio::test]
async fn invalid_page_and_per_page_are_400() {
    let app = TestApp::spawn().await;
    let (_, cred) = admin_cred(&app).await;
    let user = app.create_user("u@example.com", Role::EndUser).await;
    seed_many(&app, user.id, 3).await;
    for bad in ["0", "-1", "abc", "1.5", "", "1e2", "0x1", "-9223372036854775808"] {
        for path in ["/api/v2/sessions", "/api/v2/sessions.json", &format!("/api/v2/users/{}/sessions", user.id)] {
            assert_400(&app, &cred, &format!("{path}?page={bad}"), &invalid_param("page is not valid")).await;
            assert_400(&app, &cred, &format!("{path}?page={bad}&per_page=2"), &invalid_param("page is not valid"))
                .await;
            assert_400(&app, &cred, &format!("{path}?per_page={bad}"), &invalid_param("per_page is not valid")).await;
            assert_400(&app, &cred, &format!("{path}?page=1&per_page={bad}"), &invalid_param("per_page is not valid"))
                .await;
        }
    }
    ok(&app, &cred, "/api/v2/sessions?page=1&per_page=2").await;
}

// ---------------------------------------------------------------------------------------------
// who sees what

// [C-13] [C-14] [C-23] with pagination
#[tokio::test]
async fn non_admins_page_through_only_their_own_sessions() {
    let app = TestApp::spawn().await;
    let (admin, admin_cred) = admin_cred(&app).await;
    let alice = app.create_user("alice@example.com", Role::Agent).await;
    let bob = app.create_user("bob@example.com", Role::EndUser).await;
    let mut alice_sessions = Vec::new();
    let mut bob_sessions = Vec::new();
    let mut everyone = Vec::new();
    for i in 0..5 {
        let s = seed_at(&app, alice.id, T0 - 900 + i * 60, T0 - 100 - i).await;
        alice_sessions.push(s.clone());
        everyone.push(s);
        let s = seed_at(&app, bob.id, T0 - 890 + i * 60, T0 - 95 - i).await;
        bob_sessions.push(s.clone());
        everyone.push(s);
        if i < 3 {
            everyone.push(seed_at(&app, admin.id, T0 - 880 + i * 60, T0 - 90).await);
        }
    }
    // Alice signs in: a sixth session of hers, used as the credential.
    let browser = app.sign_in(&alice.email).await;
    let (sign_in, _) = app.state.store.session_by_id(browser.session_id).await.expect("store").expect("session");
    alice_sessions.push(sign_in.clone());
    everyone.push(sign_in);
    let alice_cookie: Cred = ("cookie", browser.cookie.clone());
    let bob_cred = token_cred(&app, &bob).await;

    for (cred, mine, who) in [(&alice_cookie, &alice_sessions, "alice"), (&bob_cred, &bob_sessions, "bob")] {
        for sort in SORTS {
            for path in ["/api/v2/sessions", "/api/v2/sessions.json", "/api/v2/users/me/sessions"] {
                let pages = walk_next(&app, cred, &format!("{path}?page[size]=2&sort={sort}")).await;
                let walked: Vec<i64> = pages.iter().flat_map(|p| p.ids.clone()).collect();
                assert_eq!(walked, ordered(sort, mine.iter()), "{who} {path} sort={sort}");
                let back = walk_prev(&app, cred, pages.last().expect("page")).await;
                let mut back_ids: Vec<i64> = back.iter().rev().flat_map(|p| p.ids.clone()).collect();
                back_ids.extend(pages.last().expect("page").ids.clone());
                assert_eq!(back_ids, walked, "{who} {path} sort={sort} backwards");
            }
        }
        // Offset too: count and pages cover only their own.
        let first = ok(&app, cred, "/api/v2/sessions?per_page=4").await;
        assert_eq!(first["count"], json!(mine.len()), "{who}");
        let mut offset_ids = ids(&first);
        if let Some(next) = first["next_page"].as_str() {
            offset_ids.extend(ids(&ok(&app, cred, next).await));
        }
        assert_eq!(offset_ids, ordered("id", mine.iter()), "{who} offset");
    }
    // Another user's list is refused, paginated or not.
    for q in ["page[size]=2", "per_page=2", ""] {
        let (status, body) = get(&app, &alice_cookie, &format!("/api/v2/users/{}/sessions?{q}", bob.id)).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, role_forbidden()), "alice → bob ?{q}");
    }
    // The admin sees everyone's, in every sort.
    for sort in SORTS {
        let pages = walk_next(&app, &admin_cred, &format!("/api/v2/sessions?page[size]=4&sort={sort}")).await;
        let walked: Vec<i64> = pages.iter().flat_map(|p| p.ids.clone()).collect();
        assert_eq!(walked, ordered(sort, &everyone), "admin sort={sort}");
    }
}

// ---------------------------------------------------------------------------------------------
// keyset walks under concurrent change

/// Timestamps that keep every test session alive at the (fixed) test clock, with many ties.
fn slot_time(slot: i64) -> i64 {
    T0 - 600 + slot * 60
}

// [C-35] [C-36]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walks_survive_concurrent_creates_and_deletes() {
    let app = spawn_unthrottled().await;
    let (_, cred) = admin_cred(&app).await;
    let a = app.create_user("a@example.com", Role::Agent).await;
    let b = app.create_user("b@example.com", Role::EndUser).await;
    let users = [a.id, b.id];

    for (round, sort) in SORTS.iter().enumerate() {
        // 60 sessions exist before the walk; 20 of them are doomed to go during it.
        let mut known: HashMap<i64, Session> = HashMap::new();
        let mut before = Vec::new();
        for i in 0..60i64 {
            let auth = slot_time(i % 7);
            let s = seed_at(&app, users[(i % 2) as usize], auth, auth + (i % 3) * 20).await;
            known.insert(s.id, s.clone());
            before.push(s);
        }
        let doomed: Vec<i64> = before.iter().skip(round).step_by(3).take(20).map(|s| s.id).collect();
        let stable: Vec<i64> = before.iter().map(|s| s.id).filter(|id| !doomed.contains(id)).collect();

        let stop = Arc::new(AtomicBool::new(false));
        let churn = {
            let state = app.state.clone();
            let stop = stop.clone();
            let mut doomed = doomed.clone();
            tokio::spawn(async move {
                let mut created: Vec<Session> = Vec::new();
                let mut i = 0i64;
                while !stop.load(AtomicOrdering::SeqCst) && i < 400 {
                    // Born with both timestamps (one insert): a session's sort keys never
                    // change while a walk can see it.
                    let at = slot_time((i * 5) % 9) + (i % 4) * 15;
                    let s = seed_in(&state, users[(i % 2) as usize], at, at).await;
                    created.push(s);
                    // Delete one doomed original, or else one of the new ones.
                    let victim = if i % 3 == 0 {
                        doomed.pop()
                    } else if i % 2 == 0 {
                        created.get((i as usize * 7) % created.len()).map(|s| s.id)
                    } else {
                        None
                    };
                    if let Some(id) = victim {
                        state.store.delete_session(id).await.expect("delete");
                    }
                    i += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                created
            })
        };

        let forward = walk_next(&app, &cred, &format!("/api/v2/sessions?page[size]=5&sort={sort}")).await;
        let last = forward.iter().rev().find(|p| !p.ids.is_empty()).cloned().expect("a non-empty page");
        let backward = walk_prev(&app, &cred, &last).await;
        stop.store(true, AtomicOrdering::SeqCst);
        let created = churn.await.expect("churn task");
        assert!(!created.is_empty(), "the churn ran");
        for s in created {
            known.insert(s.id, s);
        }

        let forward_ids: Vec<i64> = forward.iter().flat_map(|p| p.ids.clone()).collect();
        let mut backward_ids: Vec<i64> = backward.iter().rev().flat_map(|p| p.ids.clone()).collect();
        backward_ids.extend(last.ids.clone());
        for (dir, walked) in [("forward", &forward_ids), ("backward", &backward_ids)] {
            // Nothing that never existed, nothing twice, in order.
            for id in walked.iter() {
                assert!(known.contains_key(id), "{sort} {dir}: session {id} never existed");
            }
            let distinct: HashSet<i64> = walked.iter().copied().collect();
            assert_eq!(distinct.len(), walked.len(), "{sort} {dir}: a session was seen twice");
            for w in walked.windows(2) {
                assert_eq!(cmp_in(sort, &known[&w[0]], &known[&w[1]]), Ordering::Less, "{sort} {dir}: out of order");
            }
            // Every session that existed throughout is seen (exactly once, given the above).
            for id in &stable {
                assert!(distinct.contains(id), "{sort} {dir}: stable session {id} was skipped");
            }
        }
        // Clean slate for the next sort.
        let leftover: Vec<i64> = known.keys().copied().collect();
        for chunk in leftover.chunks(100) {
            app.state.store.delete_sessions(chunk, None).await.expect("delete");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// property: keyset walks against a model, under random interleavings of creates and deletes

#[derive(Debug, Clone)]
enum Op {
    /// A session of user `owner` authenticated at slot `slot`, last seen `delta` steps later.
    Create { slot: i64, delta: i64, owner: usize },
    /// Deletes the live session at this index (modulo the number of live sessions).
    Delete(usize),
}

#[derive(Debug, Clone)]
struct WalkCase {
    initial: Vec<(i64, i64, usize)>,
    /// Mutations made before each request of each walk (step i uses `script[i]`).
    script: Vec<Vec<Op>>,
    size: usize,
    /// Page `/api/v2/users/{first user}/sessions.json` instead of `/api/v2/sessions`.
    one_user: bool,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..6, 0i64..4, 0usize..2).prop_map(|(slot, delta, owner)| Op::Create { slot, delta, owner }),
        any::<usize>().prop_map(Op::Delete),
    ]
}

fn walk_case_strategy() -> impl Strategy<Value = WalkCase> {
    (
        proptest::collection::vec((0i64..6, 0i64..4, 0usize..2), 0..20),
        proptest::collection::vec(proptest::collection::vec(op_strategy(), 0..4), 0..10),
        1usize..=5,
        any::<bool>(),
    )
        .prop_map(|(initial, script, size, one_user)| WalkCase { initial, script, size, one_user })
}

/// The world as the test knows it: every session ever made, and which are live now.
struct Model {
    all: HashMap<i64, Session>,
    live: BTreeSet<i64>,
}

impl Model {
    async fn create(&mut self, app: &TestApp, owner: i64, slot: i64, delta: i64) -> i64 {
        let auth = slot_time(slot);
        let s = seed_at(app, owner, auth, auth + delta * 30).await;
        let id = s.id;
        self.all.insert(id, s);
        self.live.insert(id);
        id
    }

    async fn delete_nth(&mut self, app: &TestApp, n: usize) -> Option<i64> {
        if self.live.is_empty() {
            return None;
        }
        let id = *self.live.iter().nth(n % self.live.len()).expect("in range");
        assert!(app.state.store.delete_session(id).await.expect("delete"));
        self.live.remove(&id);
        Some(id)
    }

    /// Live sessions in the scope, in `sort` order.
    fn ordered(&self, sort: &str, owner: Option<i64>) -> Vec<&Session> {
        let mut v: Vec<&Session> =
            self.live.iter().map(|id| &self.all[id]).filter(|s| owner.is_none_or(|o| s.user_id == o)).collect();
        v.sort_by(|a, b| cmp_in(sort, a, b));
        v
    }
}

async fn apply_step(app: &TestApp, model: &mut Model, case: &WalkCase, step: usize, owners: &[i64]) -> Vec<i64> {
    let mut deleted = Vec::new();
    if let Some(ops) = case.script.get(step) {
        for op in ops {
            match op {
                Op::Create { slot, delta, owner } => {
                    model.create(app, owners[*owner], *slot, *delta).await;
                }
                Op::Delete(n) => deleted.extend(model.delete_nth(app, *n).await),
            }
        }
    }
    deleted
}

/// Checks one cursor page against the model at the instant it was served.
fn check_page(model: &Model, sort: &str, owner: Option<i64>, size: usize, request: Option<(bool, i64)>, p: &Page) {
    let order = model.ordered(sort, owner);
    let ctx = format!("sort={sort} size={size} request={request:?} page={p:?}");
    // What should be there: `size` sessions after (or before) the cursor's position.
    let (expected, more): (Vec<i64>, bool) = match request {
        None => (order.iter().take(size).map(|s| s.id).collect(), order.len() > size),
        Some((forward, at)) => {
            let pos = &model.all[&at];
            if forward {
                let rest: Vec<i64> =
                    order.iter().filter(|s| cmp_in(sort, s, pos) == Ordering::Greater).map(|s| s.id).collect();
                (rest.iter().take(size).copied().collect(), rest.len() > size)
            } else {
                let rest: Vec<i64> =
                    order.iter().filter(|s| cmp_in(sort, s, pos) == Ordering::Less).map(|s| s.id).collect();
                (rest[rest.len().saturating_sub(size)..].to_vec(), rest.len() > size)
            }
        }
    };
    assert_eq!(p.ids, expected, "{ctx}");
    assert_eq!(p.has_more, more, "{ctx}");
    match (p.ids.first(), p.ids.last()) {
        (Some(first), Some(last)) => {
            assert!(p.after.is_some() && p.before.is_some(), "{ctx}");
            let (first, last) = (&model.all[first], &model.all[last]);
            let follows = order.iter().any(|s| cmp_in(sort, s, last) == Ordering::Greater);
            let precedes = order.iter().any(|s| cmp_in(sort, s, first) == Ordering::Less);
            assert_eq!(p.next.is_some(), follows, "links.next: {ctx}");
            assert_eq!(p.prev.is_some(), precedes, "links.prev: {ctx}");
        }
        _ => {
            assert_eq!((&p.after, &p.before, &p.next, &p.prev), (&None, &None, &None, &None), "{ctx}");
            assert!(!p.has_more, "{ctx}");
        }
    }
}

async fn model_walks(case: WalkCase) {
    let app = spawn_unthrottled().await;
    let (_, cred) = admin_cred(&app).await;
    let u1 = app.create_user("a@example.com", Role::Agent).await;
    let u2 = app.create_user("b@example.com", Role::EndUser).await;
    let owners = [u1.id, u2.id];
    let mut model = Model { all: HashMap::new(), live: BTreeSet::new() };
    for (slot, delta, owner) in &case.initial {
        model.create(&app, owners[*owner], *slot, *delta).await;
    }
    let (path, scope) = if case.one_user {
        (format!("/api/v2/users/{}/sessions.json", u1.id), Some(u1.id))
    } else {
        ("/api/v2/sessions".into(), None)
    };
    let in_scope = |m: &Model, id: &i64| scope.is_none_or(|o| m.all[id].user_id == o);

    for sort in SORTS {
        // Forward, following `next`.
        let start_live: BTreeSet<i64> = model.live.iter().copied().filter(|id| in_scope(&model, id)).collect();
        let mut deleted_during = HashSet::new();
        let mut seen: Vec<i64> = Vec::new();
        let mut pages: Vec<Page> = Vec::new();
        // The live sessions in scope when each page was served.
        let mut live_at: Vec<BTreeSet<i64>> = Vec::new();
        let mut url = format!("{path}?page[size]={}&sort={sort}", case.size);
        let mut request: Option<(bool, i64)> = None;
        for step in 0.. {
            assert!(step < 500, "forward walk does not end");
            deleted_during.extend(apply_step(&app, &mut model, &case, step, &owners).await);
            let p = page_at(&app, &cred, &url).await;
            check_page(&model, sort, scope, case.size, request, &p);
            seen.extend(p.ids.iter().copied());
            let next = p.next.clone();
            if let Some(last) = p.ids.last() {
                request = Some((true, *last));
            }
            pages.push(p);
            live_at.push(model.live.iter().copied().filter(|id| in_scope(&model, id)).collect());
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        let distinct: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), seen.len(), "sort={sort}: a session was seen twice going forward");
        for id in start_live.iter().filter(|id| !deleted_during.contains(*id)) {
            assert!(distinct.contains(id), "sort={sort}: session {id} existed throughout but was not seen");
        }
        assert!(seen.iter().all(|id| model.all.contains_key(id)), "sort={sort}: saw a session that never existed");

        // Backward, following `prev` from the last non-empty page: that walk starts when the
        // page was served (mutations made since then happen during it).
        let Some(start_at) = pages.iter().rposition(|p| !p.ids.is_empty()) else {
            continue;
        };
        let start = pages[start_at].clone();
        let start_first = model.all[start.ids.first().expect("non-empty")].clone();
        let start_last = model.all[start.ids.last().expect("non-empty")].clone();
        let mut seen_back: Vec<i64> = start.ids.clone();
        let mut link = start.prev.clone();
        let mut at = start_first.id;
        let mut step = 0;
        while let Some(prev) = link {
            assert!(step < 500, "backward walk does not end");
            apply_step(&app, &mut model, &case, step, &owners).await;
            step += 1;
            let p = page_at(&app, &cred, &prev).await;
            check_page(&model, sort, scope, case.size, Some((false, at)), &p);
            seen_back.extend(p.ids.iter().copied());
            if let Some(first) = p.ids.first() {
                at = *first;
            }
            link = p.prev.clone();
        }
        let distinct: HashSet<i64> = seen_back.iter().copied().collect();
        assert_eq!(distinct.len(), seen_back.len(), "sort={sort}: a session was seen twice going backward");
        // Ids are never reused: live when the start page was served and live now means it
        // existed throughout the backward walk.
        for id in live_at[start_at].iter().filter(|id| model.live.contains(*id)) {
            if cmp_in(sort, &model.all[id], &start_last) != Ordering::Greater {
                assert!(distinct.contains(id), "sort={sort}: session {id} existed throughout but was missed backward");
            }
        }
        assert!(seen_back.iter().all(|id| model.all.contains_key(id)), "sort={sort}: saw a session that never existed");
    }
    app.stop().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    // [C-35] [C-36] [E-9]: random creates and deletes between the requests of forward and
    // backward walks in every sort; each page equals what the model predicts, each session
    // that existed throughout a walk is seen exactly once, nothing else is seen.
    #[test]
    fn keyset_walks_match_a_model_under_random_creates_and_deletes(case in walk_case_strategy()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(model_walks(case));
    }
}
