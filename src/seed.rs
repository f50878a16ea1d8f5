//! `sessiond bench-seed`: fills a database with many users and sessions through the store's
//! bulk methods (not through HTTP sign-ins), and writes the credentials a load driver needs.
//! Used by `bench/run.sh`; hidden from `--help`.

use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::Role;
use crate::domain::secret::{PasswordHasherConfig, TokenDigest, new_secret, random_bytes};
use crate::store::{NewUser, SeedSession, SharedStore};
use base64::Engine as _;
use std::fmt::Write as _;
use std::path::Path;

pub struct SeedPlan {
    /// Sessions in all, including the live ones and the bulk user's.
    pub sessions: u64,
    /// Sessions whose tokens are written out, each of its own end-user.
    pub live: u64,
    /// Extra sessions of one more user, for the bulk-delete scenario (0: no such user).
    pub bulk_user_sessions: u64,
    /// API tokens and OAuth tokens to write out (each of a distinct live user).
    pub tokens: u64,
}

/// Makes the data and writes, into `out`: `cookies.txt`, `cookie_name.txt`,
/// `api_tokens.txt`, `bearer.txt`, `admin.txt`, `signin.json`, `bulk_user_id.txt`.
pub async fn seed(store: &SharedStore, plan: &SeedPlan, out: &Path, now: Timestamp) -> Result<String, String> {
    let err = |e: crate::store::StoreError| e.to_string();
    if plan.live == 0 || plan.sessions < plan.live + plan.bulk_user_sessions {
        return Err("--sessions must be at least --live + --bulk-user-sessions, and --live at least 1".into());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // A run-specific tag keeps emails unique if the same database is seeded twice.
    let tag = hex(&random_bytes::<4>());

    let defaults = Config::default();
    let hasher = PasswordHasherConfig::new(defaults.argon2_m_cost, defaults.argon2_t_cost)?;
    let password = format!("bench-{}", hex(&random_bytes::<12>()));
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || hasher.hash(&pw)).await.map_err(|e| e.to_string())??;

    let mut users = vec![
        NewUser {
            name: "Bench Admin".into(),
            email: format!("admin-{tag}@bench.example"),
            role: Role::Admin,
            password_hash: None,
        },
        NewUser {
            name: "Bench Sign-in".into(),
            email: format!("signin-{tag}@bench.example"),
            role: Role::EndUser,
            password_hash: Some(hash),
        },
    ];
    if plan.bulk_user_sessions > 0 {
        users.push(NewUser {
            name: "Bench Bulk".into(),
            email: format!("bulk-{tag}@bench.example"),
            role: Role::EndUser,
            password_hash: None,
        });
    }
    let fixed = users.len();
    for i in 0..plan.live {
        users.push(NewUser {
            name: format!("Bench User {i}"),
            email: format!("user{i}-{tag}@bench.example"),
            role: Role::EndUser,
            password_hash: None,
        });
    }
    let users = store.bulk_create_users(users, now).await.map_err(err)?;
    let (admin, signin) = match (users.first(), users.get(1)) {
        (Some(a), Some(s)) => (a.clone(), s.clone()),
        _ => return Err("bulk user creation returned too few users".into()),
    };
    let bulk_user = (plan.bulk_user_sessions > 0).then(|| users.get(2).map(|u| u.id)).flatten();
    let live_users: Vec<_> = users.iter().skip(fixed).map(|u| (u.id, u.email.clone())).collect();

    // Times: everyone was last seen 61-600 s ago (so each session's first request records
    // activity once), signed in up to an hour before that.
    let mut rng_state = u64::from_le_bytes(random_bytes::<8>());
    let mut next = move |below: u64| {
        // xorshift64*: plenty for spreading timestamps.
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        rng_state.wrapping_mul(0x2545_F491_4F6C_DD1D) % below.max(1)
    };
    let mut times = move || {
        let last_seen = now - 61 - i64::try_from(next(540)).unwrap_or(0);
        (last_seen - i64::try_from(next(3600)).unwrap_or(0), last_seen)
    };

    let mut cookies = String::new();
    // Rows per transaction: few commits, so each index page is written a few times, not once
    // per commit of a small batch.
    const BATCH: usize = 100_000;
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0u64;
    let flush = |batch: &mut Vec<SeedSession>| {
        let rows = std::mem::take(batch);
        let store = store.clone();
        async move { store.bulk_insert_sessions(rows).await.map_err(err) }
    };
    for (user_id, _) in &live_users {
        let secret = new_secret();
        let _ = writeln!(cookies, "{}", secret.plaintext);
        let (authenticated_at, last_seen_at) = times();
        batch.push(SeedSession {
            user_id: *user_id,
            token: secret.digest,
            csrf_secret: random_bytes::<32>(),
            authenticated_at,
            last_seen_at,
            ip: Some("127.0.0.1".into()),
            user_agent: Some("bench-seed".into()),
        });
    }
    written += flush(&mut batch).await?;
    // Filler: random digests (no token exists for them), spread over the live users, then
    // the bulk user's.
    let filler = plan.sessions - plan.live - plan.bulk_user_sessions;
    let owners = live_users.iter().map(|(id, _)| *id).cycle().take(usize::try_from(filler).unwrap_or(0));
    let owners = owners
        .chain(std::iter::repeat_n(bulk_user.unwrap_or(0), usize::try_from(plan.bulk_user_sessions).unwrap_or(0)));
    // Randomness in bulk (64 bytes a session): one system call per batch, not two per row.
    let mut random = Vec::new();
    for user_id in owners {
        if random.len() < 64 {
            random = vec![0u8; 64 * BATCH];
            getrandom::fill(&mut random).map_err(|e| format!("the system's random generator failed: {e}"))?;
        }
        let bytes: Vec<u8> = random.split_off(random.len() - 64);
        let (token, csrf) = bytes.split_at(32);
        let (authenticated_at, last_seen_at) = times();
        batch.push(SeedSession {
            user_id,
            token: TokenDigest(token.try_into().map_err(|_| "random split")?),
            csrf_secret: csrf.try_into().map_err(|_| "random split")?,
            authenticated_at,
            last_seen_at,
            ip: Some("127.0.0.1".into()),
            user_agent: Some("bench-seed".into()),
        });
        if batch.len() == BATCH {
            written += flush(&mut batch).await?;
        }
    }
    written += flush(&mut batch).await?;

    let basic =
        |email: &str, token: &str| base64::engine::general_purpose::STANDARD.encode(format!("{email}/token:{token}"));
    let mut api_tokens = String::new();
    let mut bearer = String::new();
    let n = usize::try_from(plan.tokens).unwrap_or(0).min(live_users.len());
    for (user_id, email) in live_users.iter().take(n) {
        let s = new_secret();
        store.create_api_token(*user_id, "bench", &s.digest, now).await.map_err(err)?;
        let _ = writeln!(api_tokens, "Authorization: Basic {}", basic(email, &s.plaintext));
        let s = new_secret();
        store
            .create_oauth_token(*user_id, &["read".to_owned(), "write".to_owned()], &s.digest, now, None)
            .await
            .map_err(err)?;
        let _ = writeln!(bearer, "Authorization: Bearer {}", s.plaintext);
    }
    let admin_token = new_secret();
    store.create_api_token(admin.id, "bench admin", &admin_token.digest, now).await.map_err(err)?;

    let write = |name: &str, text: String| {
        std::fs::write(out.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
    };
    write("cookies.txt", cookies)?;
    write("cookie_name.txt", format!("{}\n", defaults.cookie_name()))?;
    write("api_tokens.txt", api_tokens)?;
    write("bearer.txt", bearer)?;
    write("admin.txt", format!("Authorization: Basic {}\n", basic(&admin.email, &admin_token.plaintext)))?;
    let signin_json = serde_json::json!({ "email": signin.email, "password": password });
    write("signin.json", format!("{signin_json}\n"))?;
    write("bulk_user_id.txt", bulk_user.map_or_else(String::new, |id| format!("{id}\n")))?;
    Ok(format!(
        "seeded {} users and {written} sessions ({} with tokens written out, {} of one bulk user); {n} API and {n} OAuth tokens",
        users.len(),
        plan.live,
        plan.bulk_user_sessions
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
