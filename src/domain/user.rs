//! Users, roles and the validated inputs that create or change them.

use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};

pub type UserId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "agent")]
    Agent,
    #[serde(rename = "end-user")]
    EndUser,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::EndUser => "end-user",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            "end-user" => Some(Role::EndUser),
            _ => None,
        }
    }
    /// Admins and agents are "team members": they get the agent idle timeout and the
    /// maximum session duration.
    pub fn is_team_member(self) -> bool {
        matches!(self, Role::Admin | Role::Agent)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub suspended: bool,
    pub created_at: Timestamp,
}

/// An email address, trimmed and lower-cased: emails are unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// A deliberately modest check: one `@`, something on both sides, a dot in the domain,
    /// no whitespace or control characters, at most 254 bytes.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("cannot be blank");
        }
        if s.len() > Self::MAX_LEN {
            return Err("is too long (maximum is 254 characters)");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("is not a valid email address");
        };
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '@' || c == '/';
        if local.is_empty()
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || s.chars().filter(|&c| c == '@').count() != 1
            || local.chars().any(bad_char)
            || domain.chars().any(bad_char)
        {
            return Err("is not a valid email address");
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: trimmed, 1..=255 characters, no control characters.
pub fn validate_name(raw: &str) -> Result<String, &'static str> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("cannot be blank");
    }
    if s.chars().count() > 255 {
        return Err("is too long (maximum is 255 characters)");
    }
    if s.chars().any(char::is_control) {
        return Err("cannot contain control characters");
    }
    Ok(s.to_owned())
}

/// A new password: 8..=1024 bytes (the upper bound keeps hashing cost bounded).
pub fn validate_password(raw: &str) -> Result<(), &'static str> {
    if raw.chars().count() < 8 {
        return Err("is too short (minimum is 8 characters)");
    }
    if raw.len() > 1024 {
        return Err("is too long (maximum is 1024 bytes)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").map(|e| e.0), Ok("ada@example.com".into()));
        for bad in ["", "ada", "ada@", "@x.io", "a@b", "a b@x.io", "a@@x.io", "a@x.io.", "a/token@x.io"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Email::parse(&format!("{}@x.io", "a".repeat(260))).is_err());
    }

    #[test]
    fn roles_round_trip_with_their_wire_spelling() {
        for r in [Role::Admin, Role::Agent, Role::EndUser] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("end_user"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn names_and_passwords_are_bounded() {
        assert!(validate_name("  ").is_err());
        assert!(validate_name(&"x".repeat(256)).is_err());
        assert_eq!(validate_name(" Ada "), Ok("Ada".into()));
        assert!(validate_password("short").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
        assert!(validate_password("long enough").is_ok());
    }
}
