//! Cookie headers: any bytes that form a header value, never a panic.
#![no_main]
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use sessiond::api::auth::{presented, session_cookie};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, value);
    if let Some(v) = session_cookie(&headers, "sessiond_session") {
        assert!(!v.contains(';'));
    }
    let _ = presented(&headers, "__Host-sessiond_session");
});
