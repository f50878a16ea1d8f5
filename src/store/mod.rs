//! Storage: one trait, one implementation per engine. SQL and engine details never leave
//! this module; callers speak in domain types.

#[macro_use]
mod sql;
pub mod cache;
mod postgres;
mod signal;
mod sqlite;

use crate::clock::Timestamp;
use crate::domain::secret::TokenDigest;
use crate::domain::throttle::{Attempt, ThrottlePolicy};
use crate::domain::{Cutoffs, Role, SecuritySettings, Session, SessionAuth, SessionId, User, UserId};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the payload names the field (e.g. `email`).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The database cannot be reached right now (connection refused, pool timed out).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database said; a bug or a corrupt database.
    #[error("database error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

pub struct NewUser {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub password_hash: Option<String>,
}

/// Fields of a user to change; `None` leaves a field alone.
#[derive(Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub suspended: Option<bool>,
}

pub struct NewSession {
    pub user_id: UserId,
    pub token: TokenDigest,
    pub csrf_secret: [u8; 32],
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_via: &'static str,
    /// The password hash the sign-in verified: the session is created only if it is still
    /// the user's hash and the user is not suspended (else `Conflict("password")`).
    pub checked_password_hash: Option<String>,
}

/// A session written as is, with its times: for seeding and imports (no sign-in checks).
pub struct SeedSession {
    pub user_id: UserId,
    pub token: TokenDigest,
    pub csrf_secret: [u8; 32],
    pub authenticated_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub description: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthToken {
    pub id: i64,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A session with what the web pages show about it: where it signed in from and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDetail {
    pub session: Session,
    /// The client address at sign-in, as text.
    pub ip: Option<String>,
    /// The `User-Agent` at sign-in, as sent (untrusted text: escape it).
    pub user_agent: Option<String>,
    pub user: User,
}

/// Which sessions a detailed list covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionFilter {
    All,
    User(UserId),
    /// Sessions of users whose (lower-case) email contains this text.
    EmailContains(String),
}

/// Which sessions a list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    User(UserId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Id,
    AuthenticatedAt,
    LastSeenAt,
}

impl SortKey {
    pub fn column(self) -> &'static str {
        match self {
            SortKey::Id => "s.id",
            SortKey::AuthenticatedAt => "s.authenticated_at",
            SortKey::LastSeenAt => "s.last_seen_at",
        }
    }
    pub fn value_of(self, s: &Session) -> i64 {
        match self {
            SortKey::Id => s.id,
            SortKey::AuthenticatedAt => s.authenticated_at,
            SortKey::LastSeenAt => s.last_seen_at,
        }
    }
}

/// An order over sessions: by a key, then by id to break ties, ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort { key: SortKey::Id, descending: false }
    }
}

/// A position in a [`Sort`]: the sort key's value and the id of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub key: i64,
    pub id: SessionId,
}

/// One keyset page request. With `after`, the `limit` sessions that follow the position in
/// the sort order; with `before`, the `limit` sessions that precede it (returned in sort
/// order). Neither: the first `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    pub sort: Sort,
    pub after: Option<Position>,
    pub before: Option<Position>,
    pub limit: u32,
}

/// Counters the store keeps about itself, read by tests and `/metrics`.
#[derive(Debug, Default)]
pub struct StoreMetrics {
    /// Sessions whose `last_seen_at` was written (rows; queued writes count when queued).
    pub last_seen_writes: AtomicU64,
    /// Transactions that wrote queued activity.
    pub activity_batches: AtomicU64,
    /// Other writes (statements or transactions).
    pub writes: AtomicU64,
    pub reads: AtomicU64,
    /// Credential lookups answered from memory, and those that went to the database.
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
}

impl StoreMetrics {
    pub fn read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    fn metrics(&self) -> &StoreMetrics;
    /// Ends background work and flushes; called once on shutdown.
    async fn close(&self);
    async fn ping(&self) -> StoreResult<()>;
    /// Called after a write that ends or weakens credentials committed: returns once every
    /// other process caching this database's credentials has dropped its cache, or a bounded
    /// wait ran out (logged). SQLite has nothing to wait for: its processes compare a shared
    /// counter before every cached answer.
    async fn confirm_invalidation(&self);

