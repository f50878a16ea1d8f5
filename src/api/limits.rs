//! The API rate limit (SPEC §8): requests per user per minute, fixed one-minute windows.
//!
//! Counting happens in [`crate::api::auth`] as soon as a caller is authenticated, so every
//! authenticated request counts whatever its answer [E-24]. The middleware here writes the
//! headers: `X-Rate-Limit` and `X-Rate-Limit-Remaining` on every authenticated 2xx (never
//! `Retry-After`), and `X-Rate-Limit-Remaining: 0` with `Retry-After` on the 429.
//!
//! The counters live in this instance's memory: with several instances each enforces the
//! limit on the requests it serves (documented in the README).

use crate::clock::Timestamp;
use crate::domain::UserId;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;
use std::sync::Mutex;

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// `Some(seconds)` when the request is over the limit.
    pub retry_after: Option<u64>,
}

const SHARDS: usize = 16;

/// Per user: the minute window and the requests counted in it.
type Counters = HashMap<UserId, (i64, u32), FxBuildHasher>;

pub struct RateLimiter {
    limit: u32,
    /// FxHash, not SipHash: the keys are user ids the database assigned, not chosen by clients.
    shards: Vec<Mutex<Counters>>,
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        Self { limit, shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect() }
    }

    /// Counts one request of `user` at `now`.
    pub fn hit(&self, user: UserId, now: Timestamp) -> RateInfo {
        let window = now.div_euclid(60);
        let shard_index = usize::try_from(user.rem_euclid(SHARDS as i64)).unwrap_or(0);
        let Some(shard) = self.shards.get(shard_index) else {
            return RateInfo { limit: self.limit, remaining: self.limit, retry_after: None };
        };
        let mut map = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() > 50_000 {
            map.retain(|_, (w, _)| *w == window);
        }
        let entry = map.entry(user).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let used = entry.1;
        if used > self.limit {
            let retry = (window + 1) * 60 - now;
            RateInfo { limit: self.limit, remaining: 0, retry_after: Some(u64::try_from(retry.max(1)).unwrap_or(1)) }
        } else {
            RateInfo { limit: self.limit, remaining: self.limit - used, retry_after: None }
        }
    }
}

tokio::task_local! {
    /// Where the authentication step leaves its [`RateInfo`] for [`with_rate_headers`]: one
    /// slot per request, for as long as the request is handled (no allocation, no extension).
    static RATE: std::cell::Cell<Option<RateInfo>>;
}

/// Called by authentication: the limiter's decision for this request (the first one stands).
/// Outside [`with_rate_headers`] (no such request) it is dropped.
pub fn note_rate(info: RateInfo) {
    let _ = RATE.try_with(|slot| {
        if slot.get().is_none() {
            slot.set(Some(info));
        }
    });
}

/// Handles one request, then adds the rate-limit headers of what its authentication noted.
pub async fn with_rate_headers(handling: impl Future<Output = Response>) -> Response {
    RATE.scope(std::cell::Cell::new(None), async {
        let mut response = handling.await;
        add_rate_headers(RATE.with(std::cell::Cell::get), &mut response);
        response
    })
    .await
}

static X_RATE_LIMIT: HeaderName = HeaderName::from_static("x-rate-limit");
static X_RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-rate-limit-remaining");

/// Adds the rate-limit headers to an authenticated response.
fn add_rate_headers(info: Option<RateInfo>, response: &mut Response) {
    if let Some(info) = info {
        let status = response.status();
        if status.is_success() || status == axum::http::StatusCode::TOO_MANY_REQUESTS && info.retry_after.is_some() {
            let h = response.headers_mut();
            h.insert(X_RATE_LIMIT.clone(), HeaderValue::from(info.limit));
            h.insert(X_RATE_LIMIT_REMAINING.clone(), HeaderValue::from(info.remaining));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_user_per_minute_window() {
        let rl = RateLimiter::new(3);
        let t = 6000; // the start of a minute
        assert_eq!(rl.hit(1, t).remaining, 2);
        assert_eq!(rl.hit(1, t + 1).remaining, 1);
        assert_eq!(rl.hit(2, t + 1).remaining, 2, "other users have their own count");
        assert_eq!(rl.hit(1, t + 2).remaining, 0);
        let over = rl.hit(1, t + 20);
        assert_eq!((over.remaining, over.retry_after), (0, Some(40)));
        assert_eq!(rl.hit(1, t + 60).remaining, 2, "a new window");
    }
}
