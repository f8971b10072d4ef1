//! `eventTime` parsing and formatting.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Formats a time the way CloudTrail writes `eventTime`: `2026-11-23T08:15:02Z` (UTC, second
/// precision, sub-second part dropped).
pub fn format_event_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a record timestamp (`eventTime`, `creationDate`) into UTC.
///
/// Accepted, in order:
/// - CloudTrail's own form `YYYY-MM-DDTHH:MM:SSZ` (fast path);
/// - any RFC 3339 date-time: fractional seconds, `z`, numeric offsets (`+02:00`, converted to
///   UTC), `t` or a space as separator;
/// - no zone at all (`2026-11-23T08:15:02`, `2026-11-23 08:15:02.5`): taken as UTC;
/// - the ISO 8601 basic form of old `creationDate` values, `20131102T010628Z`.
///
/// Leading/trailing whitespace is ignored. Returns `None` for anything else, including
/// out-of-range dates.
pub fn parse_event_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = parse_canonical(s.as_bytes()) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y%m%dT%H%M%SZ",
        "%Y%m%dT%H%M%S",
    ];
    NAIVE
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
        .map(|naive| naive.and_utc())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, exactly.
fn parse_canonical(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?
        .and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn canonical() {
        assert_eq!(
            parse_event_time("2026-11-23T08:15:02Z"),
            Some(utc(2026, 11, 23, 8, 15, 2))
        );
        assert_eq!(
            parse_event_time(" 2023-07-10T11:42:18Z\n"),
            Some(utc(2023, 7, 10, 11, 42, 18))
        );
        assert_eq!(parse_event_time("2023-02-30T11:42:18Z"), None);
        assert_eq!(parse_event_time("2023-07-10T24:42:18Z"), None);
        assert_eq!(parse_event_time("2023-07-10T1a:42:18Z"), None);
    }

    #[test]
    fn tolerated_forms() {
        let base = utc(2026, 11, 23, 8, 15, 2);
        let frac = base + chrono::Duration::milliseconds(123);
        assert_eq!(parse_event_time("2026-11-23T08:15:02.123Z"), Some(frac));
        assert_eq!(parse_event_time("2026-11-23T08:15:02.123"), Some(frac));
        assert_eq!(parse_event_time("2026-11-23T08:15:02"), Some(base));
        assert_eq!(parse_event_time("2026-11-23 08:15:02"), Some(base));
        assert_eq!(parse_event_time("2026-11-23T08:15:02z"), Some(base));
        assert_eq!(parse_event_time("2026-11-23T10:15:02+02:00"), Some(base));
        assert_eq!(
            parse_event_time("2026-11-23T08:15:02.000+00:00"),
            Some(base)
        );
        assert_eq!(parse_event_time("20261123T081502Z"), Some(base));
        assert_eq!(parse_event_time("20261123T081502"), Some(base));
    }

    #[test]
    fn rejected_forms() {
        for s in [
            "",
            "2026-11-23",
            "yesterday",
            "1700000000",
            "2026-11-23T08:15Z",
        ] {
            assert_eq!(parse_event_time(s), None, "{s:?}");
        }
    }

    #[test]
    fn format() {
        let t = utc(2026, 11, 23, 8, 15, 2) + chrono::Duration::milliseconds(999);
        assert_eq!(format_event_time(t), "2026-11-23T08:15:02Z");
        assert_eq!(
            format_event_time(utc(2023, 7, 10, 0, 0, 0)),
            "2023-07-10T00:00:00Z"
        );
        let s = "2024-02-29T23:59:59Z";
        assert_eq!(format_event_time(parse_event_time(s).unwrap()), s);
    }
}
