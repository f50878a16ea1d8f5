//! Recording session activity without a write per request [C-42].
//!
//! `last_seen_at` moves only when the stored value is at least the activity resolution old.
//! When it goes stale, many requests of one session may arrive at once, each having read
//! the stale value; this gate lets exactly one of them write per resolution in this
//! process. (With several instances each may write once per resolution: still bounded.)

use crate::clock::Timestamp;
use crate::domain::SessionId;
use std::collections::HashMap;
use std::sync::Mutex;

const SHARDS: usize = 16;

pub struct ActivityGate {
    shards: Vec<Mutex<HashMap<SessionId, Timestamp>>>,
}

impl Default for ActivityGate {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }
}

impl ActivityGate {
    /// Whether the caller should write `last_seen_at = now` for a session whose stored
    /// value is `stored`. True at most once per session per `resolution` seconds.
    pub fn claim(&self, session: SessionId, stored: Timestamp, now: Timestamp, resolution: i64) -> bool {
        if now.saturating_sub(stored) < resolution {
            return false;
        }
        let index = usize::try_from(session.rem_euclid(SHARDS as i64)).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else { return true };
        let mut map = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&claimed) = map.get(&session)
            && now.saturating_sub(claimed) < resolution
        {
            return false;
        }
        if map.len() > 100_000 {
            map.retain(|_, claimed| now.saturating_sub(*claimed) < resolution);
        }
        map.insert(session, now);
        true
    }

    /// Forget a session (it was deleted), so a new claim is not blocked by an old one.
    pub fn forget(&self, session: SessionId) {
        let index = usize::try_from(session.rem_euclid(SHARDS as i64)).unwrap_or(0);
        if let Some(shard) = self.shards.get(index) {
            shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_per_resolution() {
        let g = ActivityGate::default();
        assert!(!g.claim(1, 100, 150, 60), "stored value still fresh");
        assert!(g.claim(1, 100, 160, 60));
        assert!(!g.claim(1, 100, 161, 60), "a concurrent request read the same stale value");
        assert!(g.claim(2, 100, 161, 60), "other sessions are independent");
        assert!(g.claim(1, 160, 220, 60), "the next resolution");
        assert!(g.claim(1, 100, 500, 0) && g.claim(1, 100, 500, 0), "resolution 0 writes every time");
    }
}
