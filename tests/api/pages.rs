//! The web pages (issue 9): /sessions for everyone, /admin/sessions for administrators,
//! their forms, and what every page must send. Browsers are played by plain HTTP here;
//! tests/browser/ drives a real Chromium through the same pages.

use crate::common::*;
use crate::support::process::{Server, sessiond, text};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use reqwest::{Method, Response, StatusCode};
use sessiond::domain::Role;

const FIREFOX_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const HOSTILE_UA: &str = "\"><script>alert(2)</script><img src=x onerror=alert(3)>";

/// A browser signed in through the HTML form: its cookie pair.
#[derive(Clone, Debug)]
struct Tab {
    cookie: String,
}

/// Signs in through the form with this user agent (and `X-Forwarded-For`, if given).
async fn form_sign_in(app: &TestApp, email: &str, ua: &str, forwarded_for: Option<&str>) -> Tab {
    form_sign_in_at(&app.http, &app.base, email, ua, forwarded_for).await
}

async fn form_sign_in_at(http: &reqwest::Client, base: &str, email: &str, ua: &str, xff: Option<&str>) -> Tab {
    let mut req = http.post(format!("{base}/access/login")).header(USER_AGENT, ua).form(&[
        ("email", email),
        ("password", PASSWORD),
        ("return_to", "/sessions"),
    ]);
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    let r = req.send().await.expect("sign in");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "form sign-in of {email}");
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/sessions");
    let set = header(r.headers(), SET_COOKIE.as_str());
    Tab { cookie: set.split(';').next().expect("cookie pair").to_owned() }
}

async fn get(app: &TestApp, path: &str, tab: &Tab) -> Response {
    app.http.get(app.url(path)).header(COOKIE, &tab.cookie).send().await.expect("get")
}

/// GET a page that must render: its HTML.
async fn page(app: &TestApp, path: &str, tab: &Tab) -> String {
    let r = get(app, path, tab).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    assert!(header(r.headers(), "content-type").starts_with("text/html; charset=utf-8"));
    r.text().await.expect("html")
}

async fn post(app: &TestApp, path: &str, tab: Option<&Tab>, fields: &[(&str, &str)]) -> Response {
    let mut req = app.http.post(app.url(path)).form(fields);
    if let Some(tab) = tab {
        req = req.header(COOKIE, &tab.cookie);
    }
    req.send().await.expect("post")
}

/// The first authenticity token in a page (every form of a page carries a valid one).
fn token_in(html: &str) -> String {
    html.split("name=\"authenticity_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("authenticity token in the page")
        .to_owned()
}

/// A fresh authenticity token of this browser's session, read from its sessions page.
async fn token(app: &TestApp, tab: &Tab) -> String {
    token_in(&page(app, "/sessions", tab).await)
}

/// The session ids a list page shows, in page order.
fn ids_in(html: &str) -> Vec<i64> {
    html.split("data-session-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|id| id.parse().expect("numeric id"))
        .collect()
}

/// The HTML of one session's list item.
fn item(html: &str, id: i64) -> &str {
    let start = html.find(&format!("data-session-id=\"{id}\"")).unwrap_or_else(|| panic!("session {id} not shown"));
    let rest = &html[start..];
    &rest[..rest.find("</li>").expect("end of item")]
}

/// The id of the session a form-signed-in browser holds, from its own page.
async fn session_id(app: &TestApp, tab: &Tab) -> i64 {
    let html = page(app, "/sessions", tab).await;
    let start = html.find("aria-current=\"true\"").expect("this device");
    ids_in(&html[start..])[0]
}

/// Whether the browser's session still authenticates on the API.
async fn alive(app: &TestApp, tab: &Tab) -> bool {
    let r = app.http.get(app.url("/api/v2/users/me/session")).header(COOKIE, &tab.cookie).send().await.expect("me");
    match r.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("unexpected {other}"),
    }
}

fn href_of<'a>(html: &'a str, rel: &str) -> Option<&'a str> {
    let marker = format!("rel=\"{rel}\"");
    let at = html.find(&marker)?;
    let before = &html[..at];
    let start = before.rfind("href=\"")? + "href=\"".len();
    Some(before[start..].split('"').next().expect("href"))
}

/// Undoes askama's escaping of an attribute value (enough for our hrefs).
fn unescape(s: &str) -> String {
    s.replace("&#47;", "/").replace("&#38;", "&").replace("&amp;", "&")
}

