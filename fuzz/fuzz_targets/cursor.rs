//! The cursor codec: arbitrary strings never panic, and whatever decodes re-encodes to a
//! cursor that decodes to the same position.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessiond::api::pagination::{decode_cursor, encode_cursor};
use sessiond::store::{Sort, SortKey};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for key in [SortKey::Id, SortKey::AuthenticatedAt, SortKey::LastSeenAt] {
        for descending in [false, true] {
            let sort = Sort { key, descending };
            if let Ok(pos) = decode_cursor(s, sort, "page[after]") {
                let again = encode_cursor(sort, pos);
                assert_eq!(decode_cursor(&again, sort, "page[after]").ok(), Some(pos));
            }
        }
    }
});
