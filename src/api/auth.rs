//! Who is calling: the one place that reads credentials (SPEC §3).
//!
//! Order: an `Authorization` header wins and the cookie is then ignored entirely [E-11];
//! otherwise the session cookie; otherwise 401 — never an anonymous user [C-9]. OAuth
//! scopes and the CSRF rule for cookie writes are checked here too, so that handlers only
//! see callers who may use the method they called. Nothing here logs a credential.

use crate::AppState;
use crate::api::error::ApiError;
use crate::domain::secret::{TokenDigest, plausible_token, verify_csrf_token};
use crate::domain::throttle::{Attempt, ThrottlePolicy, account_key};
use crate::domain::{Email, Session, User, UserId};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use std::net::{IpAddr, SocketAddr};

/// How the caller proved who they are.
#[derive(Clone)]
pub enum Carrier {
    Password,
    ApiToken {
        token_id: i64,
    },
    OAuth {
        token_id: i64,
        scopes: Vec<String>,
    },
    /// The session cookie: the only carrier with a "current session".
    Session {
        session: Session,
        csrf_secret: Vec<u8>,
    },
}

/// An authenticated caller.
#[derive(Clone)]
pub struct Principal {
    pub user: User,
    pub carrier: Carrier,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.user.role == crate::domain::Role::Admin
    }

    pub fn current_session(&self) -> Option<&Session> {
        match &self.carrier {
            Carrier::Session { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Resolves a `{user_id}` path segment (`me` or digits) and checks the caller may act
    /// on that user: admins on anyone, others only on themselves [C-6] [C-26] [E-12].
    /// A segment that is not an id is a 404 [C-28].
    pub fn target_user(&self, segment: &str) -> Result<UserId, ApiError> {
        let id = if segment == "me" { self.user.id } else { parse_id(segment).ok_or(ApiError::RecordNotFound)? };
        if id != self.user.id && !self.is_admin() {
            return Err(ApiError::Forbidden);
        }
        Ok(id)
    }

    /// Admin-only endpoints [E-3].
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

/// A positive decimal id as it may appear in a path: digits only, fits in i64.
pub fn parse_id(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|&n| n > 0)
}

/// Credentials as presented, parsed but not yet checked.
#[derive(PartialEq, Eq)]
pub enum Presented {
    Password {
        email: String,
        password: String,
    },
    ApiToken {
        email: String,
        token: String,
    },
    Bearer(String),
    Cookie(String),
    None,
    /// An `Authorization` header we cannot read: 401 of the kind its scheme implies.
    Malformed {
        bearer: bool,
    },
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a credential, even in a test failure.
        let kind = match self {
            Presented::Password { .. } => "Password",
            Presented::ApiToken { .. } => "ApiToken",
            Presented::Bearer(_) => "Bearer",
            Presented::Cookie(_) => "Cookie",
            Presented::None => "None",
            Presented::Malformed { .. } => "Malformed",
        };
        f.write_str(kind)
    }
}

/// Reads the credentials of a request. Pure: no I/O, no allocation of secrets beyond what
/// the request carried.
pub fn presented(headers: &HeaderMap, cookie_name: &str) -> Presented {
    let mut auth = headers.get_all(header::AUTHORIZATION).iter();
    if let Some(value) = auth.next() {
        if auth.next().is_some() {
            return Presented::Malformed { bearer: false };
        }
        return parse_authorization(value.as_bytes());
    }
    match session_cookie(headers, cookie_name) {
        Some(token) => Presented::Cookie(token),
        None => Presented::None,
    }
}

/// Parses one `Authorization` header value.
pub fn parse_authorization(raw: &[u8]) -> Presented {
    let Ok(value) = std::str::from_utf8(raw) else {
        return Presented::Malformed { bearer: false };
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Presented::Malformed { bearer: true };
        }
        return Presented::Bearer(rest.to_owned());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Presented::Malformed { bearer: false };
    }
    let decoded = STANDARD.decode(rest).or_else(|_| STANDARD_NO_PAD.decode(rest));
    let Some(text) = decoded.ok().and_then(|d| String::from_utf8(d).ok()) else {
        return Presented::Malformed { bearer: false };
    };
    let Some((user, secret)) = text.split_once(':') else {
        return Presented::Malformed { bearer: false };
    };
    if user.is_empty() || secret.is_empty() {
        return Presented::Malformed { bearer: false };
    }
    match user.strip_suffix("/token") {
        Some(email) => Presented::ApiToken { email: email.to_owned(), token: secret.to_owned() },
        None => Presented::Password { email: user.to_owned(), password: secret.to_owned() },
    }
}

