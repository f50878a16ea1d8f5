//! Expiry and activity (SPEC §6), walked across every boundary with the injected clock.
//!
//! The rule (src/domain/session.rs): a session is alive while
//! `last_seen_at > now - timeout*60 - activity_resolution` (the resolution is grace [E-15]),
//! and, for team members when the maximum duration is enabled, while
//! `authenticated_at > now - maximum_session_duration*60` [E-16].

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sessiond::domain::{Role, SecuritySettings, User};

/// Default activity resolution (seconds).
const RES: i64 = 60;
/// Default idle timeouts (seconds), without the grace.
const AGENT_IDLE: i64 = 60 * 60;
const END_USER_IDLE: i64 = 480 * 60;

async fn put_settings(app: &TestApp, s: SecuritySettings) {
    app.state.store.put_security_settings(s).await.expect("put settings");
}

fn max_duration(minutes: i64) -> SecuritySettings {
    SecuritySettings { maximum_session_duration: minutes, maximum_session_duration_enabled: true, ..Default::default() }
}

/// Every session id the admin sees (header auth: touches no session).
async fn all_ids(app: &TestApp, admin: &User) -> Vec<i64> {
    let (status, body) = status_json(app.as_admin(Method::GET, "/api/v2/sessions", admin).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sessions"].as_array().expect("sessions").iter().map(|s| s["id"].as_i64().expect("id")).collect()
}

/// Status of the admin's show 3 of this session (touches no session).
async fn admin_show(app: &TestApp, admin: &User, b: &Browser) -> StatusCode {
    let path = format!("/api/v2/users/{}/sessions/{}", b.user_id, b.session_id);
    let (status, body) = status_json(app.as_admin(Method::GET, &path, admin).await).await;
    if status == StatusCode::NOT_FOUND {
        assert_eq!(body, not_found());
    }
    status
}

/// Status of the admin's list 2 for the session's user, and whether it holds the session.
async fn in_user_list(app: &TestApp, admin: &User, b: &Browser) -> bool {
    let path = format!("/api/v2/users/{}/sessions", b.user_id);
    let (status, body) = status_json(app.as_admin(Method::GET, &path, admin).await).await;
    assert_eq!(status, StatusCode::OK);
    body["sessions"].as_array().expect("sessions").iter().any(|s| s["id"] == json!(b.session_id))
}

/// The session's `last_seen_at` as the admin sees it (touches nothing).
async fn last_seen(app: &TestApp, admin: &User, b: &Browser) -> Value {
    let path = format!("/api/v2/users/{}/sessions/{}", b.user_id, b.session_id);
    let (status, body) = status_json(app.as_admin(Method::GET, &path, admin).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session"]["last_seen_at"].clone()
}

/// Asserts the session is visible to the admin in shows and lists.
async fn assert_listed(app: &TestApp, admin: &User, b: &Browser, what: &str) {
    assert_eq!(admin_show(app, admin, b).await, StatusCode::OK, "{what}: show");
    assert!(in_user_list(app, admin, b).await, "{what}: list 2");
    assert!(all_ids(app, admin).await.contains(&b.session_id), "{what}: list 1");
}

/// Asserts the session has ended: its cookie gets 401 A and it is gone from shows and lists.
async fn assert_ended(app: &TestApp, admin: &User, b: &Browser, what: &str) {
    assert_401_a(app.me_session(b).await).await;
    assert_eq!(admin_show(app, admin, b).await, StatusCode::NOT_FOUND, "{what}: show");
    assert!(!in_user_list(app, admin, b).await, "{what}: list 2");
    assert!(!all_ids(app, admin).await.contains(&b.session_id), "{what}: list 1");
}

/// Walks one idle boundary: two sessions signed in at T0 with no activity since. One second
/// before `end` both are listed and the first one's cookie still works; at `end` the
/// second has ended everywhere.
async fn walk_idle_boundary(role: Role, end: i64) {
    let app = TestApp::spawn().await;
    let admin = app.create_user("admin@example.com", Role::Admin).await;
    let who = app.create_user("who@example.com", role).await;
    let a = app.sign_in(&who.email).await;
    let b = app.sign_in(&who.email).await;

    app.clock.set(T0 + end - 1);
    assert_listed(&app, &admin, &a, "a, 1 s before").await;
    assert_listed(&app, &admin, &b, "b, 1 s before").await;
    assert_eq!(app.me_session(&a).await.status(), StatusCode::OK, "{role:?}: 1 s before the idle end");

    app.clock.set(T0 + end);
    assert_ended(&app, &admin, &b, "b, at the idle end").await;
    // `a` was active one second ago, so it lives on.
    assert_eq!(app.me_session(&a).await.status(), StatusCode::OK);
    app.clock.set(T0 + end + 1);
    assert_ended(&app, &admin, &b, "b, 1 s after").await;
    assert_eq!(app.me_session(&a).await.status(), StatusCode::OK);
}

// [§6 idle] [E-15] agents idle out after agent_session_timeout (+ the resolution's grace).
#[tokio::test]
async fn agent_sessions_idle_out_at_the_agent_timeout() {
    walk_idle_boundary(Role::Agent, AGENT_IDLE + RES).await;
}

// [§6 idle] [E-15] [E-16] admins are team members: the agent timeout applies to them too.
#[tokio::test]
async fn admin_sessions_idle_out_at_the_agent_timeout() {
    walk_idle_boundary(Role::Admin, AGENT_IDLE + RES).await;
}

// [§6 idle] [E-15] end users idle out after end_user_session_timeout, not the agent one.
#[tokio::test]
async fn end_user_sessions_idle_out_at_the_end_user_timeout() {
    walk_idle_boundary(Role::EndUser, END_USER_IDLE + RES).await;
}

// [§6 idle] the two kinds side by side: at the agent boundary the end user's session is untouched.
#[tokio::test]
async fn idle_timeouts_depend_on_the_kind_of_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a = app.sign_in(&agent.email).await;
    let u = app.sign_in(&user.email).await;
    app.clock.set(T0 + AGENT_IDLE + RES);
    assert_ended(&app, &admin, &a, "agent").await;
    assert_listed(&app, &admin, &u, "end user").await;
    assert_eq!(app.me_session(&u).await.status(), StatusCode::OK);
}

// [§6] [E-16] activity keeps a session alive indefinitely (no maximum duration by default), and the
// idle clock restarts at the last recorded activity.
#[tokio::test]
async fn activity_keeps_a_session_alive_and_restarts_the_idle_clock() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a = app.sign_in(&agent.email).await;
    // Every 50 minutes for 24 hours: well past the 720-minute maximum, which is disabled.
    let mut t = T0;
    while t < T0 + 24 * 3600 {
        t += 50 * 60;
        app.clock.set(t);
        assert_eq!(app.me_session(&a).await.status(), StatusCode::OK, "at +{}", t - T0);
    }
    // Now idle: alive one second before the end, ended at it.
    app.clock.set(t + AGENT_IDLE + RES - 1);
    assert_listed(&app, &admin, &a, "1 s before").await;
    app.clock.set(t + AGENT_IDLE + RES);
    assert_ended(&app, &admin, &a, "at the end").await;
}