fn assert_security_headers(r: &Response, what: &str) {
    let h = r.headers();
    let csp = header(h, "content-security-policy");
    assert_eq!(
        csp, "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "{what}"
    );
    assert!(!csp.contains("unsafe") && !csp.contains("script-src"), "{what}: {csp}");
    assert_eq!(header(h, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(h, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(h, "referrer-policy"), "same-origin", "{what}");
    assert_eq!(header(h, "cache-control"), "no-store", "{what}");
}

// /sessions shows every live session of mine — device, address, sign-in time, last seen with
// the exact time on hover — newest first, "this device" on the current one, nobody else's.
#[tokio::test]
async fn sessions_page_lists_my_sessions_with_device_details() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    app.create_user("bob@example.com", Role::EndUser).await;
    let laptop = form_sign_in(&app, "ada@example.com", FIREFOX_WINDOWS, None).await;
    app.clock.advance(30);
    let phone = form_sign_in(&app, "ada@example.com", SAFARI_IPHONE, None).await;
    let bob = form_sign_in(&app, "bob@example.com", FIREFOX_WINDOWS, None).await;
    let laptop_id = session_id(&app, &laptop).await;
    let phone_id = session_id(&app, &phone).await;
    let bob_id = session_id(&app, &bob).await;

    app.clock.advance(5 * 60 + 10);
    let html = page(&app, "/sessions", &laptop).await;
    assert_eq!(ids_in(&html), vec![phone_id, laptop_id], "mine only, newest first");
    assert!(!html.contains(&format!("data-session-id=\"{bob_id}\"")));
    assert!(html.contains("You are signed in on 2 devices"));

    let mine = item(&html, laptop_id);
    assert!(mine.contains("<h2>Firefox 128 on Windows</h2>"), "{mine}");
    assert!(mine.contains("This device"));
    assert!(mine.contains("<dd>127.0.0.1</dd>"));
    assert!(mine.contains("<time datetime=\"2023-11-14T22:13:20Z\">2023-11-14 22:13:20 UTC</time>"), "{mine}");
    assert!(mine.contains("just now"), "this very request is activity: {mine}");
    // The current session signs out with the ordinary sign-out form, not the per-session one.
    assert!(mine.contains("action=\"/access/logout\""));
    assert!(!mine.contains(&format!("/sessions/{laptop_id}/sign_out")));

    let other = item(&html, phone_id);
    assert!(other.contains("<h2>Safari 17 on iOS 17.5</h2>"), "{other}");
    assert!(!other.contains("This device"));
    // Last seen: approximate, with the exact UTC time in the title (shown on hover).
    assert!(
        other.contains(
            "<time datetime=\"2023-11-14T22:13:50Z\" title=\"2023-11-14 22:13:50 UTC\">about 5 minutes ago</time>"
        ),
        "{other}"
    );
    assert!(other.contains(&format!("action=\"/sessions/{phone_id}/sign_out\"")));
    assert!(other.contains("Sign out<span class=\"visually-hidden\"> Safari 17 on iOS 17.5, signed in"));
    assert!(html.contains("action=\"/sessions/sign_out_others\""));

    // With a single session there is nothing "other" to sign out.
    let html = page(&app, "/sessions", &bob).await;
    assert_eq!(ids_in(&html), vec![bob_id]);
    assert!(html.contains("You are signed in on 1 device."));
    assert!(!html.contains("sign_out_others"));
}

// Without a live session every page sends the browser to the sign-in form, which comes back.
#[tokio::test]
async fn pages_without_a_live_session_redirect_to_sign_in_with_return_to() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    for (path, location) in [
        ("/sessions", "/access/login?return_to=%2Fsessions"),
        ("/admin/sessions?email=a%40b", "/access/login?return_to=%2Fadmin%2Fsessions%3Femail%3Da%2540b"),
        ("/", "/access/login"),
    ] {
        let r = app.http.get(app.url(path)).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(header(r.headers(), LOCATION.as_str()), location, "{path}");
        assert_security_headers(&r, path);
        assert!(r.headers().get(SET_COOKIE).is_none(), "no cookie to clear");
    }
    for path in ["/sessions/sign_out_others", "/sessions/1/sign_out"] {
        let r = post(&app, path, None, &[("authenticity_token", "x")]).await;
        assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login?return_to=%2Fsessions", "{path}");
    }
    for path in ["/admin/sessions/1/sign_out", "/admin/users/1/sign_out"] {
        let r = post(&app, path, None, &[("authenticity_token", "x")]).await;
        assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login?return_to=%2Fadmin%2Fsessions", "{path}");
    }

    // The sign-in page keeps return_to through the form and lands there.
    let html = app
        .http
        .get(app.url("/access/login?return_to=%2Fsessions"))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("name=\"return_to\" value=\"&#47;sessions\"")
            || html.contains("name=\"return_to\" value=\"/sessions\""),
        "{html}"
    );
    let tab = form_sign_in(&app, "ada@example.com", FIREFOX_WINDOWS, None).await;

    // A cookie whose session has ended: bounced, and the dead cookie is cleared.
    let id = session_id(&app, &tab).await;
    app.state.store.delete_session(id).await.expect("delete");
    let r = get(&app, "/sessions?page%5Bsize%5D=5", &tab).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login?return_to=%2Fsessions%3Fpage%255Bsize%255D%3D5");
    assert!(header(r.headers(), SET_COOKIE.as_str()).contains("Max-Age=0"));
}

