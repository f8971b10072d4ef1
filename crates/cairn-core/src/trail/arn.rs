//! Trail ARNs and the "name or ARN" parameters of the trail operations.
//!
//! A trail ARN is `arn:<partition>:cloudtrail:<home-region>:<account-id>:trail/<trail-name>`
//! (AWS fact, CloudTrail API reference). Operations whose `Name`/`TrailName` accepts either form
//! treat a value that starts with `arn:` as an ARN (and answer `CloudTrailARNInvalidException`
//! when it is malformed), anything else as a name (`InvalidTrailNameException`).
//!
//! The helpers for the parts of an ARN (partition, Region, account) are shared with the other
//! rules of [`crate::trail`]. *Policy*: AWS publishes no grammar for partitions and Regions, so
//! Cairn accepts `aws` or `aws-<lowercase letters and hyphens>` as a partition, and a Region of
//! lowercase letters, digits and hyphens that starts with a letter and ends with a digit
//! (`us-east-1`, `us-gov-west-1`, `cn-north-1`).

use super::validate::trail_name;
use super::{TrailErrorKind, ValidationError};

/// The example AWS gives for the trail ARN format, quoted in error messages.
const TRAIL_ARN_EXAMPLE: &str = "arn:aws:cloudtrail:us-east-2:123456789012:trail/MyTrail";

/// What a `Name` / `TrailName` parameter refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailRef {
    /// A bare trail name, resolved against the trails of the caller's Region and account.
    Name(String),
    /// A full trail ARN.
    Arn {
        /// The partition, e.g. `aws`.
        partition: String,
        /// The trail's home Region.
        region: String,
        /// The 12-digit account that owns the trail.
        account_id: String,
        /// The trail's name (valid per [`trail_name`]).
        name: String,
    },
}

impl TrailRef {
    /// The trail name, whichever form was given.
    pub fn name(&self) -> &str {
        match self {
            TrailRef::Name(name) | TrailRef::Arn { name, .. } => name,
        }
    }
}

/// Reads a `Name` / `TrailName` parameter.
///
/// A value starting with `arn:` must be
/// `arn:<partition>:cloudtrail:<region>:<12-digit account>:trail/<valid trail name>`, otherwise
/// the error is [`TrailErrorKind::CloudTrailArnInvalid`] (also when only the name inside the ARN
/// is bad). Any other value is a name checked with [`trail_name`]
/// ([`TrailErrorKind::InvalidTrailName`]). Whether the ARN's Region and account are the caller's
/// is for the call site to decide.
pub fn parse_trail_ref(name_or_arn: &str) -> Result<TrailRef, ValidationError> {
    if !name_or_arn.starts_with("arn:") {
        trail_name(name_or_arn)?;
        return Ok(TrailRef::Name(name_or_arn.to_owned()));
    }
    let invalid = |reason: &str| {
        ValidationError::new(
            TrailErrorKind::CloudTrailArnInvalid,
            format!(
                "Invalid trail ARN: {name_or_arn}. {reason} \
                 A trail ARN has the form {TRAIL_ARN_EXAMPLE}."
            ),
        )
    };
    let Some(parts) = split_arn(name_or_arn) else {
        return Err(invalid("An ARN has six parts separated by colons (:)."));
    };
    if parts.service != "cloudtrail" {
        return Err(invalid("The service must be cloudtrail."));
    }
    if !is_partition(parts.partition) {
        return Err(invalid("The partition is not valid."));
    }
    if !is_region(parts.region) {
        return Err(invalid("The Region is not valid."));
    }
    if !is_account_id(parts.account) {
        return Err(invalid("The account ID must be 12 digits."));
    }
    let Some(name) = parts.resource.strip_prefix("trail/") else {
        return Err(invalid("The resource must be trail/<trail-name>."));
    };
    if let Err(e) = trail_name(name) {
        return Err(invalid(&e.message));
    }
    Ok(TrailRef::Arn {
        partition: parts.partition.to_owned(),
        region: parts.region.to_owned(),
        account_id: parts.account.to_owned(),
        name: name.to_owned(),
    })
}

/// The ARN of trail `name` homed in `region` of `account_id`, in the `aws` partition:
/// `arn:aws:cloudtrail:<region>:<account_id>:trail/<name>`.
pub fn trail_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account_id}:trail/{name}")
}

/// The six colon-separated parts of an ARN; the resource part may itself contain colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArnParts<'a> {
    pub(crate) partition: &'a str,
    pub(crate) service: &'a str,
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
    pub(crate) resource: &'a str,
}

