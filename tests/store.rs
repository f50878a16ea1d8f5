//! The storage suite: the same tests, unchanged, against SQLite and PostgreSQL. Each test is
//! a plain async function taking a fresh store; `store_tests!` expands it once per engine.

#[path = "support/mod.rs"]
mod support;

use sessiond::domain::secret::{TokenDigest, new_secret};
use sessiond::domain::{Cutoffs, Role, SecuritySettings};
use sessiond::store::{
    self, Keyset, NewSession, NewUser, Position, Scope, SeedSession, SessionFilter, SharedStore, Sort, SortKey,
    StoreError, UserPatch,
};
use support::{Engine, TestDb};

const ALL: Cutoffs = Cutoffs { team_idle: i64::MIN, end_user_idle: i64::MIN, team_max_duration: i64::MIN };

async fn user(store: &SharedStore, email: &str, role: Role) -> sessiond::domain::User {
    store
        .create_user(NewUser { name: "N".into(), email: email.into(), role, password_hash: Some("x".into()) }, 100)
        .await
        .expect("create user")
}

async fn session(store: &SharedStore, user_id: i64, at: i64) -> (sessiond::domain::Session, TokenDigest) {
    let s = new_secret();
    let new = NewSession {
        user_id,
        token: s.digest,
        csrf_secret: [7; 32],
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        created_via: "password",
        checked_password_hash: None,
    };
    (store.create_session(new, at).await.expect("create session"), s.digest)
}

async fn users_are_unique_by_email(store: SharedStore) {
    let a = user(&store, "a@x.io", Role::Admin).await;
    assert!(a.id > 0);
    let err = store
        .create_user(NewUser { name: "B".into(), email: "a@x.io".into(), role: Role::Agent, password_hash: None }, 1)
        .await;
    assert!(matches!(err, Err(StoreError::Conflict("email"))), "{err:?}");
    let (found, hash) = store.user_by_email("a@x.io").await.expect("lookup").expect("found");
    assert_eq!(found, a);
    assert_eq!(hash.as_deref(), Some("x"));
    assert!(store.user_by_email("b@x.io").await.expect("lookup").is_none());
    assert_eq!(store.count_users().await.expect("count"), 1);
}

async fn concurrent_duplicate_creates_admit_one(store: SharedStore) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_user(
                    NewUser {
                        name: format!("U{i}"),
                        email: "race@x.io".into(),
                        role: Role::EndUser,
                        password_hash: None,
                    },
                    1,
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn sessions_are_found_by_token_digest_only(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::Agent).await;
    let (s, digest) = session(&store, u.id, 1000).await;
    let (auth, found_user, settings) = store.session_by_token(&digest).await.expect("lookup").expect("found");
    assert_eq!(auth.session, s);
    assert_eq!(auth.csrf_secret, vec![7; 32]);
    assert_eq!(found_user.id, u.id);
    assert_eq!(settings, SecuritySettings::default());
    assert!(store.session_by_token(&TokenDigest::of("other")).await.expect("lookup").is_none());
    let (by_id, role) = store.session_by_id(s.id).await.expect("lookup").expect("found");
    assert_eq!((by_id, role), (s.clone(), Role::Agent));
    // Ids only grow.
    let (s2, _) = session(&store, u.id, 1000).await;
    assert!(s2.id > s.id);
}

async fn sessions_need_the_password_that_was_checked(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::Agent).await;
    let new = |checked: Option<&str>| NewSession {
        user_id: u.id,
        token: new_secret().digest,
        csrf_secret: [1; 32],
        ip: None,
        user_agent: None,
        created_via: "password",
        checked_password_hash: checked.map(str::to_owned),
    };
    // `user()` stores the hash "x".
    assert!(store.create_session(new(Some("x")), 1).await.is_ok());
    // The password changed after the check: no session.
    let stale = store.create_session(new(Some("old")), 1).await;
    assert!(matches!(stale, Err(StoreError::Conflict("password"))), "{stale:?}");
    // Suspended after the check: no session.
    store.update_user(u.id, UserPatch { suspended: Some(true), ..Default::default() }).await.expect("suspend");
    let suspended = store.create_session(new(Some("x")), 1).await;
    assert!(matches!(suspended, Err(StoreError::Conflict("password"))), "{suspended:?}");
    assert_eq!(store.count_active_admins().await.expect("count"), 0);
}