// [E-16] the maximum session duration ends team members' sessions however active they are.
#[tokio::test]
async fn maximum_duration_ends_active_team_member_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    put_settings(&app, max_duration(120)).await;
    for role in [Role::Agent, Role::Admin] {
        app.clock.set(T0);
        let who = app.create_user(&format!("{}-max@example.com", role.as_str()), role).await;
        let s = app.sign_in(&who.email).await;
        let other = app.sign_in(&who.email).await;
        // Active every 30 minutes, so the idle timeout never bites.
        for t in [1800, 3600, 5400, 7199] {
            app.clock.set(T0 + t);
            assert_eq!(app.me_session(&s).await.status(), StatusCode::OK, "{role:?} at +{t}");
        }
        assert_listed(&app, &admin, &s, "1 s before the maximum").await;
        app.clock.set(T0 + 7200);
        assert_ended(&app, &admin, &s, "at the maximum").await;
        assert_ended(&app, &admin, &other, "the other session, same sign-in time").await;
        // A renew does not extend it either.
        assert_401_a(app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &s).await).await;
    }
    // A session signed in later runs its own clock.
    app.clock.set(T0 + 7200);
    let late = app.sign_in(&admin.email).await;
    app.clock.set(T0 + 7200 + 3600);
    assert_eq!(app.me_session(&late).await.status(), StatusCode::OK);
    app.clock.set(T0 + 7200 + 7200);
    assert_ended(&app, &admin, &late, "late session at its own maximum").await;
}

// [E-16] the maximum duration does not apply to end users.
#[tokio::test]
async fn maximum_duration_does_not_apply_to_end_users() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    put_settings(&app, max_duration(120)).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let u = app.sign_in(&user.email).await;
    let a = app.sign_in(&agent.email).await;
    for t in [1800, 3600, 5400, 7199] {
        app.clock.set(T0 + t);
        assert_eq!(app.me_session(&u).await.status(), StatusCode::OK);
        assert_eq!(app.me_session(&a).await.status(), StatusCode::OK);
    }
    app.clock.set(T0 + 7200);
    assert_ended(&app, &admin, &a, "agent at the maximum").await;
    for t in [7200, 9000, 10_800, 12_600, 14_400] {
        app.clock.set(T0 + t);
        assert_listed(&app, &admin, &u, "end user past the maximum").await;
        assert_eq!(app.me_session(&u).await.status(), StatusCode::OK, "end user at +{t}");
    }
}