/// Splits `arn:partition:service:region:account:resource`. `None` unless the value starts with
/// `arn:` and has all six parts.
pub(crate) fn split_arn(value: &str) -> Option<ArnParts<'_>> {
    let mut it = value.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let partition = it.next()?;
    let service = it.next()?;
    let region = it.next()?;
    let account = it.next()?;
    let resource = it.next()?;
    Some(ArnParts {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// `aws`, or `aws-` followed by lowercase letters and hyphens (`aws-cn`, `aws-us-gov`,
/// `aws-iso-b`). *Policy*.
pub(crate) fn is_partition(s: &str) -> bool {
    s == "aws"
        || s.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty()
                && !rest.ends_with('-')
                && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        })
}

/// Lowercase letters, digits and hyphens, starting with a letter and ending with a digit, with a
/// hyphen somewhere (`us-east-1`). *Policy*.
pub(crate) fn is_region(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && s.contains('-')
        && !s.contains("--")
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Exactly 12 ASCII digits.
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/my-trail";

    #[test]
    fn a_plain_value_is_a_name() {
        assert_eq!(
            parse_trail_ref("my-trail"),
            Ok(TrailRef::Name("my-trail".into()))
        );
        assert_eq!(parse_trail_ref("my-trail").unwrap().name(), "my-trail");
    }

    #[test]
    fn a_bad_name_is_an_invalid_trail_name() {
        let e = parse_trail_ref("ab").unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidTrailName);
        // A colon-bearing value that does not start with `arn:` is a (bad) name, not an ARN.
        let e = parse_trail_ref("ARN:aws:cloudtrail:us-east-1:123456789012:trail/x1").unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidTrailName);
    }

    #[test]
    fn a_well_formed_arn_is_parsed() {
        let r = parse_trail_ref(ARN).unwrap();
        assert_eq!(
            r,
            TrailRef::Arn {
                partition: "aws".into(),
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
                name: "my-trail".into(),
            }
        );
        assert_eq!(r.name(), "my-trail");
        let gov =
            parse_trail_ref("arn:aws-us-gov:cloudtrail:us-gov-west-1:123456789012:trail/gov-trail")
                .unwrap();
        assert!(matches!(gov, TrailRef::Arn { ref partition, .. } if partition == "aws-us-gov"));
    }

    #[test]
    fn malformed_arns_are_rejected_as_arns() {
        for bad in [
            "arn:",
            "arn:aws:cloudtrail:us-east-1:123456789012",
            "arn:aws:sns:us-east-1:123456789012:trail/my-trail",
            "arn:azure:cloudtrail:us-east-1:123456789012:trail/my-trail",
            "arn:aws:cloudtrail::123456789012:trail/my-trail",
            "arn:aws:cloudtrail:US-EAST-1:123456789012:trail/my-trail",
            "arn:aws:cloudtrail:us-east-1:12345678901:trail/my-trail",
            "arn:aws:cloudtrail:us-east-1:12345678901a:trail/my-trail",
            "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/my-trail",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/",
            // The name inside is invalid: still an ARN error, not a name error.
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/my--trail",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/my-trail:extra",
        ] {
            let e = parse_trail_ref(bad).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::CloudTrailArnInvalid, "{bad}");
            assert!(e.message.contains(bad), "{}", e.message);
            assert!(e.message.contains(TRAIL_ARN_EXAMPLE), "{}", e.message);
        }
    }

    #[test]
    fn trail_arn_is_in_the_aws_partition() {
        assert_eq!(trail_arn("us-east-1", "123456789012", "my-trail"), ARN);
        assert_eq!(
            parse_trail_ref(&trail_arn("eu-west-3", "000000000000", "t.1")).unwrap(),
            TrailRef::Arn {
                partition: "aws".into(),
                region: "eu-west-3".into(),
                account_id: "000000000000".into(),
                name: "t.1".into(),
            }
        );
    }

    #[test]
    fn arn_parts() {
        let p = split_arn("arn:aws:logs:us-east-1:123456789012:log-group:a:*").unwrap();
        assert_eq!(p.service, "logs");
        assert_eq!(p.resource, "log-group:a:*");
        assert_eq!(
            split_arn("arn:aws:iam::123456789012:role/r")
                .unwrap()
                .region,
            ""
        );
        assert!(split_arn("urn:aws:iam::123456789012:role/r").is_none());
        assert!(split_arn("arn:aws:iam:").is_none());
    }

    #[test]
    fn partitions_regions_accounts() {
        for ok in ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"] {
            assert!(is_partition(ok), "{ok}");
        }
        for bad in ["", "AWS", "aws-", "azure", "aws-1", "awscn"] {
            assert!(!is_partition(bad), "{bad}");
        }
        for ok in ["us-east-1", "us-gov-west-1", "cn-north-1", "ap-southeast-2"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "1us-east-1",
            "us--east-1",
            "Us-east-1",
            "*",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("1234567890123"));
        assert!(!is_account_id("１２３４５６７８９０１２"));
    }
}
