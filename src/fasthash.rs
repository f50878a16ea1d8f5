//! A cheap hash for the in-memory maps every request touches (the credential cache and the
//! rate limiter), in place of the standard library's SipHash.
//!
//! SipHash exists to resist keys chosen by an attacker to collide. These maps' keys are not
//! chosen by clients: the credential cache holds only SHA-256 digests of tokens sessiond
//! issued itself (lookups of unknown tokens are never stored), and the rate limiter's keys
//! are user ids assigned by the database. So a multiply-and-rotate over 8-byte words (the
//! scheme of rustc's FxHash, written here in a few lines) is enough, and costs a few
//! cycles per word instead of SipHash's rounds. Do not use it for maps keyed by anything a
//! client controls (emails, IP addresses, header values).

use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of FxHash: odd, with well-spread bits.
const K: u64 = 0x517c_c1b7_2722_0a95;

#[derive(Default, Clone, Copy)]
pub struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word.iter_mut().zip(rest).for_each(|(w, b)| *w = *b);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_i64(&mut self, n: i64) {
        self.add(n.cast_unsigned());
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// For `HashMap::with_hasher(FastHash::default())`.
pub type FastHash = BuildHasherDefault<WordHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::hash::BuildHasher as _;

    #[test]
    fn different_keys_hash_differently_and_maps_work() {
        let build = FastHash::default();
        // Ids in a row, as the database assigns them.
        let ids: HashSet<u64> = (0..10_000i64).map(|id| build.hash_one(id)).collect();
        assert_eq!(ids.len(), 10_000);
        // Digests differing in one byte anywhere, and a trailing partial word.
        let mut seen = HashSet::new();
        for at in 0..33 {
            let mut key = [7u8; 33];
            if let Some(b) = key.get_mut(at) {
                *b = 8;
            }
            assert!(seen.insert(build.hash_one(key)), "byte {at} changed nothing");
        }
        let mut map: HashMap<(u8, [u8; 32]), u32, FastHash> = HashMap::default();
        for i in 0..1_000u32 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            map.insert((1, key), i);
        }
        assert_eq!(map.len(), 1_000);
        let mut probe = [0u8; 32];
        probe[..4].copy_from_slice(&777u32.to_le_bytes());
        assert_eq!(map.get(&(1, probe)), Some(&777));
        assert_eq!(map.get(&(2, probe)), None);
    }
}
