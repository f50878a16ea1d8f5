//! Sign-in throttling rules (SPEC §8, [E-18]): rolling windows of failed password checks,
//! per account and per client address. A throttled account is refused before its password
//! is even checked, and attempts refused that way do not count, so the window always ends
//! by itself: nobody can keep a real user locked out by hammering.

use crate::clock::Timestamp;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// At most `account_short_max` failures per account in `account_short_window` seconds…
    pub account_short_window: i64,
    pub account_short_max: i64,
    /// …and at most `account_long_max` in `account_long_window`, in any case…
    pub account_long_window: i64,
    pub account_long_max: i64,
    /// …and at most `ip_max` failures per client address in `ip_window`.
    pub ip_window: i64,
    pub ip_max: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            account_short_window: 15 * 60,
            account_short_max: 10,
            account_long_window: 60 * 60,
            account_long_max: 100,
            ip_window: 15 * 60,
            ip_max: 100,
        }
    }
}

/// The result of asking to try a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead; the attempt is provisionally recorded as a failure under this id, to be
    /// released if the password turns out right. Concurrent attempts therefore count too.
    Allowed(i64),
    /// Refused: retry after this many seconds (≥ 1).
    Throttled(i64),
}

/// The throttling key of an account: a digest of the normalised email, the same whether or
/// not such a user exists (so throttling reveals nothing).
pub fn account_key(normalised_email: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"sessiond sign-in throttle\0")
        .chain_update(normalised_email.as_bytes())
        .finalize()
        .into()
}

/// Seconds until a window holding a failure at `oldest` frees a slot (at least 1).
pub fn retry_after(oldest: Timestamp, window: i64, now: Timestamp) -> i64 {
    oldest.saturating_add(window).saturating_sub(now).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_are_stable_and_distinct() {
        assert_eq!(account_key("a@x.io"), account_key("a@x.io"));
        assert_ne!(account_key("a@x.io"), account_key("b@x.io"));
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_after(100, 900, 100), 900);
        assert_eq!(retry_after(100, 900, 999), 1);
        assert_eq!(retry_after(100, 900, 5000), 1);
    }
}
