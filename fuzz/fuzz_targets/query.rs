//! Query strings: list parameters and `ids` lists, never a panic; accepted values are in range.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessiond::api::pagination::{ListRequest, RawParams};
use sessiond::api::sessions::parse_ids;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else { return };
    match ListRequest::from_params(&RawParams::parse(Some(q))) {
        Ok(ListRequest::Cursor { size, .. }) => assert!((1..=100).contains(&size)),
        Ok(ListRequest::Offset { page, per_page, .. }) => {
            assert!((1..=100).contains(&per_page) && page >= 1 && u64::from(page) * u64::from(per_page) <= 10_000)
        }
        Err(_) => {}
    }
    if let Ok(ids) = parse_ids(Some(q)) {
        assert!(!ids.is_empty() && ids.len() <= 100 && ids.iter().all(|&i| i > 0));
    }
});
