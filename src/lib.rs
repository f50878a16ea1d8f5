//! sessiond: a self-hosted session service, wire-compatible with the Zendesk Sessions API.
//!
//! A request flows: `.json` stripping and layers ([`api::app`]) → the [`api::auth::Principal`]
//! extractor (who is calling) → a handler in `api/` (may they? what do they want?) → the
//! [`store::Store`] (SQL of one engine) → wire types or an [`api::error::ApiError`].

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod api;
pub mod clock;
pub mod config;
pub mod domain;
pub mod hashing;
pub mod seed;
pub mod server;
pub mod store;

use clock::SharedClock;
use config::Config;
use domain::secret::PasswordHasherConfig;
use std::sync::Arc;
use store::SharedStore;

/// Everything a request handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: SharedStore,
    pub clock: SharedClock,
    pub hasher: PasswordHasherConfig,
    pub rate: api::limits::RateLimiter,
    pub activity: api::activity::ActivityGate,
    pub http_metrics: api::ops::HttpMetrics,
    /// The served OpenAPI document, made with the router ([`api::app`]).
    pub openapi: std::sync::OnceLock<api::openapi::Document>,
    /// Bounds the password hashes computed at once (each takes ~19 MiB and a core).
    hash_permits: Arc<tokio::sync::Semaphore>,
    /// Where hashes are computed: low-priority threads of their own ([`hashing`]).
    hash_pool: hashing::HashPool,
    hash_waiters: std::sync::atomic::AtomicUsize,
}

/// How many password checks may wait for a hashing slot before new ones are refused (503).
const MAX_HASH_WAITERS: usize = 64;

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, store: SharedStore, clock: SharedClock) -> Result<Self, String> {
        let hasher = PasswordHasherConfig::new(config.argon2_m_cost, config.argon2_t_cost)?;
        let rate = api::limits::RateLimiter::new(config.rate_limit);
        let cores = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(2);
        // One core is always left to the requests: a hash works through ~19 MiB of memory,
        // and two at once on two cores took a quarter of the session checks' throughput
        // even at the lowest priority (BENCHMARKS.md).
        let hashers = cores.saturating_sub(1).max(1);
        Ok(Self(Arc::new(Inner {
            config,
            store,
            clock,
            hasher,
            rate,
            activity: Default::default(),
            http_metrics: api::ops::HttpMetrics::new(),
            openapi: std::sync::OnceLock::new(),
            hash_permits: Arc::new(tokio::sync::Semaphore::new(hashers)),
            hash_pool: hashing::HashPool::new(hashers)?,
            hash_waiters: std::sync::atomic::AtomicUsize::new(0),
        })))
    }

    /// A slot to compute one password hash. Waits while all slots are busy; refuses with
    /// 503 when too many are already waiting, so a flood of sign-ins cannot exhaust memory
    /// or starve the server.
    pub async fn hash_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, api::error::ApiError> {
        use std::sync::atomic::Ordering;
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let waiting = Waiting(&self.hash_waiters);
        if waiting.0.fetch_add(1, Ordering::SeqCst) >= MAX_HASH_WAITERS {
            return Err(api::error::ApiError::Overloaded);
        }
        let acquire = self.hash_permits.clone().acquire_owned();
        match tokio::time::timeout(std::time::Duration::from_secs(10), acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(api::error::ApiError::Overloaded),
        }
    }

    /// Hashes a password on a hashing thread, off the async workers, in a hashing slot.
    pub async fn hash_password(&self, password: String) -> Result<String, api::error::ApiError> {
        let _permit = self.hash_permit().await?;
        let hasher = self.hasher.clone();
        self.hash_pool
            .run(move || hasher.hash(&password))
            .await
            .ok_or_else(|| api::error::ApiError::Internal("the hashing threads stopped".into()))?
            .map_err(api::error::ApiError::Internal)
    }

    /// Verifies a password on a hashing thread; `stored` is `None` for unknown accounts,
    /// which are checked against a dummy hash so both take the same time. The caller holds
    /// a [`AppState::hash_permit`].
    pub async fn verify_password(&self, password: String, stored: Option<String>) -> bool {
        let hasher = self.hasher.clone();
        self.hash_pool.run(move || hasher.verify(&password, stored.as_deref())).await.unwrap_or(false)
    }

    /// The expiry rules at this instant with these settings.
    pub fn expiry(&self, settings: domain::SecuritySettings) -> domain::ExpiryPolicy {
        domain::ExpiryPolicy { now: self.clock.now(), settings, activity_resolution: self.config.activity_resolution }
    }
}
