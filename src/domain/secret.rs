//! Secrets: generation, digests at rest, constant-time comparison, CSRF masking and
//! password hashing. Nothing in this module logs, and no type here implements `Display`.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Length in bytes of every random secret we issue (256 bits).
pub const SECRET_BYTES: usize = 32;

/// A freshly generated bearer secret (session cookie, API token, OAuth token). It is shown
/// to its owner once; only its [`TokenDigest`] is stored.
pub struct NewSecret {
    pub plaintext: String,
    pub digest: TokenDigest,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(..)")
    }
}

/// SHA-256 of a presented or issued token: the only form in which tokens are stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }
    /// Constant-time equality, for the final check after an indexed lookup.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        other.len() == 32 && bool::from(self.0.as_slice().ct_eq(other))
    }
}

impl TokenDigest {
    /// A short reference to a token for logs: 8 hex digits of a digest salted with a
    /// per-process random value. It lets one line of a log be matched with another, but
    /// cannot be matched against the database or turned back into the token.
    pub fn log_ref(&self) -> String {
        static SALT: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
        let salt = SALT.get_or_init(random_bytes::<16>);
        let d = Sha256::new().chain_update(salt).chain_update(self.0).finalize();
        d.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }
}

/// Fills `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing is unrecoverable: we must never issue a weak secret.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random generator failed");
    buf
}

/// A new 256-bit token, base64url without padding (43 characters).
pub fn new_secret() -> NewSecret {
    let plaintext = URL_SAFE_NO_PAD.encode(random_bytes::<SECRET_BYTES>());
    let digest = TokenDigest::of(&plaintext);
    NewSecret { plaintext, digest }
}

/// Whether a presented token has the shape of one we issue. Anything else is refused
/// before any lookup (cheap rejection of garbage, no digest computed).
pub fn plausible_token(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An authenticity (CSRF) token for a session secret, masked with a fresh one-time pad so
/// that every response carries a different string (no BREACH-style recovery), all valid.
pub fn masked_csrf_token(secret: &[u8; SECRET_BYTES]) -> String {
    let pad = random_bytes::<SECRET_BYTES>();
    let mut out = Vec::with_capacity(SECRET_BYTES * 2);
    out.extend_from_slice(&pad);
    out.extend(pad.iter().zip(secret).map(|(p, s)| p ^ s));
    URL_SAFE_NO_PAD.encode(out)
}

/// Checks a presented authenticity token against the session's CSRF secret.
pub fn verify_csrf_token(presented: &str, secret: &[u8]) -> bool {
    if presented.len() != 86 || secret.len() != SECRET_BYTES {
        return false;
    }
    let Ok(raw) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    let Some((pad, masked)) = raw.split_at_checked(SECRET_BYTES) else {
        return false;
    };
    if masked.len() != SECRET_BYTES {
        return false;
    }
    let unmasked: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
    bool::from(unmasked.as_slice().ct_eq(secret))
}

/// Argon2id with configurable cost. Production uses the crate's recommended parameters;
/// tests may lower the memory cost to stay fast.
#[derive(Clone)]
pub struct PasswordHasherConfig {
    params: Params,
    /// A hash of a random password made with the same parameters, verified against when
    /// the email is unknown so both paths cost the same.
    dummy_hash: String,
}

impl PasswordHasherConfig {
    pub fn new(m_cost_kib: u32, t_cost: u32) -> Result<Self, String> {
        let params = Params::new(m_cost_kib, t_cost, 1, None).map_err(|e| e.to_string())?;
        let mut cfg = Self { params, dummy_hash: String::new() };
        let random_password = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        cfg.dummy_hash = cfg.hash(&random_password)?;
        Ok(cfg)
    }

    pub fn recommended() -> Result<Self, String> {
        Self::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password into a PHC string. CPU-heavy: call from a blocking thread.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        self.argon2().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
    }

    /// Verifies a password against a stored PHC string, or against the dummy hash when
    /// there is none, so unknown accounts take as long as known ones. CPU-heavy.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let ok = self.argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_base64url_and_unique() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.plaintext.len(), 43);
        assert!(plausible_token(&a.plaintext));
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.digest, TokenDigest::of(&a.plaintext));
    }

    #[test]
    fn log_refs_are_short_stable_and_not_the_digest() {
        let s = new_secret();
        let r = s.digest.log_ref();
        assert_eq!(r.len(), 8);
        assert_eq!(r, s.digest.log_ref());
        let hex: String = s.digest.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(r, hex[..8], "salted, not a prefix of the stored digest");
        assert_ne!(r, new_secret().digest.log_ref());
    }

    #[test]
    fn plausible_token_rejects_other_shapes() {
        assert!(!plausible_token(""));
        assert!(!plausible_token(&"a".repeat(44)));
        assert!(!plausible_token(&"é".repeat(21)));
        assert!(!plausible_token(&format!("{}=", "a".repeat(42))));
    }

    #[test]
    fn csrf_tokens_differ_each_time_and_all_verify() {
        let secret = random_bytes::<SECRET_BYTES>();
        let t1 = masked_csrf_token(&secret);
        let t2 = masked_csrf_token(&secret);
        assert_ne!(t1, t2);
        assert!(verify_csrf_token(&t1, &secret));
        assert!(verify_csrf_token(&t2, &secret));
        let other = random_bytes::<SECRET_BYTES>();
        assert!(!verify_csrf_token(&t1, &other));
    }

    #[test]
    fn tampered_or_unmasked_csrf_tokens_fail() {
        let secret = random_bytes::<SECRET_BYTES>();
        let good = masked_csrf_token(&secret);
        let mut bytes = good.clone().into_bytes();
        bytes[50] = if bytes[50] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        assert!(!verify_csrf_token(&tampered, &secret));
        // The bare secret (no mask) is not an authenticity token.
        assert!(!verify_csrf_token(&URL_SAFE_NO_PAD.encode(secret), &secret));
        assert!(!verify_csrf_token("", &secret));
        assert!(!verify_csrf_token(&"ü".repeat(43), &secret));
    }

    #[test]
    fn passwords_hash_and_verify_and_unknown_accounts_never_match() {
        let cfg = PasswordHasherConfig::new(1024, 1).unwrap_or_else(|e| panic!("{e}"));
        let phc = cfg.hash("correct horse").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"));
        assert!(cfg.verify("correct horse", Some(&phc)));
        assert!(!cfg.verify("wrong", Some(&phc)));
        assert!(!cfg.verify("anything", None));
        assert!(!cfg.verify("x", Some("not a phc string")));
    }
}
