//! The wire form of every timestamp: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ` [C-2].

use crate::clock::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats epoch seconds as `2023-11-14T22:13:20Z`. Values outside the calendar range
/// `time` supports are clamped rather than panicking (they cannot come from our clock).
///
/// Every session in every answer carries two of these, so the digits are written straight
/// into a fixed buffer (one allocation) rather than through `format!`.
pub fn format_timestamp(t: Timestamp) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(t).unwrap_or(if t < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        // 9999-12-31T23:59:59Z
        OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    });
    // From the clamp above: 1970 <= year <= 9999, so four digits always suffice.
    let year = u32::try_from(dt.year()).unwrap_or(0);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, digits: usize, mut value: u32| {
        for i in (at..at + digits).rev() {
            if let Some(slot) = out.get_mut(i) {
                // `value % 10` is a single digit, so the cast cannot truncate.
                *slot = b'0' + (value % 10) as u8;
            }
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u32::from(u8::from(dt.month())));
    put(8, 2, u32::from(dt.day()));
    put(11, 2, u32::from(dt.hour()));
    put(14, 2, u32::from(dt.minute()));
    put(17, 2, u32::from(dt.second()));
    out.iter().map(|&b| char::from(b)).collect()
}

/// For people: `2023-11-14 22:13:20 UTC`.
pub fn format_human_utc(t: Timestamp) -> String {
    format_timestamp(t).replacen('T', " ", 1).replacen('Z', " UTC", 1)
}

/// How long ago `t` was at `now`, roughly, for people: "just now", "about 5 minutes ago",
/// "about 3 hours ago", "2 days ago". A `t` in the future (clock skew) reads "just now".
pub fn format_relative(now: Timestamp, t: Timestamp) -> String {
    let ago = now.saturating_sub(t);
    match ago {
        i64::MIN..60 => "just now".to_owned(),
        60..120 => "about a minute ago".to_owned(),
        120..3_600 => format!("about {} minutes ago", ago / 60),
        // Hours are rounded to the nearest; 23½ hours and more is a day.
        3_600..5_400 => "about an hour ago".to_owned(),
        5_400..84_600 => format!("about {} hours ago", (ago + 1_800) / 3_600),
        84_600..172_800 => "1 day ago".to_owned(),
        _ => format!("{} days ago", ago / 86_400),
    }
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
    fn fast_formatting_agrees_with_the_time_crate() {
        let reference = |t: Timestamp| {
            let dt = OffsetDateTime::from_unix_timestamp(t).unwrap();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            )
        };
        // Every boundary of a day, month and year somewhere in these, and leap days.
        let mut t: Timestamp = 0;
        while t < 253_402_300_799 {
            assert_eq!(format_timestamp(t), reference(t), "t = {t}");
            assert_eq!(format_timestamp(t + 86_399), reference(t + 86_399), "t = {}", t + 86_399);
            t += 86_400 * 7 + 3_661;
        }
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_timestamp(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn out_of_range_values_do_not_panic() {
        assert_eq!(format_timestamp(i64::MIN), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(i64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn human_forms() {
        assert_eq!(format_human_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        let now = 1_700_000_000;
        for (ago, text) in [
            (-30, "just now"),
            (0, "just now"),
            (59, "just now"),
            (60, "about a minute ago"),
            (119, "about a minute ago"),
            (5 * 60 + 10, "about 5 minutes ago"),
            (59 * 60 + 59, "about 59 minutes ago"),
            (3_600, "about an hour ago"),
            (2 * 3_600 + 1_799, "about 2 hours ago"),
            (2 * 3_600 + 1_800, "about 3 hours ago"),
            (23 * 3_600 + 1_800, "1 day ago"),
            (86_400 + 5, "1 day ago"),
            (3 * 86_400, "3 days ago"),
        ] {
            assert_eq!(format_relative(now, now - ago), text, "{ago}");
        }
        assert_eq!(format_relative(i64::MAX, i64::MIN), format!("{} days ago", i64::MAX / 86_400));
        assert_eq!(format_relative(i64::MIN, i64::MAX), "just now");
    }

    #[test]
    fn parses_rfc3339_with_offsets() {
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("2023-11-14T23:13:20.5+01:00"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
