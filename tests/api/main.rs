//! One integration binary: every test spawns a real sessiond and talks HTTP to it.

mod common;

mod access;
mod auth;
mod cli;
mod expiry;
mod pagination;
mod sessions;
mod accounts;
