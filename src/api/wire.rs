//! Wire shapes: every JSON body the API answers with, as types. Handlers serialize these and
//! the OpenAPI document ([`crate::api::openapi`]) describes them, so the two cannot drift
//! [C-1] [C-2] [C-3]. Field order is alphabetical, as Zendesk writes it.
//!
//! Response types say `deny_unknown_fields` only so that their schema says
//! `additionalProperties: false`: a body has exactly the fields listed. Every timestamp has
//! the pattern `YYYY-MM-DDTHH:MM:SSZ` in its schema [C-2] [E-5].

use crate::config::Config;
use crate::domain::time::format_timestamp;
use crate::domain::{SecuritySettings, Session, User};
use serde::Serialize;
use utoipa::ToSchema;

/// A session: exactly these five fields [C-1].
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Session, example = json!({"authenticated_at": "2014-11-18T17:24:29Z", "id": 3432,
    "last_seen_at": "2014-11-18T17:30:52Z", "url": "https://company.zendesk.com/api/v2/users/12345/sessions/3432.json",
    "user_id": 12345}))]
pub struct SessionJson {
    /// When the session was created (sign-in).
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")]
    pub authenticated_at: String,
    /// Assigned when the session is created; increasing.
    #[schema(minimum = 1)]
    pub id: i64,
    /// The last approximate time this session was seen; it does not move on every request.
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")]
    pub last_seen_at: String,
    /// `{base}/api/v2/users/{user_id}/sessions/{id}.json`.
    #[schema(format = "uri")]
    pub url: String,
    /// The id of the session's user.
    #[schema(minimum = 1)]
    pub user_id: i64,
}

impl SessionJson {
    pub fn new(base: &str, s: &Session) -> Self {
        Self {
            authenticated_at: format_timestamp(s.authenticated_at),
            id: s.id,
            last_seen_at: format_timestamp(s.last_seen_at),
            url: format!("{base}/api/v2/users/{}/sessions/{}.json", s.user_id, s.id),
            user_id: s.user_id,
        }
    }
}

/// The value of `"session"` in a single-session body: an object, or a one-element array
/// under `--session-as-array` [C-21] [E-6]. The served document names the one in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OneSession {
    Object(SessionJson),
    /// Exactly one element.
    Array(Vec<SessionJson>),
}

/// The single session of `s` as this server writes it.
pub fn single_session(config: &Config, base: &str, s: &Session) -> OneSession {
    let one = SessionJson::new(base, s);
    if config.session_as_array { OneSession::Array(vec![one]) } else { OneSession::Object(one) }
}

/// `{"session": …}`: show, current session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    pub session: OneSession,
}

/// A JSON sign-in: the new session and the authenticity (CSRF) token for cookie writes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    /// Send it back in `X-CSRF-Token` on cookie-authenticated writes.
    pub authenticity_token: String,
    pub session: OneSession,
}

/// `{"authenticity_token": …}`: renew.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticityTokenBody {
    pub authenticity_token: String,
}

/// A list page under offset pagination (no `page[size]`) [C-39].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetPage {
    /// Every live session in the list.
    pub count: i64,
    /// The next page's absolute URL; null on the last page.
    #[schema(required = true, format = "uri")]
    pub next_page: Option<String>,
    /// The previous page's absolute URL; null on the first.
    #[schema(required = true, format = "uri")]
    pub previous_page: Option<String>,
    pub sessions: Vec<SessionJson>,
}

/// A list page under cursor pagination (`page[size]`, `page[after]` or `page[before]`) [C-33].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CursorPage {
    pub links: CursorLinks,
    pub meta: CursorMeta,
    pub sessions: Vec<SessionJson>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CursorMeta {
    /// Opaque cursor of the page's last item, for `page[after]`; null on an empty page.
    #[schema(required = true)]
    pub after_cursor: Option<String>,
    /// Opaque cursor of the page's first item, for `page[before]`; null on an empty page.
    #[schema(required = true)]
    pub before_cursor: Option<String>,
    /// Whether more sessions exist in the direction of the request [E-9].
    pub has_more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CursorLinks {
    /// Absolute URL of the next page; null when no session follows this page.
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// Absolute URL of the previous page; null when no session precedes this page.
    #[schema(required = true, format = "uri")]
    pub prev: Option<String>,
}

/// Lists answer in the form the request chose: cursor when `page[size]`, `page[after]` or
/// `page[before]` is present, offset otherwise.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SessionList {
    Cursor(CursorPage),
    Offset(OffsetPage),
}

/// A user [E-2]. `authenticity_token` only on `GET /api/v2/users/me` by a cookie session [E-7].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
pub struct UserJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticity_token: Option<String>,
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")]
    pub created_at: String,
    pub email: String,
    #[schema(minimum = 1)]
    pub id: i64,
    pub name: String,
    #[schema(value_type = RoleName)]
    pub role: &'static str,
    pub suspended: bool,
    /// `{base}/api/v2/users/{id}.json`.
    #[schema(format = "uri")]
    pub url: String,
}

/// A role, spelled exactly so on the wire.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum RoleName {
    Admin,
    Agent,
    EndUser,
}

impl UserJson {
    pub fn new(base: &str, u: &User) -> Self {
        Self {
            authenticity_token: None,
            created_at: format_timestamp(u.created_at),
            email: u.email.clone(),
            id: u.id,
            name: u.name.clone(),
            role: u.role.as_str(),
            suspended: u.suspended,
            url: format!("{base}/api/v2/users/{}.json", u.id),
        }
    }
}

/// `{"user": …}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub user: UserJson,
}

/// `{}`: a password change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// An API token. `token` is there once, in the answer to its creation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenJson {
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")]
    pub created_at: String,
    pub description: String,
    #[schema(minimum = 1)]
    pub id: i64,
    /// The secret, shown only at creation: use it as `Basic base64(email/token:TOKEN)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenBody {
    pub api_token: ApiTokenJson,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenList {
    pub api_tokens: Vec<ApiTokenJson>,
}

/// A new OAuth access token; `full_token` is shown only here.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthTokenJson {
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")]
    pub created_at: String,
    #[schema(required = true, format = DateTime)]
    pub expires_at: Option<String>,
    /// The secret: use it as `Bearer TOKEN`.
    pub full_token: String,
    #[schema(minimum = 1)]
    pub id: i64,
    #[schema(value_type = Vec<ScopeName>)]
    pub scopes: Vec<String>,
    #[schema(minimum = 1)]
    pub user_id: i64,
}

/// An OAuth scope: `read` allows GET, `write` everything else.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ScopeName {
    Read,
    Write,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthTokenBody {
    pub token: OAuthTokenJson,
}

/// `{"security_settings": …}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettingsBody {
    pub security_settings: SecuritySettings,
}