async fn touch_only_moves_forward(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::Agent).await;
    let (s, _) = session(&store, u.id, 1000).await;
    store.touch_session(s.id, 2000).await.expect("touch");
    store.touch_session(s.id, 1500).await.expect("touch");
    let (after, _) = store.session_by_id(s.id).await.expect("lookup").expect("found");
    assert_eq!(after.last_seen_at, 2000);
    assert_eq!(after.authenticated_at, 1000);
}

async fn deletes_are_scoped_and_counted(store: SharedStore) {
    let a = user(&store, "a@x.io", Role::Agent).await;
    let b = user(&store, "b@x.io", Role::Agent).await;
    let (a1, d1) = session(&store, a.id, 1).await;
    let (a2, _) = session(&store, a.id, 1).await;
    let (b1, _) = session(&store, b.id, 1).await;
    // Restricted to an owner: b's session is not a's to delete.
    assert_eq!(store.delete_sessions(&[a1.id, b1.id], Some(a.id)).await.expect("delete"), 1);
    assert!(store.session_by_token(&d1).await.expect("lookup").is_none());
    assert!(store.delete_session(b1.id).await.expect("delete"));
    assert!(!store.delete_session(b1.id).await.expect("delete"));
    assert_eq!(store.delete_sessions_of_users(&[a.id, b.id]).await.expect("bulk"), 1);
    assert!(store.session_by_id(a2.id).await.expect("lookup").is_none());
    assert_eq!(store.delete_sessions(&[], None).await.expect("empty"), 0);
}

async fn bulk_delete_goes_in_batches_and_leaves_others(store: SharedStore) {
    let a = user(&store, "a@x.io", Role::EndUser).await;
    let b = user(&store, "b@x.io", Role::EndUser).await;
    for _ in 0..1105 {
        session(&store, a.id, 1).await;
    }
    let (keep, _) = session(&store, b.id, 1).await;
    assert_eq!(store.delete_sessions_of_users(&[a.id]).await.expect("bulk"), 1105);
    assert_eq!(store.count_sessions(Scope::User(a.id), ALL).await.expect("count"), 0);
    assert!(store.session_by_id(keep.id).await.expect("lookup").is_some());
}

async fn keyset_pages_walk_every_sort_in_order(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::EndUser).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        // Ties on purpose: authenticated_at repeats, so the id must break them.
        let (s, _) = session(&store, u.id, 100 + (i % 3)).await;
        store.touch_session(s.id, 1000 - i).await.expect("touch");
        ids.push(s.id);
    }
    for key in [SortKey::Id, SortKey::AuthenticatedAt, SortKey::LastSeenAt] {
        for descending in [false, true] {
            let sort = Sort { key, descending };
            let mut expected = Vec::new();
            for id in &ids {
                let (s, _) = store.session_by_id(*id).await.expect("lookup").expect("found");
                expected.push(s);
            }
            expected.sort_by_key(|s| (key.value_of(s), s.id));
            if descending {
                expected.reverse();
            }
            // Forward in pages of 3.
            let mut seen = Vec::new();
            let mut after: Option<Position> = None;
            loop {
                let page = store
                    .list_sessions_keyset(Scope::User(u.id), ALL, Keyset { sort, after, before: None, limit: 3 })
                    .await
                    .expect("page");
                if page.is_empty() {
                    break;
                }
                after = page.last().map(|s| Position { key: key.value_of(s), id: s.id });
                seen.extend(page);
            }
            assert_eq!(seen, expected, "{sort:?}");
            // Backward from the end.
            let mut back = Vec::new();
            let mut before = after;
            loop {
                let page = store
                    .list_sessions_keyset(Scope::User(u.id), ALL, Keyset { sort, after: None, before, limit: 3 })
                    .await
                    .expect("page");
                if page.is_empty() {
                    break;
                }
                before = page.first().map(|s| Position { key: key.value_of(s), id: s.id });
                back.splice(0..0, page);
            }
            assert_eq!(back.len(), expected.len() - 1, "{sort:?}: all but the last, which was the anchor");
            assert_eq!(back[..], expected[..expected.len() - 1], "{sort:?}");
            // Offset agrees with keyset.
            let offset = store.list_sessions_offset(Scope::User(u.id), ALL, sort, 2, 3).await.expect("offset");
            assert_eq!(offset[..], expected[2..5], "{sort:?}");
        }
    }
}