// [C-41] a settings change applies to a live session at its next request: shortening ends it.
#[tokio::test]
async fn shortened_timeouts_apply_at_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let a = app.sign_in(&agent.email).await;
    let u = app.sign_in(&user.email).await;

    // 20 minutes idle: alive under the defaults.
    app.clock.set(T0 + 1200);
    assert_listed(&app, &admin, &a, "agent before the change").await;
    put_settings(&app, SecuritySettings { agent_session_timeout: 10, ..Default::default() }).await;
    assert_ended(&app, &admin, &a, "agent after shortening to 10 min").await;
    assert_eq!(app.me_session(&u).await.status(), StatusCode::OK, "the agent setting leaves end users alone");

    // End users likewise (u was just active at T0 + 1200): 30 minutes and the grace later.
    app.clock.set(T0 + 1200 + 1800 + RES);
    assert_listed(&app, &admin, &u, "end user before the change").await;
    put_settings(
        &app,
        SecuritySettings { agent_session_timeout: 10, end_user_session_timeout: 30, ..Default::default() },
    )
    .await;
    assert_ended(&app, &admin, &u, "end user after shortening to 30 min").await;
}

// [C-41] enabling the maximum duration ends long-lived team sessions at their next request.
#[tokio::test]
async fn enabling_the_maximum_duration_applies_at_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a = app.sign_in(&agent.email).await;
    for t in [1800, 3600, 5400] {
        app.clock.set(T0 + t);
        assert_eq!(app.me_session(&a).await.status(), StatusCode::OK);
    }
    put_settings(&app, max_duration(120)).await;
    assert_eq!(app.me_session(&a).await.status(), StatusCode::OK, "90 minutes old: within 120");
    put_settings(&app, max_duration(60)).await;
    assert_ended(&app, &admin, &a, "90 minutes old, maximum now 60").await;
}

// [C-41] lengthening applies too: a live session outlives the old timeout.
#[tokio::test]
async fn lengthened_timeouts_apply_to_live_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a = app.sign_in(&agent.email).await;
    let control = app.sign_in(&agent.email).await;

    // Lengthened to 120 minutes half an hour in, with no request from either session.
    app.clock.set(T0 + 1800);
    put_settings(&app, SecuritySettings { agent_session_timeout: 120, ..Default::default() }).await;
    // Under the old settings both would be gone at +3660 (see the boundary tests); not now.
    app.clock.set(T0 + AGENT_IDLE + RES + 1);
    assert_listed(&app, &admin, &control, "idle 61 min with a 120 min timeout").await;
    assert_eq!(app.me_session(&a).await.status(), StatusCode::OK);
    // And the new boundary holds: 120 min + grace.
    app.clock.set(T0 + 120 * 60 + RES - 1);
    assert_listed(&app, &admin, &control, "1 s before the new end").await;
    app.clock.set(T0 + 120 * 60 + RES);
    assert_ended(&app, &admin, &control, "at the new end").await;
}

