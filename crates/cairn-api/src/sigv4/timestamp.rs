//! The request timestamp: which header it came from, its ISO-8601 basic form
//! (the second line of the string to sign) and the clock-skew check.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::authorization::truncate;
use super::error::{SigV4Error, SigV4ErrorKind};

/// `YYYYMMDD'T'HHMMSS'Z'`, the only form SigV4 signs.
const BASIC_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// When the client says it signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestTime {
    /// The lowercase name of the header the time came from; it must be signed.
    pub header: &'static str,
    /// The time in ISO-8601 basic format, as it appears in the string to sign.
    pub basic: String,
    pub at: DateTime<Utc>,
}

impl RequestTime {
    /// Picks `X-Amz-Date`, falling back to `Date` as AWS does.
    pub fn from_headers(x_amz_date: Option<&str>, date: Option<&str>) -> Result<Self, SigV4Error> {
        match (x_amz_date, date) {
            (Some(value), _) => Self::from_x_amz_date(value),
            (None, Some(value)) => Self::from_http_date(value),
            (None, None) => Err(SigV4Error::incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )),
        }
    }

    fn from_x_amz_date(value: &str) -> Result<Self, SigV4Error> {
        let shape_ok = value.len() == 16
            && value.bytes().enumerate().all(|(i, b)| match i {
                8 => b == b'T',
                15 => b == b'Z',
                _ => b.is_ascii_digit(),
            });
        let parsed = shape_ok
            .then(|| NaiveDateTime::parse_from_str(value, BASIC_FORMAT).ok())
            .flatten();
        match parsed {
            Some(naive) => Ok(Self {
                header: "x-amz-date",
                basic: value.to_owned(),
                at: naive.and_utc(),
            }),
            None => Err(SigV4Error::incomplete(format!(
                "X-Amz-Date '{}' is not a valid ISO-8601 basic timestamp (YYYYMMDD'T'HHMMSS'Z').",
                truncate(value)
            ))),
        }
    }

    fn from_http_date(value: &str) -> Result<Self, SigV4Error> {
        match DateTime::parse_from_rfc2822(value) {
            Ok(parsed) => {
                let at = parsed.to_utc();
                Ok(Self {
                    header: "date",
                    basic: basic(at),
                    at,
                })
            }
            Err(_) => Err(SigV4Error::incomplete(format!(
                "Date header '{}' is not a valid HTTP date.",
                truncate(value)
            ))),
        }
    }

    /// The `YYYYMMDD` the credential scope must carry.
    pub fn scope_date(&self) -> &str {
        &self.basic[..8]
    }

    /// Rejects timestamps more than `max_skew` away from `now`: the past is
    /// `RequestExpired`, the future `InvalidSignatureException`, each with
    /// AWS's wording.
    pub fn check_skew(&self, now: DateTime<Utc>, max_skew: Duration) -> Result<(), SigV4Error> {
        let skew = TimeDelta::from_std(max_skew).unwrap_or(TimeDelta::MAX);
        let described = describe(max_skew);
        if let Some(earliest) = now.checked_sub_signed(skew)
            && self.at < earliest
        {
            return Err(SigV4Error::new(
                SigV4ErrorKind::RequestExpired,
                format!(
                    "Signature expired: {} is now earlier than {} ({} - {described}.)",
                    self.basic,
                    basic(earliest),
                    basic(now)
                ),
            ));
        }
        if let Some(latest) = now.checked_add_signed(skew)
            && self.at > latest
        {
            return Err(SigV4Error::invalid(format!(
                "Signature not yet current: {} is still later than {} ({} + {described}.)",
                self.basic,
                basic(latest),
                basic(now)
            )));
        }
        Ok(())
    }
}

fn basic(at: DateTime<Utc>) -> String {
    at.format(BASIC_FORMAT).to_string()
}

