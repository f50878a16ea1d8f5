//! Ids in paths: only positive decimal i64 values are accepted, and they round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessiond::api::auth::parse_id;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(id) = parse_id(s) {
        assert!(id > 0);
        assert_eq!(id.to_string(), s.trim_start_matches('0'));
    }
});