async fn liveness_cutoffs_filter_lists_and_sweeps(store: SharedStore) {
    let agent = user(&store, "a@x.io", Role::Agent).await;
    let end = user(&store, "e@x.io", Role::EndUser).await;
    let (old_agent, _) = session(&store, agent.id, 100).await;
    let (new_agent, _) = session(&store, agent.id, 500).await;
    let (old_end, _) = session(&store, end.id, 100).await;
    let (new_end, _) = session(&store, end.id, 500).await;
    let cut = Cutoffs { team_idle: 200, end_user_idle: 50, team_max_duration: i64::MIN };
    let live = store
        .list_sessions_keyset(Scope::All, cut, Keyset { sort: Sort::default(), after: None, before: None, limit: 10 })
        .await
        .expect("list");
    let live_ids: Vec<i64> = live.iter().map(|s| s.id).collect();
    assert_eq!(live_ids, vec![new_agent.id, old_end.id, new_end.id]);
    assert_eq!(store.count_sessions(Scope::All, cut).await.expect("count"), 3);
    // Maximum duration applies to team members only.
    let cut = Cutoffs { team_idle: i64::MIN, end_user_idle: i64::MIN, team_max_duration: 600 };
    assert_eq!(store.count_sessions(Scope::All, cut).await.expect("count"), 2);
    // The sweeper removes exactly the ended ones, in bounded batches.
    let cut = Cutoffs { team_idle: 200, end_user_idle: 200, team_max_duration: i64::MIN };
    assert_eq!(store.sweep_expired(cut, 1).await.expect("sweep"), 1);
    assert_eq!(store.sweep_expired(cut, 10).await.expect("sweep"), 1);
    assert_eq!(store.sweep_expired(cut, 10).await.expect("sweep"), 0);
    assert!(store.session_by_id(old_agent.id).await.expect("lookup").is_none());
    assert!(store.session_by_id(old_end.id).await.expect("lookup").is_none());
    assert!(store.session_by_id(new_end.id).await.expect("lookup").is_some());
}

async fn session_with(store: &SharedStore, user_id: i64, at: i64, ip: Option<&str>, ua: Option<&str>) -> i64 {
    let new = NewSession {
        user_id,
        token: new_secret().digest,
        csrf_secret: [1; 32],
        ip: ip.map(str::to_owned),
        user_agent: ua.map(str::to_owned),
        created_via: "password",
        checked_password_hash: None,
    };
    store.create_session(new, at).await.expect("create session").id
}

const NEWEST_FIRST: Sort = Sort { key: SortKey::Id, descending: true };

fn page(after: Option<Position>, before: Option<Position>, limit: u32) -> Keyset {
    Keyset { sort: NEWEST_FIRST, after, before, limit }
}

