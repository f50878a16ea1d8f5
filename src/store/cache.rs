//! The credential cache: answers "whose is this token?" from memory, so a session check
//! costs a hash-map lookup instead of a database round trip.
//!
//! Correctness rests on one rule: **every write that can end or weaken a credential clears
//! the whole cache, in every process, before it is acknowledged**. Such writes are rare
//! (revocations, suspensions, password and role changes, token deletions, settings); reads
//! are what every request does. So:
//!
//! - [`CachedStore`] wraps an engine. Its invalidating methods call the engine, then
//!   [`CredentialCache::clear`] (this process) and the engine's [`Invalidation`] signal
//!   (other processes: the CLI, other instances).
//! - SQLite: the signal is a counter in a small file beside the database (`<db>-signal`),
//!   mapped into every process ([`super::signal`]); every writer bumps it after committing,
//!   and every lookup compares it first (a memory load). A change clears the cache, so a
//!   `sessiond sessions revoke` in another process is honoured on the very next request.
//! - PostgreSQL: triggers (migration 0004) `NOTIFY sessiond_invalidate` in the same
//!   transaction as the write, so every instance hears of every commit — including writes by
//!   the CLI or by hand. A listener task clears the cache on each notification. While the
//!   listener is down (a notification may have been missed) the cache is off and every check
//!   reads the database; it is cleared and turned back on once listening again.
//! - A fill races a clear safely: a lookup remembers the generation before it reads the
//!   database and stores its answer only if no clear happened since.
//! - What is cached may be stale only in the safe direction: `last_seen_at` only grows, so a
//!   cached value can make a live session look ended but never an ended one look alive; the
//!   caller re-reads with [`Store::session_by_token_uncached`] before acting on "ended".
//! - Entries also age out after [`MAX_AGE`], a backstop for edits made outside sessiond.
//!   Each key ages out at its own point between half of it and all of it, so credentials
//!   filled together (a restart, a burst of traffic) are not all read again in one burst.
//!
//! Activity (`last_seen_at`) is written behind: [`CachedStore::touch_session`] queues it and
//! a background task writes the queue in one transaction every [`ACTIVITY_FLUSH`], so a
//! session check never waits for the database's commit (an fsync). Every read that returns
//! or judges `last_seen_at` (lists, counts, the sweeper) writes the queue first, and a
//! credential lookup merges the queued time into what it read, so this process always reads
//! its own activity without a lookup ever waiting for a commit; shutdown writes the queue too.

use super::*;
use crate::domain::SessionAuth;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const SHARDS: usize = 32;
/// Entries per shard before the shard is emptied (bounds memory: ~200,000 credentials).
const SHARD_CAPACITY: usize = 6_250;
/// Oldest an entry may be before it is read again from the database (each key's own
/// lifetime lies between half of this and all of it; see [`lifetime`]).
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// How long queued activity may wait before it is written.
pub const ACTIVITY_FLUSH: Duration = Duration::from_millis(100);

#[derive(Clone)]
enum Cached {
    Session(SessionAuth, User),
    ApiToken(ApiToken, User),
    OAuth(OAuthToken, User),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Session,
    ApiToken,
    OAuth,
}

struct Entry {
    value: Cached,
    expires: Instant,
}

/// How long the entry of `key` lives: between `MAX_AGE / 2` and `MAX_AGE`, fixed per key.
/// Keys are SHA-256 digests, so two of their bytes spread the lifetimes evenly.
fn lifetime(key: &[u8; 32]) -> Duration {
    let spread = u32::from(u16::from_le_bytes([key[1], key[2]]));
    MAX_AGE / 2 + (MAX_AGE / 2) * spread / u32::from(u16::MAX)
}

#[derive(Default)]
struct Shard {
    /// FxHash, not SipHash: the keys are digests of tokens sessiond issued (unknown tokens
    /// are never stored), so no client can choose keys that collide.
    entries: HashMap<(Kind, [u8; 32]), Entry, FxBuildHasher>,
}

/// How other processes learn that this one invalidated credentials, and how this one
/// learns of theirs.
pub enum Invalidation {
    /// Nothing else can write this database (an in-memory SQLite database).
    None,
    /// A counter in a file beside the database, mapped into every process that opens it
    /// ([`super::signal`]): bumped after each invalidating write, read before each hit.
    File { counter: super::signal::SharedCounter, seen: AtomicU64 },
    /// PostgreSQL `NOTIFY`, sent by triggers; heard by the listener task.
    Notify,
}