    // --- users
    async fn create_user(&self, user: NewUser, now: Timestamp) -> StoreResult<User>;
    /// Creates many users in one transaction (seeding, imports); returns them in order.
    async fn bulk_create_users(&self, users: Vec<NewUser>, now: Timestamp) -> StoreResult<Vec<User>>;
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user with this (normalised) email and their password hash, if any.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(User, Option<String>)>>;
    async fn count_users(&self) -> StoreResult<i64>;
    /// Admins who are not suspended.
    async fn count_active_admins(&self) -> StoreResult<i64>;
    /// Applies the patch; suspending also deletes every session of the user, in the same
    /// transaction. `None` when the user does not exist.
    async fn update_user(&self, id: UserId, patch: UserPatch) -> StoreResult<Option<User>>;
    /// Sets the password hash and deletes every session of the user except `keep`.
    async fn set_password(&self, id: UserId, hash: &str, keep: Option<SessionId>) -> StoreResult<bool>;
    /// Deletes the user with their sessions and tokens; returns the deleted user.
    async fn delete_user(&self, id: UserId) -> StoreResult<Option<User>>;

    // --- sessions
    async fn create_session(&self, new: NewSession, now: Timestamp) -> StoreResult<Session>;
    /// Writes many sessions in one transaction (seeding, imports); returns how many.
    async fn bulk_insert_sessions(&self, sessions: Vec<SeedSession>) -> StoreResult<u64>;
    /// The session whose token has this digest, with its user and the current settings,
    /// in one read. May be answered from the credential cache ([`cache`]): then
    /// `last_seen_at` may be older than stored, never newer.
    async fn session_by_token(&self, token: &TokenDigest)
    -> StoreResult<Option<(SessionAuth, User, SecuritySettings)>>;
    /// Like [`Store::session_by_token`], always from the database: what to believe before
    /// treating a session as ended.
    async fn session_by_token_uncached(
        &self,
        token: &TokenDigest,
    ) -> StoreResult<Option<(SessionAuth, User, SecuritySettings)>> {
        self.session_by_token(token).await
    }
    /// This process recorded activity of the session with this token at `now`.
    fn note_activity(&self, _token: &TokenDigest, _now: Timestamp) {}
    /// How many credentials the cache holds (0 without a cache).
    fn cached_credentials(&self) -> usize {
        0
    }
    async fn session_by_id(&self, id: SessionId) -> StoreResult<Option<(Session, Role)>>;
    /// Records activity: moves `last_seen_at` forward to `now` (never backwards). Behind the
    /// cache this is written in the background, in batches; every read that returns or
    /// judges `last_seen_at` sees it first.
    async fn touch_session(&self, id: SessionId, now: Timestamp) -> StoreResult<()>;
    /// Records many sessions' activity in one transaction; returns how many rows moved.
    async fn touch_sessions(&self, touches: &[(SessionId, Timestamp)]) -> StoreResult<u64>;
    async fn delete_session(&self, id: SessionId) -> StoreResult<bool>;
    /// Deletes every session of these users; returns how many went.
    async fn delete_sessions_of_users(&self, users: &[UserId]) -> StoreResult<u64>;
    /// Deletes these sessions, restricted to `owner` when given; returns how many went.
    async fn delete_sessions(&self, ids: &[SessionId], owner: Option<UserId>) -> StoreResult<u64>;
    /// Live sessions (per `cutoffs`) in keyset order.
    async fn list_sessions_keyset(&self, scope: Scope, cutoffs: Cutoffs, page: Keyset) -> StoreResult<Vec<Session>>;
    /// Live sessions (per `cutoffs`) by offset, for offset pagination (bounded depth).
    async fn list_sessions_offset(
        &self,
        scope: Scope,
        cutoffs: Cutoffs,
        sort: Sort,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<Session>>;
    async fn count_sessions(&self, scope: Scope, cutoffs: Cutoffs) -> StoreResult<i64>;
    /// Live sessions (per `cutoffs`) with their address, user agent and user, in keyset
    /// order, for the web pages.
    async fn list_session_details(
        &self,
        filter: &SessionFilter,
        cutoffs: Cutoffs,
        page: Keyset,
    ) -> StoreResult<Vec<SessionDetail>>;
    /// Deletes every session of `user_id` except `keep`; returns how many went.
    async fn delete_other_sessions(&self, user_id: UserId, keep: SessionId) -> StoreResult<u64>;
    /// Deletes up to `batch` ended sessions; returns how many went.
    async fn sweep_expired(&self, cutoffs: Cutoffs, batch: u32) -> StoreResult<u64>;

    // --- API and OAuth tokens
    async fn create_api_token(
        &self,
        user_id: UserId,
        description: &str,
        token: &TokenDigest,
        now: Timestamp,
    ) -> StoreResult<ApiToken>;
    async fn api_token_user(&self, token: &TokenDigest) -> StoreResult<Option<(ApiToken, User)>>;
    async fn list_api_tokens(&self, user_id: UserId) -> StoreResult<Vec<ApiToken>>;
    async fn delete_api_token(&self, id: i64, owner: Option<UserId>) -> StoreResult<bool>;
    async fn create_oauth_token(
        &self,
        user_id: UserId,
        scopes: &[String],
        token: &TokenDigest,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> StoreResult<OAuthToken>;
    async fn oauth_token_user(&self, token: &TokenDigest) -> StoreResult<Option<(OAuthToken, User)>>;
    async fn delete_oauth_token(&self, id: i64) -> StoreResult<bool>;

    // --- sign-in throttling (SPEC §8), atomic across instances
    /// Checks the failure windows for this account and address; when allowed, records the
    /// attempt as a failure (returned id) in the same transaction, so concurrent attempts
    /// on any instance cannot exceed the limits.
    async fn begin_sign_in_attempt(
        &self,
        account: &[u8; 32],
        ip: &str,
        now: Timestamp,
        policy: ThrottlePolicy,
    ) -> StoreResult<Attempt>;
    /// The password was right: the provisional failure does not count, and the address
    /// becomes known for the account.
    async fn release_sign_in_attempt(&self, id: i64, account: &[u8; 32], ip: &str, now: Timestamp) -> StoreResult<()>;
    /// Forgets failures older than `before`, and known addresses not used since `known_before`.
    async fn prune_sign_in_failures(&self, before: Timestamp, known_before: Timestamp) -> StoreResult<u64>;

    // --- settings
    async fn security_settings(&self) -> StoreResult<SecuritySettings>;
    async fn put_security_settings(&self, s: SecuritySettings) -> StoreResult<()>;
}

pub type SharedStore = Arc<dyn Store>;

/// Opens the store a database URL names, creating and migrating it as needed.
/// Credentials are answered from the [`cache`] in front of the engine.
pub async fn open(url: &str) -> Result<SharedStore, String> {
    if url.starts_with("sqlite:") {
        let engine = SqliteStore::open(url).await?;
        let invalidation = match engine.file_path() {
            Some(db) => {
                let mut signal = db.into_os_string();
                signal.push("-signal");
                cache::Invalidation::file(std::path::Path::new(&signal))?
            }
            None => cache::Invalidation::None,
        };
        let cache = Arc::new(cache::CredentialCache::new(true));
        Ok(Arc::new(cache::CachedStore::new(Arc::new(engine), cache, invalidation)))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let engine = PgStore::open(url).await?;
        // Off until the listener is listening.
        let cache = Arc::new(cache::CredentialCache::new(false));
        engine.listen_for_invalidations(cache.clone());
        Ok(Arc::new(cache::CachedStore::new(Arc::new(engine), cache, cache::Invalidation::Notify)))
    } else {
        Err(format!("unsupported database URL (expected sqlite://… or postgres://…): {}", redact_url(url)))
    }
}

/// A database URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