/// The value of our session cookie, if the request carries one. Other cookies, and
/// malformed cookie headers, are ignored.
pub fn session_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Looks up the session a cookie names, if it is alive; records activity when the stored
/// `last_seen_at` is older than the activity resolution (so at most one write per session
/// per resolution, not one per request) [C-42].
pub async fn session_for_token(state: &AppState, token: &str) -> Result<Option<(User, Session, Vec<u8>)>, ApiError> {
    if !plausible_token(token) {
        return Ok(None);
    }
    let digest = TokenDigest::of(token);
    let Some((mut auth, mut user, mut settings)) = state.store.session_by_token(&digest).await? else {
        return Ok(None);
    };
    if !state.expiry(settings).is_alive(&auth.session, user.role) {
        // The answer may come from the cache, whose `last_seen_at` can lag (never lead) the
        // database's: believe "ended" only from the database itself.
        let Some(fresh) = state.store.session_by_token_uncached(&digest).await? else {
            return Ok(None);
        };
        (auth, user, settings) = fresh;
    }
    let policy = state.expiry(settings);
    if user.suspended {
        return Ok(None);
    }
    if !policy.is_alive(&auth.session, user.role) {
        // Ended: delete it now, so that no later settings change can bring it back.
        state.store.delete_session(auth.session.id).await?;
        tracing::info!(event = "session_revoked", reason = "expiry", session_id = auth.session.id, user_id = user.id);
        return Ok(None);
    }
    let mut session = auth.session;
    if state.activity.claim(session.id, session.last_seen_at, policy.now, state.config.activity_resolution) {
        state.store.touch_session(session.id, policy.now).await?;
        state.store.note_activity(&digest, policy.now);
        session.last_seen_at = session.last_seen_at.max(policy.now);
    }
    Ok(Some((user, session, auth.csrf_secret)))
}

/// The state-changing GETs Zendesk defines (renew, GET logout) cannot carry a CSRF token,
/// so when authenticated by cookie they refuse cross-site browser requests: a
/// `Sec-Fetch-Site: cross-site`, or an `Origin` other than our own.
pub fn refuse_cross_site(principal: &Principal, headers: &HeaderMap, our_base: &str) -> Result<(), ApiError> {
    if matches!(principal.carrier, Carrier::Session { .. }) && is_cross_site(headers, our_base) {
        return Err(ApiError::InvalidAuthenticityToken);
    }
    Ok(())
}

/// Whether a browser says this request comes from another site: `Sec-Fetch-Site` other
/// than `same-origin` or `none` (user-initiated), or an `Origin` that is not ours. Requests
/// without either header (API clients, old browsers) are not judged here.
pub fn is_cross_site(headers: &HeaderMap, our_base: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("").trim();
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return true;
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let theirs = origin.to_str().unwrap_or("").trim_end_matches('/');
        if !theirs.eq_ignore_ascii_case(origin_of(our_base)) {
            return true;
        }
    }
    false
}

/// `scheme://host[:port]` of a base URL that may carry a path.
fn origin_of(base: &str) -> &str {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base.get(after_scheme..).and_then(|rest| rest.find('/')) {
        Some(slash) => base.get(..after_scheme + slash).unwrap_or(base),
        None => base,
    }
}

