//! Sessions and the rules that end them (SPEC §6).

use crate::clock::Timestamp;
use crate::domain::user::{Role, UserId};
use serde::{Deserialize, Serialize};

pub type SessionId = i64;

/// A session as the store holds it (minus its token digest, which never leaves the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub authenticated_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// A session found by its token, with what authentication needs in one read.
#[derive(Clone)]
pub struct SessionAuth {
    pub session: Session,
    pub csrf_secret: Vec<u8>,
}

/// The security settings of SPEC §6, in minutes, with Zendesk's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Idle timeout of team members (admins, agents), minutes.
    #[schema(minimum = 1, maximum = 20160)]
    pub agent_session_timeout: i64,
    /// Idle timeout of end users, minutes.
    #[schema(minimum = 1, maximum = 20160)]
    pub end_user_session_timeout: i64,
    /// Longest a team member's session may last, minutes, when enabled.
    #[schema(minimum = 1, maximum = 20160)]
    pub maximum_session_duration: i64,
    pub maximum_session_duration_enabled: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            agent_session_timeout: 60,
            end_user_session_timeout: 480,
            maximum_session_duration: 720,
            maximum_session_duration_enabled: false,
        }
    }
}

/// Everything needed to decide whether a session has ended, at one instant.
///
/// `last_seen_at` is only written when it is older than the activity resolution, so the
/// stored value may trail the real last request by up to the resolution. A session is
/// therefore given `resolution` seconds of grace on top of its idle timeout: it never ends
/// before it has really been idle for the timeout, and outlives it by at most the
/// resolution [E-15].
#[derive(Debug, Clone, Copy)]
pub struct ExpiryPolicy {
    pub now: Timestamp,
    pub settings: SecuritySettings,
    pub activity_resolution: i64,
}

/// Cut-off instants derived from an [`ExpiryPolicy`]: a session is alive while its
/// `last_seen_at` is strictly after the idle cut-off of its user's kind and, for team
/// members when enabled, its `authenticated_at` is strictly after the duration cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub team_idle: Timestamp,
    pub end_user_idle: Timestamp,
    pub team_max_duration: Timestamp,
}

impl ExpiryPolicy {
    pub fn cutoffs(&self) -> Cutoffs {
        let s = &self.settings;
        let grace = self.activity_resolution.max(0);
        Cutoffs {
            team_idle: self.now.saturating_sub(s.agent_session_timeout.saturating_mul(60)).saturating_sub(grace),
            end_user_idle: self.now.saturating_sub(s.end_user_session_timeout.saturating_mul(60)).saturating_sub(grace),
            team_max_duration: if s.maximum_session_duration_enabled {
                self.now.saturating_sub(s.maximum_session_duration.saturating_mul(60))
            } else {
                i64::MIN
            },
        }
    }

    pub fn is_alive(&self, session: &Session, role: Role) -> bool {
        let c = self.cutoffs();
        if role.is_team_member() {
            session.last_seen_at > c.team_idle && session.authenticated_at > c.team_max_duration
        } else {
            session.last_seen_at > c.end_user_idle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(now: i64, enabled: bool) -> ExpiryPolicy {
        ExpiryPolicy {
            now,
            settings: SecuritySettings { maximum_session_duration_enabled: enabled, ..Default::default() },
            activity_resolution: 60,
        }
    }

    fn session(auth: i64, seen: i64) -> Session {
        Session { id: 1, user_id: 1, authenticated_at: auth, last_seen_at: seen }
    }

    #[test]
    fn idle_timeout_depends_on_the_kind_of_user_plus_the_resolution() {
        let s = session(0, 0);
        // agent: 60 min + 60 s of grace
        assert!(policy(3659, false).is_alive(&s, Role::Agent));
        assert!(!policy(3660, false).is_alive(&s, Role::Agent));
        // end user: 480 min + 60 s
        assert!(policy(480 * 60 + 59, false).is_alive(&s, Role::EndUser));
        assert!(!policy(480 * 60 + 60, false).is_alive(&s, Role::EndUser));
    }

    #[test]
    fn maximum_duration_applies_to_team_members_only_when_enabled() {
        let s = session(0, 720 * 60);
        assert!(policy(720 * 60 + 1, false).is_alive(&s, Role::Admin));
        assert!(policy(720 * 60 - 1, true).is_alive(&s, Role::Admin));
        assert!(!policy(720 * 60, true).is_alive(&s, Role::Admin));
        assert!(policy(720 * 60 + 1, true).is_alive(&s, Role::EndUser));
    }

    #[test]
    fn extreme_settings_do_not_overflow() {
        let p = ExpiryPolicy {
            now: i64::MIN + 5,
            settings: SecuritySettings {
                agent_session_timeout: i64::MAX,
                end_user_session_timeout: i64::MAX,
                maximum_session_duration: i64::MAX,
                maximum_session_duration_enabled: true,
            },
            activity_resolution: i64::MAX,
        };
        let _ = p.cutoffs();
    }
}
