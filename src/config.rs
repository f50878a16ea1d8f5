//! Runtime configuration of `sessiond serve`: one struct, filled from flags and
//! `SESSIOND_*` environment variables by `main.rs`, or directly by tests.

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The public base URL written into `url` fields and links, without a trailing slash
    /// (e.g. `https://sessions.example.com`). `None`: the scheme, host and port the
    /// request used.
    pub public_url: Option<String>,
    pub database_url: String,
    /// Refuse `Basic email:password` on the API (sign-in forms still work).
    pub disable_password_auth: bool,
    /// Single-session bodies as `{"session":[{…}]}` for SDKs generated from the vendor's
    /// OpenAPI file [C-21].
    pub session_as_array: bool,
    /// `last_seen_at` moves only when the stored value is at least this old (seconds).
    pub activity_resolution: i64,
    /// API requests per user per minute.
    pub rate_limit: u32,
    /// Seconds between sweeps of ended sessions, and rows deleted per sweep statement.
    pub sweep_interval: u64,
    pub sweep_batch: u32,
    /// Milliseconds a client has to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    pub header_timeout_ms: u64,
    /// Milliseconds a request may take from headers received to response.
    pub request_timeout_ms: u64,
    /// Argon2id memory cost (KiB) and passes for new password hashes.
    pub argon2_m_cost: u32,
    pub argon2_t_cost: u32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` we believe. A request from any
    /// other peer is taken to come from that peer, whatever headers it carries.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: "sqlite://sessiond.db".into(),
            disable_password_auth: false,
            session_as_array: false,
            activity_resolution: 60,
            rate_limit: 700,
            sweep_interval: 60,
            sweep_batch: 1000,
            header_timeout_ms: 15_000,
            request_timeout_ms: 30_000,
            argon2_m_cost: 19 * 1024,
            argon2_t_cost: 2,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// Whether cookies must be `Secure` (and carry the `__Host-` prefix) [E-20].
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies() { "__Host-sessiond_session" } else { "sessiond_session" }
    }
}

/// Checks and normalises a `--public-url`: http or https, a host, no query or fragment,
/// no trailing slash.
pub fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("--public-url must start with http:// or https://, got {raw:?}"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) || rest.starts_with('/') {
        return Err(format!("--public-url must be scheme://host[:port][/path], got {raw:?}"));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked_and_trimmed() {
        assert_eq!(parse_public_url("https://s.example.com/"), Ok("https://s.example.com".into()));
        assert_eq!(parse_public_url("http://localhost:8080"), Ok("http://localhost:8080".into()));
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("https://").is_err());
        assert!(parse_public_url("https://x?y").is_err());
    }

    #[test]
    fn only_https_gets_secure_prefixed_cookies() {
        let mut c = Config::default();
        assert_eq!(c.cookie_name(), "sessiond_session");
        c.public_url = Some("https://x.example".into());
        assert!(c.secure_cookies());
        assert_eq!(c.cookie_name(), "__Host-sessiond_session");
    }
}
