//! The `Authorization` header parser: any bytes, never a panic; what it accepts is
//! consistent with what it was given.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessiond::api::auth::{Presented, parse_authorization};

fuzz_target!(|data: &[u8]| {
    match parse_authorization(data) {
        Presented::Bearer(token) => assert!(!token.is_empty() && !token.contains(char::is_whitespace)),
        Presented::Password { email, password } => assert!(!email.is_empty() && !password.is_empty()),
        Presented::ApiToken { email: _, token } => assert!(!token.is_empty()),
        _ => {}
    }
});
