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
}

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
        Ok(Self(Arc::new(Inner { config, store, clock, hasher, rate, activity: Default::default() })))
    }

    /// Hashes a password on a blocking thread, off the async workers.
    pub async fn hash_password(&self, password: String) -> Result<String, String> {
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password)).await.map_err(|e| e.to_string())?
    }

    /// Verifies a password on a blocking thread; `stored` is `None` for unknown accounts,
    /// which are checked against a dummy hash so both take the same time.
    pub async fn verify_password(&self, password: String, stored: Option<String>) -> bool {
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.verify(&password, stored.as_deref())).await.unwrap_or(false)
    }

    /// The expiry rules at this instant with these settings.
    pub fn expiry(&self, settings: domain::SecuritySettings) -> domain::ExpiryPolicy {
        domain::ExpiryPolicy { now: self.clock.now(), settings, activity_resolution: self.config.activity_resolution }
    }
}
