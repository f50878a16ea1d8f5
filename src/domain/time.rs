//! The wire form of every timestamp: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ` [C-2].

use crate::clock::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats epoch seconds as `2023-11-14T22:13:20Z`. Values outside the calendar range
/// `time` supports are clamped rather than panicking (they cannot come from our clock).
pub fn format_timestamp(t: Timestamp) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(t).unwrap_or(if t < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        // 9999-12-31T23:59:59Z
        OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    });
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Parses an RFC 3339 timestamp (any offset, fractions dropped) into epoch seconds.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|dt| dt.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_in_utc_with_z() {
        assert_eq!(format_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn out_of_range_values_do_not_panic() {
        assert_eq!(format_timestamp(i64::MIN), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(i64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn parses_rfc3339_with_offsets() {
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("2023-11-14T23:13:20.5+01:00"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
