//! One integration binary: every test spawns a real sessiond and talks HTTP to it.

#[path = "../support/mod.rs"]
mod support;

/// The engine every test of this binary runs on.
pub const ENGINE: support::Engine = support::Engine::Sqlite;

mod common;

mod access;
mod accounts;
mod auth;
mod cli;
mod compat;
mod expiry;
mod ops;
mod pages;
mod pagination;
mod security;
mod sessions;
