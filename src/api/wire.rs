//! Wire shapes: how sessions and users look in JSON [C-1] [C-2] [C-3].

use crate::config::Config;
use crate::domain::time::format_timestamp;
use crate::domain::{Session, User};
use serde::Serialize;
use serde_json::{Value, json};

/// A session on the wire: exactly these five fields, in this order [C-1].
#[derive(Debug, Serialize)]
pub struct SessionJson {
    pub authenticated_at: String,
    pub id: i64,
    pub last_seen_at: String,
    pub url: String,
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
/// under `--session-as-array` [C-21] [E-6].
pub fn single_session(config: &Config, base: &str, s: &Session) -> Value {
    let one = json!(SessionJson::new(base, s));
    if config.session_as_array { Value::Array(vec![one]) } else { one }
}

#[derive(Debug, Serialize)]
pub struct UserJson {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub suspended: bool,
    pub created_at: String,
    pub url: String,
}

impl UserJson {
    pub fn new(base: &str, u: &User) -> Self {
        Self {
            id: u.id,
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.as_str(),
            suspended: u.suspended,
            created_at: format_timestamp(u.created_at),
            url: format!("{base}/api/v2/users/{}.json", u.id),
        }
    }
}