// The pages' list: address, user agent and user with each session; filters by user and by
// part of an email (case-insensitive, LIKE wildcards taken literally); keyset pages both ways.
async fn session_details_carry_device_and_owner_and_filter_by_email(store: SharedStore) {
    let ada = user(&store, "ada@example.com", Role::EndUser).await;
    let bob = user(&store, "bob_1@other.org", Role::Agent).await;
    let a1 = session_with(&store, ada.id, 100, Some("203.0.113.9"), Some("Firefox/128.0 <b>")).await;
    let b1 = session_with(&store, bob.id, 101, Some("2001:db8::1"), None).await;
    let a2 = session_with(&store, ada.id, 102, None, None).await;
    let b2 = session_with(&store, bob.id, 103, None, Some("curl/8")).await;

    let all = store.list_session_details(&SessionFilter::All, ALL, page(None, None, 10)).await.expect("list");
    let ids: Vec<i64> = all.iter().map(|d| d.session.id).collect();
    assert_eq!(ids, vec![b2, a2, b1, a1], "newest first");
    let first = all.iter().find(|d| d.session.id == a1).expect("a1");
    assert_eq!(first.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(first.user_agent.as_deref(), Some("Firefox/128.0 <b>"), "stored as sent");
    assert_eq!(first.user, ada);
    assert_eq!(first.session.authenticated_at, 100);
    let none = all.iter().find(|d| d.session.id == a2).expect("a2");
    assert_eq!((none.ip.as_deref(), none.user_agent.as_deref()), (None, None));

    let ids_of = |v: Vec<sessiond::store::SessionDetail>| v.iter().map(|d| d.session.id).collect::<Vec<_>>();
    let mine = store.list_session_details(&SessionFilter::User(ada.id), ALL, page(None, None, 10)).await.expect("mine");
    assert_eq!(ids_of(mine), vec![a2, a1]);
    for (text, expected) in [
        ("bob_1@other.org", vec![b2, b1]),
        ("OTHER.ORG", vec![b2, b1]),
        ("@example", vec![a2, a1]),
        ("b_1", vec![b2, b1]),
        ("b_", vec![b2, b1]),
        ("a_a", vec![]),
        ("%", vec![]),
        ("!", vec![]),
        ("nobody", vec![]),
    ] {
        let found = store
            .list_session_details(&SessionFilter::EmailContains(text.into()), ALL, page(None, None, 10))
            .await
            .expect("filter");
        assert_eq!(ids_of(found), expected, "{text:?}");
    }

    // Keyset pages: after the second-newest, and back before the oldest.
    let at = |id| Some(Position { key: id, id });
    let older = store.list_session_details(&SessionFilter::All, ALL, page(at(a2), None, 10)).await.expect("after");
    assert_eq!(ids_of(older), vec![b1, a1]);
    let newer = store.list_session_details(&SessionFilter::All, ALL, page(None, at(a1), 2)).await.expect("before");
    assert_eq!(ids_of(newer), vec![a2, b1], "the two just before, in page order");
    // Ended sessions are not listed.
    let cut = Cutoffs { team_idle: 101, end_user_idle: i64::MIN, team_max_duration: i64::MIN };
    let live = store.list_session_details(&SessionFilter::All, cut, page(None, None, 10)).await.expect("live");
    assert_eq!(ids_of(live), vec![b2, a2, a1]);
}

async fn delete_other_sessions_keeps_one_and_spares_other_users(store: SharedStore) {
    let ada = user(&store, "ada@example.com", Role::EndUser).await;
    let bob = user(&store, "bob@example.com", Role::EndUser).await;
    let keep = session_with(&store, ada.id, 1, None, None).await;
    for _ in 0..3 {
        session_with(&store, ada.id, 1, None, None).await;
    }
    let bobs = session_with(&store, bob.id, 1, None, None).await;
    assert_eq!(store.delete_other_sessions(ada.id, keep).await.expect("delete"), 3);
    assert_eq!(store.count_sessions(Scope::User(ada.id), ALL).await.expect("count"), 1);
    assert!(store.session_by_id(keep).await.expect("lookup").is_some());
    assert!(store.session_by_id(bobs).await.expect("lookup").is_some());
    assert_eq!(store.delete_other_sessions(ada.id, keep).await.expect("again"), 0);
    // Keeping a session of someone else keeps nothing of this user's.
    session_with(&store, ada.id, 1, None, None).await;
    assert_eq!(store.delete_other_sessions(ada.id, bobs).await.expect("delete"), 2);
}

async fn suspension_and_password_change_end_sessions(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::Agent).await;
    let (keep, _) = session(&store, u.id, 1).await;
    let (other, _) = session(&store, u.id, 1).await;
    assert!(store.set_password(u.id, "new-hash", Some(keep.id)).await.expect("password"));
    assert!(store.session_by_id(keep.id).await.expect("lookup").is_some());
    assert!(store.session_by_id(other.id).await.expect("lookup").is_none());
    let (_, hash) = store.user_by_email("a@x.io").await.expect("lookup").expect("found");
    assert_eq!(hash.as_deref(), Some("new-hash"));

    let patched = store
        .update_user(u.id, UserPatch { name: Some("Renamed".into()), role: Some(Role::Admin), suspended: Some(true) })
        .await
        .expect("update")
        .expect("found");
    assert_eq!((patched.name.as_str(), patched.role, patched.suspended), ("Renamed", Role::Admin, true));
    assert!(store.session_by_id(keep.id).await.expect("lookup").is_none());
    assert!(store.update_user(9999, UserPatch::default()).await.expect("update").is_none());
}