/// May this authenticated caller use this method? OAuth: GET needs `read`, every other
/// method `write` [C-11] [E-13]. Cookie: writes need a valid `X-CSRF-Token` [C-12].
pub fn authorize_method(principal: &Principal, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    match &principal.carrier {
        Carrier::OAuth { scopes, .. } => {
            let needed = if is_safe_method(method) { "read" } else { "write" };
            if !scopes.iter().any(|s| s == needed) {
                return Err(ApiError::MissingScope(needed));
            }
        }
        Carrier::Session { csrf_secret, .. } if !is_safe_method(method) => {
            let presented = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !verify_csrf_token(presented, csrf_secret) {
                return Err(ApiError::InvalidAuthenticityToken);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks credentials and builds the [`Principal`], or the exact 401 SPEC §3 names.
pub async fn authenticate(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<Principal, ApiError> {
    match presented(headers, state.config.cookie_name()) {
        Presented::None | Presented::Malformed { bearer: false } => Err(ApiError::Unauthenticated),
        Presented::Malformed { bearer: true } => Err(ApiError::InvalidToken),
        Presented::Password { email, password } => {
            if state.config.disable_password_auth {
                return Err(ApiError::Unauthenticated);
            }
            let (user, _) =
                check_password_from(state, &email, password, peer).await?.ok_or(ApiError::Unauthenticated)?;
            Ok(Principal { user, carrier: Carrier::Password })
        }
        Presented::ApiToken { email, token } => {
            if !plausible_token(&token) {
                return Err(ApiError::Unauthenticated);
            }
            let (tok, user) =
                state.store.api_token_user(&TokenDigest::of(&token)).await?.ok_or(ApiError::Unauthenticated)?;
            let email_matches = Email::parse(&email).is_ok_and(|e| e.as_str() == user.email);
            if !email_matches || user.suspended {
                return Err(ApiError::Unauthenticated);
            }
            Ok(Principal { user, carrier: Carrier::ApiToken { token_id: tok.id } })
        }
        Presented::Bearer(token) => {
            if !plausible_token(&token) {
                return Err(ApiError::InvalidToken);
            }
            let (tok, user) =
                state.store.oauth_token_user(&TokenDigest::of(&token)).await?.ok_or(ApiError::InvalidToken)?;
            let expired = tok.expires_at.is_some_and(|t| t <= state.clock.now());
            if expired || user.suspended {
                return Err(ApiError::InvalidToken);
            }
            Ok(Principal { user, carrier: Carrier::OAuth { token_id: tok.id, scopes: tok.scopes } })
        }
        Presented::Cookie(token) => {
            let (user, session, csrf_secret) =
                session_for_token(state, &token).await?.ok_or(ApiError::Unauthenticated)?;
            Ok(Principal { user, carrier: Carrier::Session { session, csrf_secret } })
        }
    }
}

/// Email and password: the user if they match and the user is not suspended. Throttled per
/// account and per client address (SPEC §8): while throttled the answer is 429 even for the
/// right password [E-18]. The hash is checked on a blocking thread, against a dummy hash for
/// unknown emails, so neither timing nor throttling tells whether an email exists.
pub async fn check_password_from(
    state: &AppState,
    email: &str,
    password: String,
    ip: Option<IpAddr>,
) -> Result<Option<(User, String)>, ApiError> {
    // First a hashing slot, so that a flood waits (or is refused) before it costs anything.
    let _permit = state.hash_permit().await?;
    let normalised = Email::parse(email).map(|e| e.as_str().to_owned()).unwrap_or_else(|_| email.trim().to_lowercase());
    let ip_text = ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let account = account_key(&normalised);
    let attempt =
        state.store.begin_sign_in_attempt(&account, &ip_text, state.clock.now(), ThrottlePolicy::default()).await?;
    let ticket = match attempt {
        Attempt::Allowed(ticket) => ticket,
        Attempt::Throttled(retry_after) => {
            tracing::info!(event = "sign_in_throttled", ip = %ip_text, retry_after);
            return Err(ApiError::TooManyRequests { retry_after: u64::try_from(retry_after).unwrap_or(1) });
        }
    };
    let found = match Email::parse(email) {
        Ok(e) => state.store.user_by_email(e.as_str()).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let ok = state.verify_password(password, hash.clone()).await;
    let user = match (user, hash) {
        (Some(u), Some(h)) if ok && !u.suspended => Some((u, h)),
        _ => None,
    };
    match &user {
        Some((u, _)) => {
            state.store.release_sign_in_attempt(ticket, &account, &ip_text, state.clock.now()).await?;
            tracing::info!(event = "sign_in_succeeded", user_id = u.id, ip = %ip_text);
        }
        None => tracing::info!(event = "sign_in_failed", ip = %ip_text),
    }
    Ok(user)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| crate::api::client_ip(&state.config.trusted_proxies, c.0.ip(), &parts.headers));
        // Order of judgement [E-12]: who (401), then the rate limit (429), then may they use
        // this method (scope or CSRF, 403). Every authenticated request counts [E-24].
        let principal = authenticate(state, &parts.headers, peer).await?;
        let info = state.rate.hit(principal.user.id, state.clock.now());
        crate::api::limits::note_rate(info);
        if let Some(retry_after) = info.retry_after {
            return Err(ApiError::TooManyRequests { retry_after });
        }
        authorize_method(&principal, &parts.method, &parts.headers)?;
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(s: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(s)).into_bytes()
    }

    #[test]
    fn basic_password_and_api_token_forms() {
        assert_eq!(
            parse_authorization(&basic("ada@x.io:pw:with:colons")),
            Presented::Password { email: "ada@x.io".into(), password: "pw:with:colons".into() }
        );
        assert_eq!(
            parse_authorization(&basic("ada@x.io/token:abc")),
            Presented::ApiToken { email: "ada@x.io".into(), token: "abc".into() }
        );
        assert_eq!(
            parse_authorization(b"bAsIc   YWRhQHguaW86cHc="),
            Presented::Password { email: "ada@x.io".into(), password: "pw".into() }
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_trimmed() {
        assert_eq!(parse_authorization(b"  BEARER   tok  "), Presented::Bearer("tok".into()));
        assert_eq!(parse_authorization(b"bearer"), Presented::Malformed { bearer: true });
        assert_eq!(parse_authorization(b"Bearer a b"), Presented::Malformed { bearer: true });
    }

    #[test]
    fn malformed_headers_are_refused_not_panicked_on() {
        for raw in [
            &b"Basic !!!notbase64"[..],
            &basic("no-colon"),
            &basic(":pw"),
            &basic("ada@x.io:"),
            b"Basic \xff\xfe",
            b"\xc3\x28",
            b"Digest abc",
            b"",
            b"Basic",
        ] {
            assert_eq!(parse_authorization(raw), Presented::Malformed { bearer: false }, "{raw:?}");
        }
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0x3a, 0x41]));
        assert_eq!(parse_authorization(not_utf8.as_bytes()), Presented::Malformed { bearer: false });
    }

    #[test]
    fn header_wins_over_cookie_and_two_headers_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("sessiond_session=abc"));
        assert_eq!(presented(&h, "sessiond_session"), Presented::Cookie("abc".into()));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        assert_eq!(presented(&h, "sessiond_session"), Presented::Bearer("t".into()));
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer u"));
        assert_eq!(presented(&h, "sessiond_session"), Presented::Malformed { bearer: false });
    }

    #[test]
    fn cookie_parsing_finds_ours_among_others_and_ignores_garbage() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; junk; sessiond_session=\"tok\"; b=2"));
        assert_eq!(session_cookie(&h, "sessiond_session"), Some("tok".into()));
        assert_eq!(session_cookie(&h, "__Host-sessiond_session"), None);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_bytes(b"sessiond_session=\xff").unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(session_cookie(&h, "sessiond_session"), None);
    }

    #[test]
    fn origins_of_base_urls() {
        assert_eq!(origin_of("https://s.example.com/auth"), "https://s.example.com");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn path_ids_are_positive_decimal_i64() {
        assert_eq!(parse_id("42"), Some(42));
        for bad in ["", "0", "-1", "+1", "1.5", "1e3", "abc", "99999999999999999999", "9223372036854775808", " 1"] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
        assert_eq!(parse_id("9223372036854775807"), Some(i64::MAX));
    }
}