impl Invalidation {
    pub fn file(path: &std::path::Path) -> Result<Self, String> {
        let counter = super::signal::SharedCounter::open(path)
            .map_err(|e| format!("cannot open the invalidation signal file {}: {e}", path.display()))?;
        let seen = AtomicU64::new(counter.load());
        Ok(Invalidation::File { counter, seen })
    }
}

/// The in-memory part, shared with the PostgreSQL listener task.
pub struct CredentialCache {
    shards: Vec<Mutex<Shard>>,
    settings: Mutex<Option<SecuritySettings>>,
    generation: AtomicU64,
    /// Off while we cannot be sure to hear of invalidations (PostgreSQL listener down).
    enabled: AtomicBool,
}

impl CredentialCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            settings: Mutex::new(None),
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(enabled),
        }
    }

    /// Forgets everything. The generation moves first, so a fill that read the database
    /// before this clear cannot store its (possibly stale) answer after it.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for shard in &self.shards {
            lock(shard).entries.clear();
        }
        *lock(&self.settings) = None;
    }

    pub fn set_enabled(&self, on: bool) {
        if !on {
            self.enabled.store(false, Ordering::SeqCst);
            self.clear();
        } else {
            self.clear();
            self.enabled.store(true, Ordering::SeqCst);
        }
    }

    fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    fn shard(&self, key: &[u8; 32]) -> Option<&Mutex<Shard>> {
        // The key is a SHA-256 digest: its first byte is as good as any hash.
        self.shards.get(usize::from(key[0]) % SHARDS)
    }

    fn get(&self, kind: Kind, key: &[u8; 32]) -> Option<Cached> {
        if !self.is_enabled() {
            return None;
        }
        let shard = self.shard(key)?;
        let mut shard = lock(shard);
        let entry = shard.entries.get(&(kind, *key))?;
        if Instant::now() >= entry.expires {
            shard.entries.remove(&(kind, *key));
            return None;
        }
        Some(entry.value.clone())
    }

    fn put(&self, kind: Kind, key: &[u8; 32], value: Cached, generation: u64) {
        let Some(shard) = self.shard(key) else { return };
        let mut shard = lock(shard);
        // Checked under the shard lock: `clear` moves the generation before taking it.
        if !self.is_enabled() || self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if shard.entries.len() >= SHARD_CAPACITY {
            shard.entries.clear();
        }
        let expires = Instant::now() + lifetime(key);
        shard.entries.insert((kind, *key), Entry { value, expires });
    }

    fn settings(&self) -> Option<SecuritySettings> {
        *lock(&self.settings)
    }

    fn put_settings(&self, s: SecuritySettings, generation: u64) {
        let mut slot = lock(&self.settings);
        if self.is_enabled() && self.generation.load(Ordering::SeqCst) == generation {
            *slot = Some(s);
        }
    }

    /// Moves a cached session's `last_seen_at` forward after this process recorded activity.
    fn note_activity(&self, key: &[u8; 32], now: Timestamp) {
        let Some(shard) = self.shard(key) else { return };
        if let Some(Entry { value: Cached::Session(auth, _), .. }) = lock(shard).entries.get_mut(&(Kind::Session, *key))
        {
            auth.session.last_seen_at = auth.session.last_seen_at.max(now);
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Activity waiting to be written: session → latest time seen.
struct ActivityQueue {
    inner: SharedStore,
    pending: Mutex<HashMap<SessionId, Timestamp>>,
    /// Held while a batch is being written, so a flush waits for one in flight.
    writing: tokio::sync::Mutex<()>,
    wake: Arc<tokio::sync::Notify>,
}

impl ActivityQueue {
    /// Queues a touch; true when it is a new write (not merged into a queued one).
    fn push(&self, id: SessionId, now: Timestamp) -> bool {
        let mut pending = lock(&self.pending);
        match pending.get_mut(&id) {
            Some(t) => {
                *t = (*t).max(now);
                false
            }
            None => {
                pending.insert(id, now);
                drop(pending);
                self.wake.notify_one();
                true
            }
        }
    }

    /// The queued (not yet written) activity time of a session, if any.
    fn queued(&self, id: SessionId) -> Option<Timestamp> {
        lock(&self.pending).get(&id).copied()
    }

    /// Writes everything queued so far (and waits for a batch already being written).
    async fn flush(&self) -> StoreResult<()> {
        if lock(&self.pending).is_empty() && self.writing.try_lock().is_ok() {
            return Ok(());
        }
        let _writing = self.writing.lock().await;
        let batch: Vec<(SessionId, Timestamp)> = lock(&self.pending).drain().collect();
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.inner.touch_sessions(&batch).await;
        if result.is_err() {
            // Keep what could not be written for the next try (never move a time back).
            let mut pending = lock(&self.pending);
            for (id, t) in batch {
                let slot = pending.entry(id).or_insert(t);
                *slot = (*slot).max(t);
            }
        }
        result.map(|_| ())
    }
}

/// The background writer: a batch every [`ACTIVITY_FLUSH`] while there is activity. Ends
/// when the store is dropped.
fn spawn_activity_writer(queue: std::sync::Weak<ActivityQueue>, wake: Arc<tokio::sync::Notify>) {
    tokio::spawn(async move {
        loop {
            wake.notified().await;
            tokio::time::sleep(ACTIVITY_FLUSH).await;
            let Some(q) = queue.upgrade() else { return };
            if let Err(e) = q.flush().await {
                tracing::warn!(error = %e, "recording session activity failed; will retry");
                q.wake.notify_one();
            }
        }
    });
}

/// An engine with the credential cache in front of it.
pub struct CachedStore {
    inner: SharedStore,
    cache: Arc<CredentialCache>,
    invalidation: Invalidation,
    activity: Arc<ActivityQueue>,
}

impl CachedStore {
    /// Must be called within a Tokio runtime (it starts the activity writer).
    pub fn new(inner: SharedStore, cache: Arc<CredentialCache>, invalidation: Invalidation) -> Self {
        let activity = Arc::new(ActivityQueue {
            inner: inner.clone(),
            pending: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        spawn_activity_writer(Arc::downgrade(&activity), activity.wake.clone());
        Self { inner, cache, invalidation, activity }
    }

    /// Clears the cache if another process signalled an invalidation since we last looked.
    fn check_signal(&self) {
        if let Invalidation::File { counter, seen } = &self.invalidation {
            let now = counter.load();
            if seen.load(Ordering::SeqCst) != now {
                seen.store(now, Ordering::SeqCst);
                self.cache.clear();
            }
        }
    }

    /// After an invalidating write (`committed`: it did not fail): clear here, and tell the
    /// other processes — before the write is acknowledged to anyone.
    async fn invalidated(&self, committed: bool) {
        self.cache.clear();
        match &self.invalidation {
            Invalidation::File { counter, .. } => counter.bump(),
            // The triggers sent the NOTIFY with the commit; wait until every listening
            // instance has acted on it. A failed write changed nothing to wait for.
            Invalidation::Notify if committed => self.inner.confirm_invalidation().await,
            Invalidation::Notify | Invalidation::None => {}
        }
    }

    /// The generation to fill with, after checking for signals from other processes.
    fn begin_lookup(&self) -> u64 {
        self.check_signal();
        self.cache.generation.load(Ordering::SeqCst)
    }

    /// A session read from the database, with any activity still queued for it: a lookup
    /// never waits for the activity writer, yet sees this process's own activity. (If a batch
    /// moves the time from queue to database between the two reads, the answer is older, never
    /// newer, than the truth — the safe direction, as for any cached answer.)
    fn with_queued_activity(
        &self,
        found: Option<(SessionAuth, User, SecuritySettings)>,
    ) -> Option<(SessionAuth, User, SecuritySettings)> {
        found.map(|(mut auth, user, settings)| {
            if let Some(t) = self.activity.queued(auth.session.id) {
                auth.session.last_seen_at = auth.session.last_seen_at.max(t);
            }
            (auth, user, settings)
        })
    }

    fn hit(&self) {
        self.inner.metrics().cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    fn miss(&self) {
        self.inner.metrics().cache_misses.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl Store for CachedStore {
    fn metrics(&self) -> &StoreMetrics {
        self.inner.metrics()
    }
    async fn close(&self) {
        if let Err(e) = self.activity.flush().await {
            tracing::warn!(error = %e, "could not record the last session activity before closing");
        }
        self.inner.close().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn confirm_invalidation(&self) {
        self.inner.confirm_invalidation().await
    }

    async fn create_user(&self, user: NewUser, now: Timestamp) -> StoreResult<User> {
        self.inner.create_user(user, now).await
    }
    async fn bulk_create_users(&self, users: Vec<NewUser>, now: Timestamp) -> StoreResult<Vec<User>> {
        self.inner.bulk_create_users(users, now).await
    }
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.user_by_id(id).await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(User, Option<String>)>> {
        self.inner.user_by_email(email).await
    }
    async fn count_users(&self) -> StoreResult<i64> {
        self.inner.count_users().await
    }
    async fn count_active_admins(&self) -> StoreResult<i64> {
        self.inner.count_active_admins().await
    }
    async fn update_user(&self, id: UserId, patch: UserPatch) -> StoreResult<Option<User>> {
        let r = self.inner.update_user(id, patch).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn set_password(&self, id: UserId, hash: &str, keep: Option<SessionId>) -> StoreResult<bool> {
        let r = self.inner.set_password(id, hash, keep).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn delete_user(&self, id: UserId) -> StoreResult<Option<User>> {
        let r = self.inner.delete_user(id).await;
        self.invalidated(r.is_ok()).await;
        r
    }

    async fn create_session(&self, new: NewSession, now: Timestamp) -> StoreResult<Session> {
        self.inner.create_session(new, now).await
    }
    async fn bulk_insert_sessions(&self, sessions: Vec<SeedSession>) -> StoreResult<u64> {
        self.inner.bulk_insert_sessions(sessions).await
    }
    async fn session_by_token(
        &self,
        token: &TokenDigest,
    ) -> StoreResult<Option<(SessionAuth, User, SecuritySettings)>> {
        let generation = self.begin_lookup();
        if let (Some(Cached::Session(auth, user)), Some(settings)) =
            (self.cache.get(Kind::Session, &token.0), self.cache.settings())
        {
            self.hit();
            return Ok(Some((auth, user, settings)));
        }
        self.miss();
        let found = self.with_queued_activity(self.inner.session_by_token(token).await?);
        if let Some((auth, user, settings)) = &found {
            self.cache.put_settings(*settings, generation);
            self.cache.put(Kind::Session, &token.0, Cached::Session(auth.clone(), user.clone()), generation);
        }
        Ok(found)
    }
    async fn session_by_token_uncached(
        &self,
        token: &TokenDigest,
    ) -> StoreResult<Option<(SessionAuth, User, SecuritySettings)>> {
        let generation = self.begin_lookup();
        // The truth before a session is treated as ended: the queue written first (merging
        // instead could miss a time that a concurrent batch moved from queue to database).
        self.activity.flush().await?;
        let found = self.inner.session_by_token(token).await?;
        if let Some((auth, user, settings)) = &found {
            self.cache.put_settings(*settings, generation);
            self.cache.put(Kind::Session, &token.0, Cached::Session(auth.clone(), user.clone()), generation);
        }
        Ok(found)
    }
    fn note_activity(&self, token: &TokenDigest, now: Timestamp) {
        self.cache.note_activity(&token.0, now);
    }
    async fn session_by_id(&self, id: SessionId) -> StoreResult<Option<(Session, Role)>> {
        self.activity.flush().await?;
        self.inner.session_by_id(id).await
    }
    async fn touch_session(&self, id: SessionId, now: Timestamp) -> StoreResult<()> {
        if self.activity.push(id, now) {
            self.inner.metrics().last_seen_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
    async fn touch_sessions(&self, touches: &[(SessionId, Timestamp)]) -> StoreResult<u64> {
        self.activity.flush().await?;
        self.inner.touch_sessions(touches).await
    }
    async fn delete_session(&self, id: SessionId) -> StoreResult<bool> {
        let r = self.inner.delete_session(id).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn delete_sessions_of_users(&self, users: &[UserId]) -> StoreResult<u64> {
        let r = self.inner.delete_sessions_of_users(users).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn delete_sessions(&self, ids: &[SessionId], owner: Option<UserId>) -> StoreResult<u64> {
        let r = self.inner.delete_sessions(ids, owner).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn list_sessions_keyset(&self, scope: Scope, cutoffs: Cutoffs, page: Keyset) -> StoreResult<Vec<Session>> {
        self.activity.flush().await?;
        self.inner.list_sessions_keyset(scope, cutoffs, page).await
    }
    async fn list_sessions_offset(
        &self,
        scope: Scope,
        cutoffs: Cutoffs,
        sort: Sort,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<Session>> {
        self.activity.flush().await?;
        self.inner.list_sessions_offset(scope, cutoffs, sort, offset, limit).await
    }
    async fn count_sessions(&self, scope: Scope, cutoffs: Cutoffs) -> StoreResult<i64> {
        self.activity.flush().await?;
        self.inner.count_sessions(scope, cutoffs).await
    }
    async fn list_session_details(
        &self,
        filter: &SessionFilter,
        cutoffs: Cutoffs,
        page: Keyset,
    ) -> StoreResult<Vec<SessionDetail>> {
        self.activity.flush().await?;
        self.inner.list_session_details(filter, cutoffs, page).await
    }
    async fn delete_other_sessions(&self, user_id: UserId, keep: SessionId) -> StoreResult<u64> {
        let r = self.inner.delete_other_sessions(user_id, keep).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn sweep_expired(&self, cutoffs: Cutoffs, batch: u32) -> StoreResult<u64> {
        // Only sessions that have already ended go: a cached copy of one is judged ended
        // and re-read before use, so nothing needs clearing.
        self.activity.flush().await?;
        self.inner.sweep_expired(cutoffs, batch).await
    }

    async fn create_api_token(
        &self,
        user_id: UserId,
        description: &str,
        token: &TokenDigest,
        now: Timestamp,
    ) -> StoreResult<ApiToken> {
        self.inner.create_api_token(user_id, description, token, now).await
    }
    async fn api_token_user(&self, token: &TokenDigest) -> StoreResult<Option<(ApiToken, User)>> {
        let generation = self.begin_lookup();
        if let Some(Cached::ApiToken(t, u)) = self.cache.get(Kind::ApiToken, &token.0) {
            self.hit();
            return Ok(Some((t, u)));
        }
        self.miss();
        let found = self.inner.api_token_user(token).await?;
        if let Some((t, u)) = &found {
            self.cache.put(Kind::ApiToken, &token.0, Cached::ApiToken(t.clone(), u.clone()), generation);
        }
        Ok(found)
    }
    async fn list_api_tokens(&self, user_id: UserId) -> StoreResult<Vec<ApiToken>> {
        self.inner.list_api_tokens(user_id).await
    }
    async fn delete_api_token(&self, id: i64, owner: Option<UserId>) -> StoreResult<bool> {
        let r = self.inner.delete_api_token(id, owner).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    async fn create_oauth_token(
        &self,
        user_id: UserId,
        scopes: &[String],
        token: &TokenDigest,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> StoreResult<OAuthToken> {
        self.inner.create_oauth_token(user_id, scopes, token, now, expires_at).await
    }
    async fn oauth_token_user(&self, token: &TokenDigest) -> StoreResult<Option<(OAuthToken, User)>> {
        let generation = self.begin_lookup();
        if let Some(Cached::OAuth(t, u)) = self.cache.get(Kind::OAuth, &token.0) {
            self.hit();
            return Ok(Some((t, u)));
        }
        self.miss();
        let found = self.inner.oauth_token_user(token).await?;
        if let Some((t, u)) = &found {
            self.cache.put(Kind::OAuth, &token.0, Cached::OAuth(t.clone(), u.clone()), generation);
        }
        Ok(found)
    }
    async fn delete_oauth_token(&self, id: i64) -> StoreResult<bool> {
        let r = self.inner.delete_oauth_token(id).await;
        self.invalidated(r.is_ok()).await;
        r
    }

    async fn begin_sign_in_attempt(
        &self,
        account: &[u8; 32],
        ip: &str,
        now: Timestamp,
        policy: ThrottlePolicy,
    ) -> StoreResult<Attempt> {
        self.inner.begin_sign_in_attempt(account, ip, now, policy).await
    }
    async fn release_sign_in_attempt(&self, id: i64, account: &[u8; 32], ip: &str, now: Timestamp) -> StoreResult<()> {
        self.inner.release_sign_in_attempt(id, account, ip, now).await
    }
    async fn prune_sign_in_failures(&self, before: Timestamp, known_before: Timestamp) -> StoreResult<u64> {
        self.inner.prune_sign_in_failures(before, known_before).await
    }

    async fn security_settings(&self) -> StoreResult<SecuritySettings> {
        self.inner.security_settings().await
    }
    async fn put_security_settings(&self, s: SecuritySettings) -> StoreResult<()> {
        let r = self.inner.put_security_settings(s).await;
        self.invalidated(r.is_ok()).await;
        r
    }
    fn cached_credentials(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_lie_between_half_and_all_of_max_age_and_spread_out() {
        let mut buckets = [0u32; 10];
        for i in 0u32..10_000 {
            let mut key = [0u8; 32];
            // Any uniform keys will do; SHA-256 digests are.
            key[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            key[1..3].copy_from_slice(&(i.wrapping_mul(40_503) as u16).to_le_bytes());
            let life = lifetime(&key);
            assert!(life >= MAX_AGE / 2 && life <= MAX_AGE, "{life:?}");
            let tenth = ((life - MAX_AGE / 2).as_secs_f64() / (MAX_AGE / 2).as_secs_f64() * 10.0) as usize;
            buckets[tenth.min(9)] += 1;
        }
        // Filled together, they age out over the whole span, not at one instant.
        assert!(buckets.iter().all(|&n| (700..=1300).contains(&n)), "{buckets:?}");
        assert_eq!(lifetime(&[0; 32]), MAX_AGE / 2);
        assert_eq!(lifetime(&[0xff; 32]), MAX_AGE);
    }
}
