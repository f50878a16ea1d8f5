//! The same integration suite as `tests/api`, every test on PostgreSQL (its own schema).

#[path = "../support/mod.rs"]
mod support;

/// The engine every test of this binary runs on.
pub const ENGINE: support::Engine = support::Engine::Postgres;

#[path = "../api/common.rs"]
mod common;

#[path = "../api/access.rs"]
mod access;
#[path = "../api/accounts.rs"]
mod accounts;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/cli.rs"]
mod cli;
#[path = "../api/compat.rs"]
mod compat;
#[path = "../api/expiry.rs"]
mod expiry;
#[path = "../api/ops.rs"]
mod ops;
#[path = "../api/pages.rs"]
mod pages;
#[path = "../api/pagination.rs"]
mod pagination;
#[path = "../api/security.rs"]
mod security;
#[path = "../api/sessions.rs"]
mod sessions;
