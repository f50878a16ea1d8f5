//! The vocabulary of sessiond, free of HTTP and SQL.

pub mod secret;
pub mod session;
pub mod throttle;
pub mod time;
pub mod user;
pub mod user_agent;

pub use session::{Cutoffs, ExpiryPolicy, SecuritySettings, Session, SessionAuth, SessionId};
pub use user::{Email, Role, User, UserId};