// Every page form needs this session's authenticity token in the form: none, a garbled one
// or another session's is a 403 page and changes nothing.
#[tokio::test]
async fn page_forms_refuse_a_missing_or_foreign_authenticity_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.create_user("ada@example.com", Role::EndUser).await;
    let a = form_sign_in(&app, "ada@example.com", FIREFOX_WINDOWS, None).await;
    let b = form_sign_in(&app, "ada@example.com", SAFARI_IPHONE, None).await;
    let boss = form_sign_in(&app, &admin.email, FIREFOX_WINDOWS, None).await;
    let b_id = session_id(&app, &b).await;
    let a_token = token(&app, &a).await;
    let b_token = token(&app, &b).await;
    let boss_token = token(&app, &boss).await;
    let flipped = if &a_token[10..11] == "B" { "C" } else { "B" };
    let garbled = format!("{}{flipped}{}", &a_token[..10], &a_token[11..]);
    let long = "x".repeat(86);

    let forms: [(&Tab, String, &str); 4] = [
        (&a, format!("/sessions/{b_id}/sign_out"), "ada"),
        (&a, "/sessions/sign_out_others".to_owned(), "ada"),
        (&boss, format!("/admin/sessions/{b_id}/sign_out"), "admin"),
        (&boss, format!("/admin/users/{}/sign_out", ada.id), "admin"),
    ];
    for (tab, path, who) in &forms {
        let own = if *who == "ada" { &a_token } else { &boss_token };
        let foreign = if *who == "ada" { &b_token } else { &a_token };
        for bad in [None, Some(""), Some(garbled.as_str()), Some(foreign.as_str()), Some(long.as_str())] {
            let fields: Vec<(&str, &str)> = bad.map(|t| vec![("authenticity_token", t)]).unwrap_or_default();
            let r = post(&app, path, Some(tab), &fields).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {bad:?}");
            assert!(header(r.headers(), "content-type").starts_with("text/html"));
            assert_security_headers(&r, path);
            let html = r.text().await.expect("html");
            assert!(html.contains("This form has expired"), "{html}");
            assert!(html.contains("role=\"alert\""));
        }
        // The token in a header is not the form's token (page forms always post it).
        let r = app
            .http
            .post(app.url(path))
            .header(COOKIE, &tab.cookie)
            .header("x-csrf-token", own.as_str())
            .form(&[("x", "y")])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(alive(&app, &a).await && alive(&app, &b).await && alive(&app, &boss).await, "nothing changed");
    }
    // With the right token the same form works.
    let r = post(&app, &forms[0].1, Some(&a), &[("authenticity_token", &a_token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/sessions?notice=signed_out");
    assert!(!alive(&app, &b).await);
    // Malformed form bodies are a 400 page, never a 500.
    let r = app
        .http
        .post(app.url("/sessions/sign_out_others"))
        .header(COOKIE, &a.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("authenticity_token=%ZZ&&=")
        .send()
        .await
        .expect("post");
    assert!(r.status() == StatusCode::BAD_REQUEST || r.status() == StatusCode::FORBIDDEN, "{}", r.status());
    assert!(alive(&app, &a).await);
}

// Sign out one session: it ends at once and its browser is bounced on its next click;
// someone else's session id changes nothing; my own current one signs me out.
#[tokio::test]
async fn signing_out_one_session_ends_it_and_touches_only_mine() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    app.create_user("bob@example.com", Role::EndUser).await;
    let a = form_sign_in(&app, "ada@example.com", FIREFOX_WINDOWS, None).await;
    let b = form_sign_in(&app, "ada@example.com", SAFARI_IPHONE, None).await;
    let bob = form_sign_in(&app, "bob@example.com", FIREFOX_WINDOWS, None).await;
    let (b_id, bob_id) = (session_id(&app, &b).await, session_id(&app, &bob).await);
    let t = token(&app, &a).await;

    let r = post(&app, &format!("/sessions/{bob_id}/sign_out"), Some(&a), &[("authenticity_token", &t)]).await;
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/sessions?notice=already_ended");
    assert!(alive(&app, &bob).await, "not ada's to sign out");
    for junk in ["abc", "0", "99999999999999999999", "%FF"] {
        let r = post(&app, &format!("/sessions/{junk}/sign_out"), Some(&a), &[("authenticity_token", &t)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{junk}");
    }

    let r = post(&app, &format!("/sessions/{b_id}/sign_out"), Some(&a), &[("authenticity_token", &t)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/sessions?notice=signed_out");
    let html = page(&app, "/sessions?notice=signed_out", &a).await;
    assert!(html.contains("<p class=\"notice\" role=\"status\">That session is signed out.</p>"));
    assert!(!ids_in(&html).contains(&b_id));
    // The signed-out browser's next click lands on the sign-in form.
    let r = get(&app, "/sessions", &b).await;
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login?return_to=%2Fsessions");
    assert!(!alive(&app, &b).await);

    // Signing out the current session through its id signs this browser out.
    let a_id = session_id(&app, &a).await;
    let t = token(&app, &a).await;
    let r = post(&app, &format!("/sessions/{a_id}/sign_out"), Some(&a), &[("authenticity_token", &t)]).await;
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login");
    assert!(header(r.headers(), SET_COOKIE.as_str()).contains("Max-Age=0"));
    assert!(!alive(&app, &a).await);
    assert!(alive(&app, &bob).await);
}

// "Sign out every other session" keeps this one and nobody else's is touched.
#[tokio::test]
async fn sign_out_every_other_session_keeps_this_one() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    app.create_user("bob@example.com", Role::EndUser).await;
    let a = form_sign_in(&app, "ada@example.com", FIREFOX_WINDOWS, None).await;
    let b = form_sign_in(&app, "ada@example.com", SAFARI_IPHONE, None).await;
    let c = app.sign_in("ada@example.com").await;
    let bob = form_sign_in(&app, "bob@example.com", FIREFOX_WINDOWS, None).await;
    let t = token(&app, &a).await;
    let r = post(&app, "/sessions/sign_out_others", Some(&a), &[("authenticity_token", &t)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/sessions?notice=signed_out_others&n=2");
    assert!(alive(&app, &a).await);
    assert!(!alive(&app, &b).await);
    assert_401_a(app.me_session(&c).await).await;
    assert!(alive(&app, &bob).await);
    let html = page(&app, "/sessions?notice=signed_out_others&n=2", &a).await;
    assert!(html.contains("Signed out 2 sessions on other devices."));
    assert_eq!(ids_in(&html).len(), 1);
}

// Non-admins get a 403 page on every admin page and form, with the pages' headers.
#[tokio::test]
async fn non_admins_get_a_403_page_on_admin_pages() {
    let app = TestApp::spawn().await;
    app.create_user("agent@example.com", Role::Agent).await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let victim = app.sign_in("ada@example.com").await;
    for email in ["agent@example.com", "ada@example.com"] {
        let tab = form_sign_in(&app, email, FIREFOX_WINDOWS, None).await;
        let r = get(&app, "/admin/sessions", &tab).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email}");
        assert!(header(r.headers(), "content-type").starts_with("text/html"));
        assert_security_headers(&r, "403");
        let html = r.text().await.expect("html");
        assert!(html.contains("This page is for administrators"), "{html}");
        assert!(html.contains("action=\"/access/logout\""), "the sign-out button is there too");
        assert!(!html.contains("All sessions"), "no admin link for non-admins");
        let t = token(&app, &tab).await;
        for path in [
            format!("/admin/sessions/{}/sign_out", victim.session_id),
            format!("/admin/users/{}/sign_out", victim.user_id),
        ] {
            let r = post(&app, &path, Some(&tab), &[("authenticity_token", &t)]).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email} {path}");
            assert!(r.text().await.expect("html").contains("This page is for administrators"));
        }
        assert_eq!(app.me_session(&victim).await.status(), StatusCode::OK, "nothing was signed out");
    }
}

// /admin/sessions: everyone's sessions newest first, paged with the API's own cursors
// (sort=-id), filtered by email (case-insensitive, part of an address, no wildcards).
#[tokio::test]
async fn admin_page_lists_everyone_newest_first_with_api_cursors_and_email_filter() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    app.create_user("bob@other.org", Role::Agent).await;
    let boss = form_sign_in(&app, &admin.email, FIREFOX_WINDOWS, None).await;
    let mut bob_ids = Vec::new();
    for i in 0..6 {
        let email = if i % 2 == 0 { "ada@example.com" } else { "bob@other.org" };
        let b = app.sign_in(email).await;
        if i % 2 == 1 {
            bob_ids.push(b.session_id);
        }
    }
    let boss_id = session_id(&app, &boss).await;
    let mut all: Vec<i64> = (boss_id..boss_id + 7).collect();
    all.reverse();

    // Walk every page through "Older" links: each session once, newest first.
    let first = page(&app, "/admin/sessions?page%5Bsize%5D=3", &boss).await;
    assert_eq!(ids_in(&first), all[..3].to_vec());
    assert!(href_of(&first, "prev").is_none(), "the first page has no newer page");
    let older = unescape(href_of(&first, "next").expect("older link"));
    // The cursor is the API's: the same as meta.after_cursor of GET /api/v2/sessions?sort=-id.
    let (_, api) = status_json(app.as_admin(Method::GET, "/api/v2/sessions?page[size]=3&sort=-id", &admin).await).await;
    let api_cursor = api["meta"]["after_cursor"].as_str().expect("after_cursor");
    assert_eq!(older, format!("/admin/sessions?page%5Bsize%5D=3&page%5Bafter%5D={api_cursor}"));
    let second = page(&app, &older, &boss).await;
    assert_eq!(ids_in(&second), all[3..6].to_vec());
    let third = page(&app, &unescape(href_of(&second, "next").expect("older")), &boss).await;
    assert_eq!(ids_in(&third), all[6..].to_vec());
    assert!(href_of(&third, "next").is_none(), "the last page has no older page");
    // And back through "Newer" links.
    let back = page(&app, &unescape(href_of(&third, "prev").expect("newer")), &boss).await;
    assert_eq!(ids_in(&back), all[3..6].to_vec());
    let back = page(&app, &unescape(href_of(&back, "prev").expect("newer")), &boss).await;
    assert_eq!(ids_in(&back), all[..3].to_vec());
    // An API cursor made with sort=-id works here directly.
    let (_, api) = status_json(
        app.as_admin(Method::GET, &format!("/api/v2/sessions?page[size]=2&sort=-id&page[after]={api_cursor}"), &admin)
            .await,
    )
    .await;
    let api_ids: Vec<i64> =
        api["sessions"].as_array().expect("list").iter().map(|s| s["id"].as_i64().expect("id")).collect();
    let html = page(&app, &format!("/admin/sessions?page[size]=2&page[after]={api_cursor}"), &boss).await;
    assert_eq!(ids_in(&html), api_ids);

    // Each item says whose session it is.
    let html = page(&app, "/admin/sessions", &boss).await;
    assert_eq!(ids_in(&html), all);
    let bob_item = item(&html, bob_ids[0]);
    assert!(bob_item.contains("User bob@other.org") && bob_item.contains("bob@other.org · agent"), "{bob_item}");
    assert!(item(&html, boss_id).contains("This device"));

    // The filter: part of an address, any case; LIKE wildcards are plain characters.
    let mut bob_newest_first = bob_ids.clone();
    bob_newest_first.reverse();
    for filter in ["bob%40other.org", "BOB", "%40OTHER", "+other.org+"] {
        let html = page(&app, &format!("/admin/sessions?email={filter}"), &boss).await;
        assert_eq!(ids_in(&html), bob_newest_first, "{filter}");
    }
    let html = page(&app, "/admin/sessions?email=%25", &boss).await;
    assert!(ids_in(&html).is_empty());
    assert!(html.contains("No sessions of users whose email contains “%”."));
    let html = page(&app, "/admin/sessions?email=o_", &boss).await;
    assert!(ids_in(&html).is_empty(), "_ is not a wildcard");
    // Paging keeps the filter.
    let html = page(&app, "/admin/sessions?email=bob&page%5Bsize%5D=2", &boss).await;
    assert_eq!(ids_in(&html), bob_newest_first[..2].to_vec());
    let older = unescape(href_of(&html, "next").expect("older"));
    assert!(older.starts_with("/admin/sessions?email=bob&page%5Bsize%5D=2&page%5Bafter%5D="), "{older}");
    assert_eq!(ids_in(&page(&app, &older, &boss).await), bob_newest_first[2..].to_vec());

    // Bad paging parameters: a 400 page, never a 500.
    let other_sort = {
        let (_, api) = status_json(app.as_admin(Method::GET, "/api/v2/sessions?page[size]=1", &admin).await).await;
        api["meta"]["after_cursor"].as_str().expect("cursor").to_owned()
    };
    for bad in [
        "page%5Bsize%5D=0",
        "page%5Bsize%5D=abc",
        "page%5Bafter%5D=garbage",
        &format!("page%5Bafter%5D={other_sort}"),
        &format!("page%5Bafter%5D={api_cursor}&page%5Bbefore%5D={api_cursor}"),
    ] {
        let r = get(&app, &format!("/admin/sessions?{bad}"), &boss).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_security_headers(&r, bad);
        assert!(r.text().await.expect("html").contains("That link is not valid"));
    }
}

// An admin signs out one session, or all of a user's, from /admin/sessions, and comes back
// to the same filtered list; return_to cannot leave the admin list.
#[tokio::test]
async fn admin_signs_out_one_session_or_all_of_a_users() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let bob = app.create_user("bob@example.com", Role::Agent).await;
    let boss = form_sign_in(&app, &admin.email, FIREFOX_WINDOWS, None).await;
    let b1 = app.sign_in("bob@example.com").await;
    let b2 = app.sign_in("bob@example.com").await;
    let b3 = app.sign_in("bob@example.com").await;
    let html = page(&app, "/admin/sessions?email=bob", &boss).await;
    let t = token_in(&html);
    assert!(
        html.contains("name=\"return_to\" value=\"&#47;admin&#47;sessions?email=bob\"")
            || html.contains("name=\"return_to\" value=\"/admin/sessions?email=bob\""),
        "{html}"
    );
    assert!(html.contains(&format!("action=\"/admin/users/{}/sign_out\"", bob.id)));

    let r = post(
        &app,
        &format!("/admin/sessions/{}/sign_out", b1.session_id),
        Some(&boss),
        &[("authenticity_token", &t), ("return_to", "/admin/sessions?email=bob")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/admin/sessions?email=bob&notice=signed_out");
    assert_401_a(app.me_session(&b1).await).await;
    assert_eq!(app.me_session(&b2).await.status(), StatusCode::OK);
    let html = page(&app, "/admin/sessions?email=bob&notice=signed_out", &boss).await;
    assert!(html.contains("That session is signed out."));
    assert_eq!(ids_in(&html), vec![b3.session_id, b2.session_id]);

    // Signing out a session that has already gone says so.
    let r = post(
        &app,
        &format!("/admin/sessions/{}/sign_out", b1.session_id),
        Some(&boss),
        &[("authenticity_token", &t), ("return_to", "https://evil.example/admin/sessions")],
    )
    .await;
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/admin/sessions?notice=already_ended");

    let r = post(
        &app,
        &format!("/admin/users/{}/sign_out", bob.id),
        Some(&boss),
        &[("authenticity_token", &t), ("return_to", "/sessions")],
    )
    .await;
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/admin/sessions?notice=signed_out_user&n=2");
    assert_401_a(app.me_session(&b2).await).await;
    assert_401_a(app.me_session(&b3).await).await;
    assert!(alive(&app, &boss).await, "the admin's own session is untouched");
    let html = page(&app, "/admin/sessions?notice=signed_out_user&n=2", &boss).await;
    assert!(html.contains("Signed out 2 sessions of that person."));

    // Signing out their own user from the admin list signs the admin out here too.
    let r =
        post(&app, &format!("/admin/users/{}/sign_out", admin.id), Some(&boss), &[("authenticity_token", &t)]).await;
    assert_eq!(header(r.headers(), LOCATION.as_str()), "/access/login");
    assert!(!alive(&app, &boss).await);
}

// A user named <script>…</script>, a hostile user agent and a hostile filter render as text.
#[tokio::test]
async fn hostile_names_and_user_agents_render_inert() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let hash = app.state.hash_password(PASSWORD.into()).await.expect("hash");
    app.state
        .store
        .create_user(
            sessiond::store::NewUser {
                name: "<script>alert(1)</script>".into(),
                email: "mallory@example.com".into(),
                role: Role::EndUser,
                password_hash: Some(hash),
            },
            app.clock_now(),
        )
        .await
        .expect("user");
    let mallory = form_sign_in(&app, "mallory@example.com", HOSTILE_UA, None).await;
    form_sign_in(&app, "mallory@example.com", "</details></code><script>alert(4)</script>", None).await;
    let boss = form_sign_in(&app, &admin.email, FIREFOX_WINDOWS, None).await;
    let pages = [
        page(&app, "/sessions", &mallory).await,
        page(&app, "/", &mallory).await,
        page(&app, "/admin/sessions", &boss).await,
        page(&app, "/admin/sessions?email=%3Cscript%3Ealert(5)%3C%2Fscript%3E%22%3E", &boss).await,
        page(&app, "/admin/sessions?email=mallory", &boss).await,
    ];
    for (i, html) in pages.iter().enumerate() {
        let lower = html.to_lowercase();
        assert!(!lower.contains("<script"), "page {i} carries a script tag: {html}");
        assert!(!lower.contains("<img"), "page {i}");
        assert!(!lower.contains("onerror=alert(3)>"), "page {i}: markup broke out");
    }
    // Shown, as text, where they belong.
    assert!(
        pages[0].contains("Signed in as <strong>&#60;script&#62;alert(1)&#60;/script&#62;</strong>"),
        "{}",
        pages[0]
    );
    assert!(pages[0].contains("&#60;img src=x onerror=alert(3)&#62;"), "the raw user agent is shown escaped");
    assert!(pages[4].contains("<h2>&#60;script&#62;alert(1)&#60;/script&#62;</h2>"));
    assert!(pages[3].contains("value=\"&#60;script&#62;alert(5)&#60;/script&#62;&#34;&#62;\""), "{}", pages[3]);
}

// Every page and every redirect between pages: the security headers and no-store, so the
// back button after signing out refetches (and is bounced) instead of showing the page.
#[tokio::test]
async fn every_page_sends_security_headers_and_no_store() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let boss = form_sign_in(&app, &admin.email, FIREFOX_WINDOWS, None).await;
    let ada = form_sign_in(&app, "ada@example.com", FIREFOX_WINDOWS, None).await;
    let t = token(&app, &ada).await;
    let responses = [
        ("login", app.http.get(app.url("/access/login")).send().await.expect("login")),
        ("home", get(&app, "/", &ada).await),
        ("sessions", get(&app, "/sessions", &ada).await),
        ("admin", get(&app, "/admin/sessions", &boss).await),
        ("403", get(&app, "/admin/sessions", &ada).await),
        ("400", get(&app, "/sessions?page%5Bsize%5D=0", &ada).await),
        ("csrf", post(&app, "/sessions/sign_out_others", Some(&ada), &[]).await),
        ("redirect", app.http.get(app.url("/sessions")).send().await.expect("redirect")),
        ("form", post(&app, "/sessions/sign_out_others", Some(&ada), &[("authenticity_token", &t)]).await),
        ("logout refused", post(&app, "/access/logout", Some(&ada), &[("authenticity_token", "forged")]).await),
        ("logout", post(&app, "/access/logout", Some(&ada), &[("authenticity_token", &t)]).await),
    ];
    for (what, r) in responses {
        assert_security_headers(&r, what);
        if r.status() != StatusCode::SEE_OTHER {
            let html = r.text().await.expect("html");
            // Nothing the CSP would block: no inline style or script, one stylesheet of ours.
            assert!(!html.contains("<style") && !html.contains(" style=") && !html.contains("<script"), "{what}");
            assert!(html.contains("<link rel=\"stylesheet\" href=\"/assets/style.css\">"), "{what}");
            assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
            assert!(html.contains("<html lang=\"en\">"));
        }
    }
    // The back button after sign-out: the page is fetched again, and bounced.
    let r = get(&app, "/sessions", &ada).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let css = app.http.get(app.url("/assets/style.css")).send().await.expect("css");
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(header(css.headers(), "content-type"), "text/css; charset=utf-8");
    assert_eq!(header(css.headers(), "x-content-type-options"), "nosniff");
    assert!(css.text().await.expect("css").contains(".visually-hidden"));
}

// The sign-in form: a clear error, the email kept, return_to kept, fields marked invalid.
#[tokio::test]
async fn failed_sign_in_keeps_the_email_and_return_to() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", Role::EndUser).await;
    let r = app
        .http
        .post(app.url("/access/login"))
        .form(&[("email", "ada@example.com"), ("password", "wrong"), ("return_to", "/admin/sessions?email=x")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(&r, "failed sign-in");
    let html = r.text().await.expect("html");
    assert!(html.contains("<p class=\"error\" role=\"alert\" id=\"login-error\">That email and password did not match an active account.</p>"));
    assert!(
        html.contains("value=\"ada@example.com\" aria-invalid=\"true\" aria-describedby=\"login-error\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"return_to\" value=\"&#47;admin&#47;sessions?email=x\"")
            || html.contains("name=\"return_to\" value=\"/admin/sessions?email=x\""),
        "{html}"
    );
    assert!(
        html.contains("<label for=\"email\">Email</label>")
            && html.contains("<label for=\"password\">Password</label>")
    );
    // A foreign return_to is dropped, not kept.
    let r = app
        .http
        .post(app.url("/access/login"))
        .form(&[("email", "ada@example.com"), ("password", "wrong"), ("return_to", "https://evil.example/")])
        .send()
        .await
        .expect("post");
    assert!(r.text().await.expect("html").contains("name=\"return_to\" value=\"\""));
}

// X-Forwarded-For decides the stored client address only when the peer is a trusted proxy.
#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let trusted = TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    trusted.create_user("ada@example.com", Role::EndUser).await;
    let tab = form_sign_in(&trusted, "ada@example.com", FIREFOX_WINDOWS, Some("198.51.100.7, 203.0.113.9")).await;
    let html = page(&trusted, "/sessions", &tab).await;
    assert!(html.contains("<dd>203.0.113.9</dd>"), "the hop our proxy saw, not the one the client wrote");
    assert!(!html.contains("198.51.100.7"));

    let untrusted = TestApp::spawn_with(|c| c.trusted_proxies = vec!["10.0.0.1".parse().expect("ip")]).await;
    untrusted.create_user("ada@example.com", Role::EndUser).await;
    let tab = form_sign_in(&untrusted, "ada@example.com", FIREFOX_WINDOWS, Some("203.0.113.9")).await;
    let html = page(&untrusted, "/sessions", &tab).await;
    assert!(html.contains("<dd>127.0.0.1</dd>") && !html.contains("203.0.113.9"), "a client cannot pick its address");
}

// `serve --trusted-proxy ADDR` (repeatable, comma lists) and SESSIOND_TRUSTED_PROXIES.
#[tokio::test]
async fn trusted_proxies_come_from_flags_and_environment() {
    let test_db = crate::common::test_db().await;
    let db = test_db.url.clone();
    let out = sessiond(
        &db,
        &["user", "add", "--email", "ada@example.com", "--name", "Ada", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let address_seen = |base: String, xff: &'static str| {
        let http = http.clone();
        async move {
            let tab = form_sign_in_at(&http, &base, "ada@example.com", FIREFOX_WINDOWS, Some(xff)).await;
            let html = http
                .get(format!("{base}/sessions"))
                .header(COOKIE, &tab.cookie)
                .send()
                .await
                .expect("page")
                .text()
                .await
                .expect("html");
            let at = html.find("aria-current=\"true\"").expect("this device");
            let dd = html[at..].split("<dt>Address</dt><dd>").nth(1).expect("address");
            dd.split('<').next().expect("text").to_owned()
        }
    };
    let server = Server::start_with(&db, &["--trusted-proxy", "10.0.0.1", "--trusted-proxy", "127.0.0.1"]);
    assert_eq!(address_seen(server.base.clone(), "203.0.113.1").await, "203.0.113.1");
    drop(server);
    let server = Server::start_with(&db, &["--trusted-proxy", "10.0.0.1,::1"]);
    assert_eq!(address_seen(server.base.clone(), "203.0.113.2").await, "127.0.0.1");
    drop(server);
    let server = Server::start_with_env(&db, &[], &[("SESSIOND_TRUSTED_PROXIES", "10.0.0.1,127.0.0.1")]);
    assert_eq!(address_seen(server.base.clone(), "203.0.113.3").await, "203.0.113.3");
    drop(server);
    let out = std::process::Command::new(crate::support::process::BIN)
        .args(["serve", "--trusted-proxy", "not-an-address"])
        .env("SESSIOND_DATABASE_URL", &db)
        .output()
        .expect("run");
    assert!(!out.status.success());
}