async fn tokens_resolve_and_go_with_their_user(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::Agent).await;
    let api = new_secret();
    let t = store.create_api_token(u.id, "ci", &api.digest, 5).await.expect("api token");
    let (found, owner) = store.api_token_user(&api.digest).await.expect("lookup").expect("found");
    assert_eq!((found, owner.id), (t.clone(), u.id));
    assert_eq!(store.list_api_tokens(u.id).await.expect("list"), vec![t.clone()]);
    let oauth = new_secret();
    let scopes = vec!["read".to_owned()];
    let o = store.create_oauth_token(u.id, &scopes, &oauth.digest, 5, Some(50)).await.expect("oauth");
    let (found, _) = store.oauth_token_user(&oauth.digest).await.expect("lookup").expect("found");
    assert_eq!(found, o);
    assert!(!store.delete_api_token(t.id, Some(u.id + 1)).await.expect("delete"), "not the owner");
    let (s, digest) = session(&store, u.id, 1).await;
    let deleted = store.delete_user(u.id).await.expect("delete").expect("found");
    assert_eq!(deleted.id, u.id);
    assert!(store.api_token_user(&api.digest).await.expect("lookup").is_none());
    assert!(store.oauth_token_user(&oauth.digest).await.expect("lookup").is_none());
    assert!(store.session_by_token(&digest).await.expect("lookup").is_none());
    assert!(store.session_by_id(s.id).await.expect("lookup").is_none());
    assert!(store.delete_user(u.id).await.expect("delete").is_none());
}

async fn settings_round_trip(store: SharedStore) {
    assert_eq!(store.security_settings().await.expect("get"), SecuritySettings::default());
    let s = SecuritySettings {
        agent_session_timeout: 5,
        end_user_session_timeout: 6,
        maximum_session_duration: 7,
        maximum_session_duration_enabled: true,
    };
    store.put_security_settings(s).await.expect("put");
    assert_eq!(store.security_settings().await.expect("get"), s);
}

async fn migrations_are_idempotent_on_reopen(store: SharedStore) {
    user(&store, "a@x.io", Role::Admin).await;
    store.ping().await.expect("ping");
}

/// The live count comes from trigger-kept totals minus the ended rows not yet swept; it must
/// equal a plain count of live rows through inserts, bulk inserts, deletes and cascades.
async fn live_counts_follow_every_insert_and_delete(store: SharedStore) {
    let agent = user(&store, "a@x.io", Role::Agent).await;
    let end = user(&store, "e@x.io", Role::EndUser).await;
    let gone = user(&store, "g@x.io", Role::EndUser).await;
    for at in [100, 300, 500] {
        session(&store, agent.id, at).await;
        session(&store, end.id, at).await;
    }
    let seeded = (0..50)
        .map(|i| SeedSession {
            user_id: if i % 2 == 0 { end.id } else { gone.id },
            token: TokenDigest([i as u8; 32]),
            csrf_secret: [1; 32],
            authenticated_at: 50 + i,
            last_seen_at: 150 + i * 10,
            ip: None,
            user_agent: None,
        })
        .collect();
    assert_eq!(store.bulk_insert_sessions(seeded).await.expect("bulk"), 50);
    let plain = |cut: Cutoffs| {
        let store = store.clone();
        async move {
            let mut n = 0;
            let mut after = None;
            loop {
                let page = store
                    .list_sessions_keyset(
                        Scope::All,
                        cut,
                        Keyset { sort: Sort::default(), after, before: None, limit: 7 },
                    )
                    .await
                    .expect("list");
                n += page.len() as i64;
                match page.last() {
                    Some(s) => after = Some(Position { key: s.id, id: s.id }),
                    None => return n,
                }
            }
        }
    };
    let cuts = [
        ALL,
        Cutoffs { team_idle: 200, end_user_idle: 50, team_max_duration: i64::MIN },
        Cutoffs { team_idle: 0, end_user_idle: 400, team_max_duration: 350 },
        Cutoffs { team_idle: 600, end_user_idle: 600, team_max_duration: 600 },
    ];
    let check = |stage: &'static str| {
        let store = store.clone();
        async move {
            for cut in cuts {
                assert_eq!(
                    store.count_sessions(Scope::All, cut).await.expect("count"),
                    plain(cut).await,
                    "{stage} {cut:?}"
                );
            }
        }
    };
    check("after inserts").await;
    assert_eq!(store.count_sessions(Scope::All, ALL).await.expect("count"), 56);
    store.delete_sessions_of_users(&[agent.id]).await.expect("delete");
    check("after a bulk delete").await;
    store.delete_user(gone.id).await.expect("delete user");
    check("after a cascade").await;
    store
        .sweep_expired(Cutoffs { team_idle: 200, end_user_idle: 200, team_max_duration: i64::MIN }, 3)
        .await
        .expect("sweep");
    check("after a sweep").await;
}