// [C-42] 1,000 authenticated requests within the activity resolution write last_seen_at at
// most once; a request after the resolution writes again and moves it.
#[tokio::test]
async fn last_seen_at_is_written_at_most_once_per_resolution() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a = app.sign_in(&agent.email).await;
    let paths = [
        "/api/v2/users/me/session".to_owned(),
        "/api/v2/sessions".to_owned(),
        "/api/v2/users/me/sessions".to_owned(),
        format!("/api/v2/users/me/sessions/{}", a.session_id),
        format!("/api/v2/users/{}/sessions", agent.id),
    ];

    // Inside the first resolution after sign-in: no write at all.
    let w0 = app.store_writes();
    app.clock.set(T0 + 30);
    for p in &paths {
        assert_eq!(app.as_browser(Method::GET, p, &a).await.status(), StatusCode::OK);
    }
    assert_eq!(app.store_writes(), w0, "reads inside the resolution write nothing");
    assert_eq!(last_seen(&app, &admin, &a).await, json!("2023-11-14T22:13:20Z"));

    // 1,000 requests spread over one resolution (T0+61 … T0+120): the first alone, then
    // 999 in batches of 9 running concurrently.
    let start = T0 + RES + 1;
    app.clock.set(start);
    assert_eq!(app.me_session(&a).await.status(), StatusCode::OK);
    for batch in 0..111_i64 {
        app.clock.set(start + batch * (RES - 1) / 110);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..9 {
            let url = app.url(&paths[(batch as usize + i) % paths.len()]);
            let (http, cookie) = (app.http.clone(), a.cookie.clone());
            set.spawn(async move {
                http.get(url).header(reqwest::header::COOKIE, cookie).send().await.expect("request").status()
            });
        }
        for status in set.join_all().await {
            assert_eq!(status, StatusCode::OK);
        }
    }
    assert_eq!(app.clock_now(), T0 + 2 * RES, "the last batch ran 59 s after the first request");
    let writes = app.store_writes() - w0;
    assert!(writes <= 1, "1,000 requests in one resolution wrote last_seen_at {writes} times");
    assert_eq!(writes, 1, "the first request after the resolution records activity");
    assert_eq!(last_seen(&app, &admin, &a).await, json!("2023-11-14T22:14:21Z"), "moved to T0+61");

    // Past the resolution: the next request writes and moves last_seen_at.
    app.clock.set(start + RES);
    let (s, body) = status_json(app.me_session(&a).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.store_writes() - w0, 2);
    assert_eq!(body["session"]["last_seen_at"], json!("2023-11-14T22:15:21Z"));
    assert_eq!(last_seen(&app, &admin, &a).await, json!("2023-11-14T22:15:21Z"));
}

// [C-42] the sequential first request is not needed: a burst arriving all at once, when the
// stored value has just gone stale, still writes at most once (the activity gate of
// src/api/activity.rs; without it 50 requests wrote 30-50 times).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_burst_writes_last_seen_at_at_most_once() {
    let app = TestApp::spawn().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a = app.sign_in(&agent.email).await;
    app.clock.set(T0 + RES + 1);
    let w0 = app.store_writes();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (http, url, cookie) = (app.http.clone(), app.url("/api/v2/users/me/session"), a.cookie.clone());
        set.spawn(async move {
            http.get(url).header(reqwest::header::COOKIE, cookie).send().await.expect("request").status()
        });
    }
    for status in set.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
    let writes = app.store_writes() - w0;
    assert!(writes <= 1, "a burst of 50 requests wrote last_seen_at {writes} times");
}

// [E-15] idle time counts from the last request to within the resolution: a session never
// ends before it has really been idle for the timeout, and outlives it by at most the
// resolution. Renew records activity at once.
#[tokio::test]
async fn idle_grace_is_at_most_the_activity_resolution() {
    const R: i64 = 300;
    let app = TestApp::spawn_with(|c| c.activity_resolution = R).await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let a = app.sign_in(&agent.email).await; // last request at T0 + R - 1, not recorded
    let b = app.sign_in(&agent.email).await; // no request after sign-in
    let c = app.sign_in(&agent.email).await; // renewed at T0 + 100

    app.clock.set(T0 + R - 1);
    let (_, body) = status_json(app.me_session(&a).await).await;
    assert_eq!(body["session"]["last_seen_at"], json!("2023-11-14T22:13:20Z"), "not recorded within the resolution");
    app.clock.set(T0 + 100);
    assert_eq!(app.as_browser(Method::GET, "/api/v2/users/me/session/renew", &c).await.status(), StatusCode::OK);
    assert_eq!(last_seen(&app, &admin, &c).await, json!("2023-11-14T22:15:00Z"), "renew recorded at once");

    // a: really idle for one second less than the timeout: must be alive.
    app.clock.set(T0 + R - 1 + AGENT_IDLE - 1);
    assert_listed(&app, &admin, &a, "a before its real idle timeout").await;
    // b: its last request was sign-in at T0; the grace ends exactly R after the timeout.
    app.clock.set(T0 + AGENT_IDLE + R - 1);
    assert_listed(&app, &admin, &b, "b within the grace").await;
    app.clock.set(T0 + AGENT_IDLE + R);
    assert_ended(&app, &admin, &b, "b: timeout + resolution, never more").await;
    assert_ended(&app, &admin, &a, "a: stored last_seen_at T0 + timeout + resolution").await;
    // c's idle clock started at the renew, not at sign-in.
    assert_listed(&app, &admin, &c, "c after the renew").await;
    app.clock.set(T0 + 100 + AGENT_IDLE + R - 1);
    assert_listed(&app, &admin, &c, "c 1 s before its end").await;
    app.clock.set(T0 + 100 + AGENT_IDLE + R);
    assert_ended(&app, &admin, &c, "c at its end").await;
}