/// "15 min" like AWS, or seconds when the window is not whole minutes.
fn describe(skew: Duration) -> String {
    let secs = skew.as_secs();
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    const FIFTEEN_MIN: Duration = Duration::from_secs(15 * 60);

    #[test]
    fn prefers_x_amz_date_over_date() {
        let time = RequestTime::from_headers(
            Some("20261123T083000Z"),
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
        )
        .unwrap();
        assert_eq!(time.header, "x-amz-date");
        assert_eq!(time.basic, "20261123T083000Z");
        assert_eq!(time.at, at(2026, 11, 23, 8, 30, 0));
        assert_eq!(time.scope_date(), "20261123");
    }

    #[test]
    fn falls_back_to_the_http_date_header() {
        let time = RequestTime::from_headers(None, Some("Sun, 06 Nov 1994 08:49:37 GMT")).unwrap();
        assert_eq!(time.header, "date");
        assert_eq!(time.basic, "19941106T084937Z");
        assert_eq!(time.at, at(1994, 11, 6, 8, 49, 37));
    }

    #[test]
    fn missing_or_malformed_dates_are_incomplete_signatures() {
        let missing = RequestTime::from_headers(None, None).unwrap_err();
        assert_eq!(missing.kind(), SigV4ErrorKind::IncompleteSignature);
        assert_eq!(
            missing.message(),
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        );
        for bad in [
            "",
            "20261123T083000",
            "20261123 083000Z",
            "2026-11-23T08:30:00Z",
            "20261323T083000Z",
            "20261123T256000Z",
            "+0261123T083000Z",
            "20261123T083000z",
        ] {
            let err = RequestTime::from_headers(Some(bad), None).unwrap_err();
            assert_eq!(err.kind(), SigV4ErrorKind::IncompleteSignature, "{bad:?}");
            assert!(err.message().starts_with("X-Amz-Date '"), "{bad:?}");
        }
        let err = RequestTime::from_headers(None, Some("yesterday")).unwrap_err();
        assert_eq!(
            err.message(),
            "Date header 'yesterday' is not a valid HTTP date."
        );
    }

    #[test]
    fn skew_window_is_inclusive() {
        let now = at(2026, 11, 23, 8, 30, 0);
        for signed in ["20261123T081500Z", "20261123T083000Z", "20261123T084500Z"] {
            let time = RequestTime::from_headers(Some(signed), None).unwrap();
            assert_eq!(time.check_skew(now, FIFTEEN_MIN), Ok(()), "{signed}");
        }
    }

    #[test]
    fn old_signatures_are_expired_with_aws_wording() {
        let time = RequestTime::from_headers(Some("20261123T080000Z"), None).unwrap();
        let err = time
            .check_skew(at(2026, 11, 23, 8, 30, 0), FIFTEEN_MIN)
            .unwrap_err();
        assert_eq!(err.kind(), SigV4ErrorKind::RequestExpired);
        assert_eq!(
            err.message(),
            "Signature expired: 20261123T080000Z is now earlier than 20261123T081500Z \
             (20261123T083000Z - 15 min.)"
        );
    }

    #[test]
    fn future_signatures_are_not_yet_current() {
        let time = RequestTime::from_headers(Some("20261123T084501Z"), None).unwrap();
        let err = time
            .check_skew(at(2026, 11, 23, 8, 30, 0), FIFTEEN_MIN)
            .unwrap_err();
        assert_eq!(err.kind(), SigV4ErrorKind::InvalidSignature);
        assert_eq!(
            err.message(),
            "Signature not yet current: 20261123T084501Z is still later than 20261123T084500Z \
             (20261123T083000Z + 15 min.)"
        );
    }

    #[test]
    fn odd_windows_are_described_in_seconds_and_huge_ones_do_not_overflow() {
        let time = RequestTime::from_headers(Some("20261123T082800Z"), None).unwrap();
        let err = time
            .check_skew(at(2026, 11, 23, 8, 30, 0), Duration::from_secs(90))
            .unwrap_err();
        assert!(
            err.message().ends_with("(20261123T083000Z - 90 sec.)"),
            "{}",
            err.message()
        );
        assert_eq!(
            time.check_skew(at(2026, 11, 23, 8, 30, 0), Duration::MAX),
            Ok(())
        );
    }
}
