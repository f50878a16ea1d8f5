//! Pagination over HTTP (SPEC §5).