/// Activity is queued behind the cache, and every read that shows `last_seen_at` sees it.
async fn queued_activity_is_read_back_at_once(store: SharedStore) {
    let u = user(&store, "a@x.io", Role::EndUser).await;
    let (s, digest) = session(&store, u.id, 100).await;
    store.touch_session(s.id, 150).await.expect("touch");
    store.touch_session(s.id, 140).await.expect("an older time never wins");
    let (by_id, _) = store.session_by_id(s.id).await.expect("by id").expect("found");
    assert_eq!(by_id.last_seen_at, 150);
    let listed = store
        .list_sessions_keyset(Scope::All, ALL, Keyset { sort: Sort::default(), after: None, before: None, limit: 5 })
        .await
        .expect("list");
    assert_eq!(listed[0].last_seen_at, 150);
    let (fresh, _, _) = store.session_by_token_uncached(&digest).await.expect("lookup").expect("found");
    assert_eq!(fresh.session.last_seen_at, 150);
    assert_eq!(store.metrics().last_seen_writes.load(std::sync::atomic::Ordering::SeqCst), 1, "merged into one write");
}

macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::new(super::Engine::Sqlite).await.expect("sqlite");
                    let store = super::store::open(&db.url).await.expect("open");
                    super::$name(store.clone()).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::TestDb::new(super::Engine::Postgres).await else { return };
                    let store = super::store::open(&db.url).await.expect("open");
                    super::$name(store.clone()).await;
                    store.close().await;
                    // Opening again runs the migrations again: a no-op.
                    let again = super::store::open(&db.url).await.expect("reopen");
                    again.close().await;
                }
            )*
        }
    };
}

store_tests!(
    users_are_unique_by_email,
    concurrent_duplicate_creates_admit_one,
    sessions_are_found_by_token_digest_only,
    touch_only_moves_forward,
    sessions_need_the_password_that_was_checked,
    deletes_are_scoped_and_counted,
    bulk_delete_goes_in_batches_and_leaves_others,
    keyset_pages_walk_every_sort_in_order,
    liveness_cutoffs_filter_lists_and_sweeps,
    suspension_and_password_change_end_sessions,
    tokens_resolve_and_go_with_their_user,
    settings_round_trip,
    migrations_are_idempotent_on_reopen,
    session_details_carry_device_and_owner_and_filter_by_email,
    delete_other_sessions_keeps_one_and_spares_other_users,
    live_counts_follow_every_insert_and_delete,
    queued_activity_is_read_back_at_once,
);

/// Two stores on one database, as two processes would have (a server and the CLI, or two
/// instances): a revocation through one is honoured by the other's cache.
async fn second_process_revocation(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else { return };
    let a = store::open(&db.url).await.expect("open a");
    let b = store::open(&db.url).await.expect("open b");
    let u = user(&a, "a@x.io", Role::EndUser).await;
    let (s, digest) = session(&a, u.id, 100).await;
    let hits = || a.metrics().cache_hits.load(std::sync::atomic::Ordering::SeqCst);
    // PostgreSQL: A's cache is on once its listener is listening.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let before = hits();
        assert!(a.session_by_token(&digest).await.expect("lookup").is_some());
        assert!(a.session_by_token(&digest).await.expect("lookup").is_some());
        if hits() > before {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cache never answered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // B records activity: A's copy may lag (never lead), and the database has the truth.
    b.touch_sessions(&[(s.id, 900)]).await.expect("touch");
    let (cached, _, _) = a.session_by_token(&digest).await.expect("lookup").expect("found");
    assert!(cached.session.last_seen_at <= 900);
    let (fresh, _, _) = a.session_by_token_uncached(&digest).await.expect("lookup").expect("found");
    assert_eq!(fresh.session.last_seen_at, 900);

    assert!(b.delete_session(s.id).await.expect("revoke"));
    match engine {
        // The signal file is checked before every hit: strictly the next lookup.
        Engine::Sqlite => assert!(a.session_by_token(&digest).await.expect("lookup").is_none()),
        // NOTIFY arrives on A's listener connection a moment after B's commit.
        Engine::Postgres => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while a.session_by_token(&digest).await.expect("lookup").is_some() {
                assert!(std::time::Instant::now() < deadline, "A never heard of B's revocation");
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    }
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn sqlite_second_process_revocation_clears_the_cache() {
    second_process_revocation(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_second_process_revocation_clears_the_cache() {
    second_process_revocation(Engine::Postgres).await;
}