// [§6 sweeper] the sweeper deletes ended sessions in bounded batches and leaves live ones (including
// sessions inside the grace) alone.
#[tokio::test]
async fn sweeper_deletes_ended_sessions_in_bounded_batches() {
    let app = TestApp::spawn_with(|c| {
        c.sweep_batch = 3;
        c.sweep_interval = 24 * 3600;
    })
    .await;
    let admin = app.admin().await;
    let agent = app.create_user("agent@example.com", Role::Agent).await;
    let agent2 = app.create_user("agent2@example.com", Role::Agent).await;
    let user = app.create_user("user@example.com", Role::EndUser).await;
    let mut ended = Vec::new();
    for i in 0..7 {
        let email = if i % 2 == 0 { &agent.email } else { &agent2.email };
        ended.push(app.sign_in(email).await);
    }
    let end_user = app.sign_in(&user.email).await;
    app.clock.set(T0 + 1);
    let in_grace = app.sign_in(&agent.email).await;
    app.clock.set(T0 + 3000);
    let fresh = app.sign_in(&agent2.email).await;

    // Nothing has ended yet: a sweep deletes nothing.
    assert_eq!(sessiond::server::sweep_once(&app.state).await.expect("sweep"), 0);

    app.clock.set(T0 + AGENT_IDLE + RES);
    let writes_before = app.state.store.metrics().writes.load(std::sync::atomic::Ordering::SeqCst);
    let swept = sessiond::server::sweep_once(&app.state).await.expect("sweep");
    let statements = app.state.store.metrics().writes.load(std::sync::atomic::Ordering::SeqCst) - writes_before;
    assert_eq!(swept, 7);
    assert_eq!(statements, 3, "7 ended sessions in batches of 3: 3 + 3 + 1");

    for b in &ended {
        assert!(
            app.state.store.session_by_id(b.session_id).await.expect("read").is_none(),
            "row {} deleted",
            b.session_id
        );
    }
    for b in [&end_user, &in_grace, &fresh] {
        assert!(
            app.state.store.session_by_id(b.session_id).await.expect("read").is_some(),
            "row {} kept",
            b.session_id
        );
    }
    let mut live = all_ids(&app, &admin).await;
    live.sort_unstable();
    assert_eq!(live, vec![end_user.session_id, in_grace.session_id, fresh.session_id]);
    for b in [&end_user, &in_grace, &fresh] {
        assert_eq!(app.me_session(b).await.status(), StatusCode::OK);
    }
    // Deleted means deleted: a longer timeout cannot bring them back.
    put_settings(&app, SecuritySettings { agent_session_timeout: 20160, ..Default::default() }).await;
    for b in &ended {
        assert_401_a(app.me_session(b).await).await;
    }
    assert_eq!(sessiond::server::sweep_once(&app.state).await.expect("sweep"), 0);

    // Exactly one batch's worth: the sweep still finishes (3 + 0).
    put_settings(&app, SecuritySettings::default()).await;
    app.clock.set(T0 + 100_000);
    let left = all_ids(&app, &admin).await.len();
    assert_eq!(left, 0, "every agent session idle, the end user idle past 480 min");
    assert_eq!(sessiond::server::sweep_once(&app.state).await.expect("sweep"), 3);
}

// Nothing is resurrected: a session that ended under the old settings stays ended when an
// admin raises the timeout (ended sessions are deleted before the change applies, and a
// refused cookie's session is deleted at once).
#[tokio::test]
async fn raising_a_timeout_does_not_bring_ended_sessions_back() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user("agent@example.com", Role::Agent).await;
    let untouched = app.sign_in("agent@example.com").await;
    let refused = app.sign_in("agent@example.com").await;
    app.clock.advance(60 * 60 + 60 + 1);
    assert_401_a(app.me_session(&refused).await).await;
    let r = app
        .http
        .put(app.url("/api/v2/security_settings"))
        .header("authorization", basic(&admin.email, PASSWORD))
        .json(&serde_json::json!({"security_settings": {"agent_session_timeout": 20160}}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_401_a(app.me_session(&untouched).await).await;
    assert_401_a(app.me_session(&refused).await).await;
    for b in [&untouched, &refused] {
        assert!(app.state.store.session_by_id(b.session_id).await.expect("read").is_none());
    }
    // A session signed in now lives by the new, longer timeout.
    let fresh = app.sign_in("agent@example.com").await;
    app.clock.advance(2 * 60 * 60);
    assert_eq!(app.me_session(&fresh).await.status(), reqwest::StatusCode::OK);
}
