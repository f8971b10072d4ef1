//! Rules for the scalar members of CreateTrail / UpdateTrail.
//!
//! Each rule is a pure function that accepts the wire value and either returns it (normalised
//! where AWS normalises) or a [`ValidationError`] naming the exception AWS answers with.
//!
//! UpdateTrail treats an **empty string** in `S3KeyPrefix`, `SnsTopicName`, `KmsKeyId` and the
//! two CloudWatch Logs members as "clear this setting" (AWS documents this for `KmsKeyId` and the
//! CloudWatch Logs pair). The call site handles that before calling these rules; the rules
//! themselves treat the empty string as follows: [`key_prefix`] accepts it (no prefix),
//! [`sns_topic`] and [`kms_key_id`] reject it, and [`cloudwatch_logs`] reads it as "absent".

use super::arn::{is_account_id, is_partition, is_region, split_arn};
use super::{TrailErrorKind, ValidationError};

/// Minimum length of a trail name (AWS fact).
pub const TRAIL_NAME_MIN_LEN: usize = 3;
/// Maximum length of a trail name (AWS fact).
pub const TRAIL_NAME_MAX_LEN: usize = 128;
/// Maximum length of `S3KeyPrefix`, in characters (AWS fact, CreateTrail documentation).
pub const KEY_PREFIX_MAX_LEN: usize = 200;
/// Maximum length of `SnsTopicName`, name or ARN (AWS fact, CreateTrail documentation).
pub const SNS_TOPIC_MAX_LEN: usize = 256;

/// Checks a trail name (AWS fact, botocore `CreateTrailRequest.Name` documentation):
///
/// - only ASCII letters, digits, periods (`.`), underscores (`_`) and hyphens (`-`);
/// - starts and ends with a letter or digit;
/// - 3 to 128 characters;
/// - no two adjacent periods, underscores or hyphens (`my-_namespace`, `my--namespace`);
/// - not in IP address format (`192.168.5.4`).
///
/// *Policy*: "IP address format" is read as four dot-separated groups of one to three digits,
/// whatever their value. The length, character, start and end messages are the ones AWS (and
/// moto, which copies them) answers with.
pub fn trail_name(name: &str) -> Result<(), ValidationError> {
    let invalid = |message: String| ValidationError::new(TrailErrorKind::InvalidTrailName, message);
    let len = name.chars().count();
    if len < TRAIL_NAME_MIN_LEN {
        return Err(invalid(format!(
            "Trail name too short. Minimum allowed length: {TRAIL_NAME_MIN_LEN} characters. \
             Specified name length: {len} characters."
        )));
    }
    if len > TRAIL_NAME_MAX_LEN {
        return Err(invalid(format!(
            "Trail name too long. Maximum allowed length: {TRAIL_NAME_MAX_LEN} characters. \
             Specified name length: {len} characters."
        )));
    }
    if !name.chars().all(is_trail_name_char) {
        return Err(invalid(
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, \
             periods (.), hyphens (-), and underscores (_)."
                .to_owned(),
        ));
    }
    let bytes = name.as_bytes();
    if !bytes[0].is_ascii_alphanumeric() {
        return Err(invalid(
            "Trail name must starts with a letter or number.".to_owned(),
        ));
    }
    if !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(invalid(
            "Trail name must ends with a letter or number.".to_owned(),
        ));
    }
    if let Some(pair) = bytes
        .windows(2)
        .find(|w| !w[0].is_ascii_alphanumeric() && !w[1].is_ascii_alphanumeric())
    {
        let pair = String::from_utf8_lossy(pair);
        return Err(invalid(format!(
            "Trail name cannot contain adjacent periods (.), hyphens (-), or underscores (_). \
             Found \"{pair}\" in {name}."
        )));
    }
    if looks_like_ipv4(name) {
        return Err(invalid(format!(
            "Trail name cannot be formatted as an IP address. Specified name: {name}."
        )));
    }
    Ok(())
}

fn is_trail_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Four dot-separated groups of 1–3 ASCII digits (`192.168.5.4`, also `999.1.1.1`).
fn looks_like_ipv4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks an S3 bucket name against S3's naming rules for buckets outside the legacy
/// us-east-1 rules (AWS fact, S3 bucket naming rules as summarised in the reference §3.1):
///
/// - 3 to 63 characters;
/// - only lowercase letters, digits, periods (`.`) and hyphens (`-`);
/// - each period-separated label starts and ends with a letter or digit, hence: starts and ends
///   with a letter or digit, no `..`, no `.-` or `-.`;
/// - not formatted as an IP address.
///
/// *Policy*: legacy us-east-1 names (uppercase, underscores, up to 255 characters) are rejected,
/// and S3's reserved prefixes/suffixes (`xn--`, `-s3alias`, ...) are not checked: no such bucket
/// can exist, so delivery would fail on the bucket check instead.
pub fn bucket_name(name: &str) -> Result<(), ValidationError> {
    let invalid =
        |message: String| ValidationError::new(TrailErrorKind::InvalidS3BucketName, message);
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        return Err(invalid(format!(
            "Bucket name must be between 3 and 63 characters long. \
             Specified name: {name} ({len} characters)."
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        return Err(invalid(format!(
            "Bucket name can contain only lowercase letters, numbers, periods (.) and \
             hyphens (-). Found {c:?} in {name}."
        )));
    }
    let bytes = name.as_bytes();
    if !bytes[0].is_ascii_alphanumeric() {
        return Err(invalid(format!(
            "Bucket name must begin with a letter or number. Specified name: {name}."
        )));
    }
    if !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(invalid(format!(
            "Bucket name must end with a letter or number. Specified name: {name}."
        )));
    }
    if name.contains("..") {
        return Err(invalid(format!(
            "Bucket name must not contain two adjacent periods. Specified name: {name}."
        )));
    }
    if name.contains(".-") || name.contains("-.") {
        return Err(invalid(format!(
            "Bucket name must not contain a period next to a hyphen (.- or -.). \
             Specified name: {name}."
        )));
    }
    if looks_like_ipv4(name) {
        return Err(invalid(format!(
            "Bucket name must not be formatted as an IP address. Specified name: {name}."
        )));
    }
    Ok(())
}

/// Checks `S3KeyPrefix`.
///
/// - At most 200 characters (AWS fact, CreateTrail documentation).
/// - *Policy*: no control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F). AWS
///   documents no character rule; any other character is legal in an S3 key, so everything else
///   is accepted, including `/` anywhere (a leading or trailing `/` yields keys such as
///   `/logs/AWSLogs/...`, exactly what S3 would store).
/// - The empty string is accepted and means "no prefix" (the caller stores none).
pub fn key_prefix(prefix: &str) -> Result<(), ValidationError> {
    let len = prefix.chars().count();
    if len > KEY_PREFIX_MAX_LEN {
        return Err(ValidationError::new(
            TrailErrorKind::InvalidS3Prefix,
            format!(
                "S3 key prefix too long. Maximum allowed length: {KEY_PREFIX_MAX_LEN} characters. \
                 Specified prefix length: {len} characters."
            ),
        ));
    }
    if let Some((i, c)) = prefix.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(ValidationError::new(
            TrailErrorKind::InvalidS3Prefix,
            format!(
                "S3 key prefix must not contain control characters. \
                 Found U+{:04X} at position {}.",
                u32::from(c),
                i + 1
            ),
        ));
    }
    Ok(())
}

/// An SNS topic a trail notifies, as stored and returned (`SnsTopicName` / `SnsTopicARN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsTopic {
    /// The topic's name (the last part of its ARN).
    pub name: String,
    /// The topic's ARN, `arn:aws:sns:<region>:<account>:<name>`.
    pub arn: String,
}

/// Reads `SnsTopicName`: a topic name or a topic ARN, at most 256 characters.
///
/// - A name is 1–256 ASCII letters, digits, hyphens and underscores (SNS's rule for standard
///   topics); its ARN is built in `region` and `account_id`.
/// - An ARN is `arn:<partition>:sns:<region>:<12-digit account>:<name>` with a valid name and is
///   kept as given (the topic may belong to another account, as AWS allows with a topic policy).
///
/// *Policy*: FIFO topics (`name.fifo`) are rejected; CloudTrail documents notifications for
/// standard topics only. Cairn has no SNS: only the form is checked.
pub fn sns_topic(
    name_or_arn: &str,
    region: &str,
    account_id: &str,
) -> Result<SnsTopic, ValidationError> {
    let invalid = |reason: &str| {
        ValidationError::new(
            TrailErrorKind::InvalidSnsTopicName,
            format!(
                "Invalid SNS topic name or ARN: {name_or_arn}. {reason} \
                 Specify a topic name of 1 to 256 letters, numbers, hyphens (-) and \
                 underscores (_), or a topic ARN such as \
                 arn:aws:sns:us-east-2:123456789012:MyTopic."
            ),
        )
    };
    if name_or_arn.chars().count() > SNS_TOPIC_MAX_LEN {
        return Err(invalid("The value is longer than 256 characters."));
    }
    if !name_or_arn.starts_with("arn:") {
        if !is_sns_topic_name(name_or_arn) {
            return Err(invalid("The topic name is not valid."));
        }
        return Ok(SnsTopic {
            name: name_or_arn.to_owned(),
            arn: format!("arn:aws:sns:{region}:{account_id}:{name_or_arn}"),
        });
    }
    let Some(p) = split_arn(name_or_arn) else {
        return Err(invalid("An ARN has six parts separated by colons (:)."));
    };
    if p.service != "sns" || !is_partition(p.partition) {
        return Err(invalid("The ARN is not an SNS ARN."));
    }
    if !is_region(p.region) {
        return Err(invalid("The Region in the ARN is not valid."));
    }
    if !is_account_id(p.account) {
        return Err(invalid("The account ID in the ARN must be 12 digits."));
    }
    if !is_sns_topic_name(p.resource) {
        return Err(invalid("The topic name in the ARN is not valid."));
    }
    Ok(SnsTopic {
        name: p.resource.to_owned(),
        arn: name_or_arn.to_owned(),
    })
}

fn is_sns_topic_name(s: &str) -> bool {
    (1..=SNS_TOPIC_MAX_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads `KmsKeyId` and returns the full ARN Cairn stores and answers with.
///
/// Accepted forms (AWS fact, CreateTrail documentation):
///
/// | Input | Stored as |
/// |---|---|
/// | `alias/MyAlias` | `arn:aws:kms:<region>:<account_id>:alias/MyAlias` |
/// | `arn:aws:kms:us-east-2:123456789012:alias/MyAlias` | unchanged |
/// | `arn:aws:kms:us-east-2:123456789012:key/<key id>` | unchanged |
/// | `<key id>` | `arn:aws:kms:<region>:<account_id>:key/<key id>` |
///
/// A key id is a UUID (`12345678-1234-1234-1234-123456789012`, hex digits of either case) or a
/// multi-Region key id (`mrk-` and 32 hex digits; AWS: "CloudTrail also supports KMS
/// multi-Region keys"). An alias name is 1–250 characters of letters, digits, `/`, `_` and `-`
/// after `alias/` (KMS's alias rule, without `:`).
///
/// Cairn has **no KMS**: it checks only the form, never that the key exists, is enabled or that
/// its policy lets CloudTrail use it, and it cannot resolve an alias to its key. AWS answers with
/// the key ARN even when an alias was given; Cairn answers with the alias ARN.
pub fn kms_key_id(value: &str, region: &str, account_id: &str) -> Result<String, ValidationError> {
    let invalid = |reason: &str| {
        ValidationError::new(
            TrailErrorKind::InvalidKmsKeyId,
            format!(
                "Invalid KmsKeyId: {value}. {reason} Specify a key ID \
                 (12345678-1234-1234-1234-123456789012), a key ARN \
                 (arn:aws:kms:us-east-2:123456789012:key/12345678-1234-1234-1234-123456789012), \
                 an alias name (alias/MyAliasName) or an alias ARN \
                 (arn:aws:kms:us-east-2:123456789012:alias/MyAliasName)."
            ),
        )
    };
    if let Some(alias) = value.strip_prefix("alias/") {
        if !is_kms_alias_name(alias) {
            return Err(invalid("The alias name is not valid."));
        }
        return Ok(format!("arn:aws:kms:{region}:{account_id}:alias/{alias}"));
    }
    if !value.starts_with("arn:") {
        if !is_kms_key_id(value) {
            return Err(invalid(
                "The value is not a key ID, key ARN, alias name or alias ARN.",
            ));
        }
        return Ok(format!("arn:aws:kms:{region}:{account_id}:key/{value}"));
    }
    let Some(p) = split_arn(value) else {
        return Err(invalid("An ARN has six parts separated by colons (:)."));
    };
    if p.service != "kms" || !is_partition(p.partition) {
        return Err(invalid("The ARN is not a KMS ARN."));
    }
    if !is_region(p.region) {
        return Err(invalid("The Region in the ARN is not valid."));
    }
    if !is_account_id(p.account) {
        return Err(invalid("The account ID in the ARN must be 12 digits."));
    }
    let ok = match (
        p.resource.strip_prefix("key/"),
        p.resource.strip_prefix("alias/"),
    ) {
        (Some(id), _) => is_kms_key_id(id),
        (_, Some(alias)) => is_kms_alias_name(alias),
        _ => false,
    };
    if !ok {
        return Err(invalid(
            "The resource in the ARN must be key/<key ID> or alias/<alias name>.",
        ));
    }
    Ok(value.to_owned())
}

/// A UUID (8-4-4-4-12 hex digits) or a multi-Region key id (`mrk-` + 32 hex digits).
fn is_kms_key_id(s: &str) -> bool {
    if let Some(hex) = s.strip_prefix("mrk-") {
        return hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// 1–250 letters, digits, `/`, `_`, `-` (the part after `alias/`; KMS caps the whole alias at 256).
fn is_kms_alias_name(s: &str) -> bool {
    (1..=250).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
}

/// Reads the `CloudWatchLogsLogGroupArn` / `CloudWatchLogsRoleArn` pair.
///
/// Returns `Ok(None)` when neither is given, `Ok(Some((log_group_arn, role_arn)))` when both are
/// valid, the log group ARN normalised to end in `:*` as AWS returns it.
///
/// - Both or neither (AWS fact: "Not required unless you specify CloudWatchLogsRoleArn"). A log
///   group without a role is `InvalidCloudWatchLogsRoleArnException` with AWS's observed message
///   "You must specify a role ARN as well as a log group."; a role without a log group is
///   `InvalidCloudWatchLogsLogGroupArnException` with the mirror message (*policy*: chosen by
///   symmetry, not observed).
/// - Log group ARN: `arn:<partition>:logs:<region>:<12-digit account>:log-group:<name>` with or
///   without a trailing `:*`; the name is 1–512 characters of letters, digits, `_`, `-`, `/`, `.`
///   and `#` (CloudWatch Logs' rule).
/// - Role ARN: `arn:<partition>:iam::<12-digit account>:role/<path/><name>`; the name is 1–64
///   characters of letters, digits and `+=,.@_-`, each path segment the same characters (IAM's
///   rule).
/// - An empty string counts as absent, so `("", "")` is `Ok(None)`: UpdateTrail's documented way
///   to stop CloudWatch Logs delivery. Whether a member *omitted* from UpdateTrail keeps the
///   stored value is for the call site to decide before calling this.
///
/// Cairn does not check that the log group and role exist or that they are in the caller's
/// account (AWS requires both); the call site may compare the account IDs.
pub fn cloudwatch_logs(
    log_group_arn: Option<&str>,
    role_arn: Option<&str>,
) -> Result<Option<(String, String)>, ValidationError> {
    let group = log_group_arn.filter(|s| !s.is_empty());
    let role = role_arn.filter(|s| !s.is_empty());
    match (group, role) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ValidationError::new(
            TrailErrorKind::InvalidCloudWatchLogsRoleArn,
            "You must specify a role ARN as well as a log group.",
        )),
        (None, Some(_)) => Err(ValidationError::new(
            TrailErrorKind::InvalidCloudWatchLogsLogGroupArn,
            "You must specify a log group as well as a role ARN.",
        )),
        (Some(group), Some(role)) => {
            let group = log_group(group)?;
            cloudwatch_logs_role(role)?;
            Ok(Some((group, role.to_owned())))
        }
    }
}

/// Checks a log group ARN and returns it ending in `:*`.
fn log_group(arn: &str) -> Result<String, ValidationError> {
    let invalid = |reason: &str| {
        ValidationError::new(
            TrailErrorKind::InvalidCloudWatchLogsLogGroupArn,
            format!(
                "CloudTrail cannot validate the specified log group ARN: {arn}. {reason} \
                 A log group ARN has the form \
                 arn:aws:logs:us-east-2:123456789012:log-group:MyLogGroup:*."
            ),
        )
    };
    let Some(p) = split_arn(arn) else {
        return Err(invalid("An ARN has six parts separated by colons (:)."));
    };
    if p.service != "logs" || !is_partition(p.partition) {
        return Err(invalid("The ARN is not a CloudWatch Logs ARN."));
    }
    if !is_region(p.region) {
        return Err(invalid("The Region in the ARN is not valid."));
    }
    if !is_account_id(p.account) {
        return Err(invalid("The account ID in the ARN must be 12 digits."));
    }
    let Some(rest) = p.resource.strip_prefix("log-group:") else {
        return Err(invalid("The resource in the ARN must be log-group:<name>."));
    };
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    let name_ok = (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'.' | b'#'));
    if !name_ok {
        return Err(invalid(
            "A log group name has 1 to 512 characters: letters, numbers, and _ - / . #.",
        ));
    }
    Ok(format!(
        "arn:{}:logs:{}:{}:log-group:{name}:*",
        p.partition, p.region, p.account
    ))
}

/// Checks an IAM role ARN.
fn cloudwatch_logs_role(arn: &str) -> Result<(), ValidationError> {
    let invalid = |reason: &str| {
        ValidationError::new(
            TrailErrorKind::InvalidCloudWatchLogsRoleArn,
            format!(
                "CloudTrail cannot validate the specified role ARN: {arn}. {reason} \
                 A role ARN has the form arn:aws:iam::123456789012:role/MyRole."
            ),
        )
    };
    let Some(p) = split_arn(arn) else {
        return Err(invalid("An ARN has six parts separated by colons (:)."));
    };
    if p.service != "iam" || !is_partition(p.partition) {
        return Err(invalid("The ARN is not an IAM ARN."));
    }
    if !p.region.is_empty() {
        return Err(invalid("IAM ARNs have no Region."));
    }
    if !is_account_id(p.account) {
        return Err(invalid("The account ID in the ARN must be 12 digits."));
    }
    let Some(path_and_name) = p.resource.strip_prefix("role/") else {
        return Err(invalid("The resource in the ARN must be role/<role name>."));
    };
    let is_iam_char = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b);
    let segments: Vec<&str> = path_and_name.split('/').collect();
    let (name, path) = segments
        .split_last()
        .expect("split yields at least one item");
    let name_ok = (1..=64).contains(&name.len()) && name.bytes().all(is_iam_char);
    let path_ok = path_and_name.len() <= 512 + 64
        && path
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(is_iam_char));
    if !name_ok || !path_ok {
        return Err(invalid(
            "A role name has 1 to 64 characters: letters, numbers, and + = , . @ _ -.",
        ));
    }
    Ok(())
}

/// Checks `IncludeGlobalServiceEvents` against `IsMultiRegionTrail` (the effective values after
/// defaults / merge with the stored trail).
///
/// A multi-Region trail must include global service events (AWS fact, observed error
/// `InvalidParameterCombinationException: Multi-Region trail must include global service
/// events.`).
pub fn trail_flags(include_global: bool, multi_region: bool) -> Result<(), ValidationError> {
    if multi_region && !include_global {
        return Err(ValidationError::new(
            TrailErrorKind::InvalidParameterCombination,
            "Multi-Region trail must include global service events.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind<T: std::fmt::Debug>(r: Result<T, ValidationError>) -> TrailErrorKind {
        r.unwrap_err().kind
    }

    // ---- trail_name ----

    #[test]
    fn trail_names_that_are_valid() {
        for ok in [
            "abc",
            "my-trail",
            "My_Trail.2024",
            "a.b-c_d",
            "192.168.5",
            "1.2.3.4.5",
            "192.168.5.a",
            &"a".repeat(128),
        ] {
            assert_eq!(trail_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn trail_name_length() {
        let e = trail_name("ab").unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidTrailName);
        assert_eq!(
            e.message,
            "Trail name too short. Minimum allowed length: 3 characters. \
             Specified name length: 2 characters."
        );
        let e = trail_name(&"a".repeat(129)).unwrap_err();
        assert_eq!(
            e.message,
            "Trail name too long. Maximum allowed length: 128 characters. \
             Specified name length: 129 characters."
        );
        assert_eq!(kind(trail_name("")), TrailErrorKind::InvalidTrailName);
    }

    #[test]
    fn trail_name_characters() {
        for bad in [
            "my trail", "my/trail", "my:trail", "trail*", "trälla", "a+b",
        ] {
            let e = trail_name(bad).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidTrailName, "{bad}");
            assert!(
                e.message.contains("can only contain"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn trail_name_start_and_end() {
        for bad in ["-abc", ".abc", "_abc"] {
            let e = trail_name(bad).unwrap_err();
            assert!(e.message.contains("starts with"), "{bad}: {}", e.message);
        }
        for bad in ["abc-", "abc.", "abc_"] {
            let e = trail_name(bad).unwrap_err();
            assert!(e.message.contains("ends with"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn trail_name_adjacent_specials() {
        for bad in ["my-_namespace", "my--namespace", "a..b", "a._b", "a_-b"] {
            let e = trail_name(bad).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidTrailName);
            assert!(e.message.contains("adjacent"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn trail_name_ip_address() {
        for bad in ["192.168.5.4", "1.2.3.4", "999.999.999.999"] {
            let e = trail_name(bad).unwrap_err();
            assert!(e.message.contains("IP address"), "{bad}: {}", e.message);
        }
    }

    // ---- bucket_name ----

    #[test]
    fn bucket_names_that_are_valid() {
        for ok in [
            "abc",
            "my-bucket",
            "my.bucket.1",
            "1bucket",
            &"a".repeat(63),
        ] {
            assert_eq!(bucket_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bucket_names_that_are_invalid() {
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "my_bucket",
            "my bucket",
            "-bucket",
            ".bucket",
            "bucket-",
            "bucket.",
            "my..bucket",
            "my.-bucket",
            "my-.bucket",
            "192.168.5.4",
            "*",
        ] {
            assert_eq!(
                kind(bucket_name(bad)),
                TrailErrorKind::InvalidS3BucketName,
                "{bad}"
            );
        }
        assert!(bucket_name("ab").unwrap_err().message.contains("3 and 63"));
        assert!(
            bucket_name("my_bucket")
                .unwrap_err()
                .message
                .contains("'_'")
        );
        assert!(
            bucket_name("a..b")
                .unwrap_err()
                .message
                .contains("adjacent")
        );
        assert!(bucket_name("a.-b").unwrap_err().message.contains("hyphen"));
        assert!(bucket_name("1.2.3.4").unwrap_err().message.contains("IP"));
    }

    // ---- key_prefix ----

    #[test]
    fn key_prefixes() {
        for ok in [
            "",
            "logs",
            "a/b/c",
            "/leading",
            "trailing/",
            "ünïcode",
            &"é".repeat(200),
        ] {
            assert_eq!(key_prefix(ok), Ok(()), "{ok}");
        }
        let e = key_prefix(&"a".repeat(201)).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidS3Prefix);
        assert!(e.message.contains("200"), "{}", e.message);
        for bad in ["a\nb", "tab\there", "nul\0", "del\u{7f}", "c1\u{85}"] {
            let e = key_prefix(bad).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidS3Prefix, "{bad:?}");
            assert!(e.message.contains("control"), "{}", e.message);
        }
        assert!(
            key_prefix("a\nb")
                .unwrap_err()
                .message
                .contains("U+000A at position 2")
        );
    }

    // ---- sns_topic ----

    #[test]
    fn sns_topic_by_name() {
        assert_eq!(
            sns_topic("my_topic-1", "us-east-1", "123456789012"),
            Ok(SnsTopic {
                name: "my_topic-1".into(),
                arn: "arn:aws:sns:us-east-1:123456789012:my_topic-1".into(),
            })
        );
        assert!(sns_topic(&"t".repeat(256), "us-east-1", "123456789012").is_ok());
    }

    #[test]
    fn sns_topic_by_arn() {
        let arn = "arn:aws:sns:eu-west-1:210987654321:other";
        assert_eq!(
            sns_topic(arn, "us-east-1", "123456789012"),
            Ok(SnsTopic {
                name: "other".into(),
                arn: arn.into(),
            })
        );
    }

    #[test]
    fn sns_topics_that_are_invalid() {
        for bad in [
            "",
            "my topic",
            "my.topic",
            "topic.fifo",
            &"t".repeat(257),
            "arn:aws:sns:us-east-1:123456789012",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sns:us-east-1:1234:topic",
            "arn:aws:sns::123456789012:topic",
            "arn:aws:sns:us-east-1:123456789012:bad:topic",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:azure:sns:us-east-1:123456789012:topic",
            // A valid 230-character name, but the ARN as a whole exceeds 256 characters.
            &format!("arn:aws:sns:us-east-1:123456789012:{}", "t".repeat(230)),
        ] {
            assert_eq!(
                kind(sns_topic(bad, "us-east-1", "123456789012")),
                TrailErrorKind::InvalidSnsTopicName,
                "{bad}"
            );
        }
    }

    // ---- kms_key_id ----

    const UUID: &str = "12345678-1234-1234-1234-123456789012";

    #[test]
    fn kms_forms_are_normalised() {
        let k = |v: &str| kms_key_id(v, "us-east-1", "123456789012");
        assert_eq!(
            k("alias/MyAlias").unwrap(),
            "arn:aws:kms:us-east-1:123456789012:alias/MyAlias"
        );
        assert_eq!(
            k(UUID).unwrap(),
            format!("arn:aws:kms:us-east-1:123456789012:key/{UUID}")
        );
        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(
            k(mrk).unwrap(),
            format!("arn:aws:kms:us-east-1:123456789012:key/{mrk}")
        );
        for arn in [
            format!("arn:aws:kms:us-east-2:210987654321:key/{UUID}"),
            "arn:aws:kms:us-east-2:210987654321:alias/My/Alias_1".to_owned(),
            "arn:aws:kms:us-east-2:210987654321:key/mrk-1234abcd12ab34cd56ef1234567890ab"
                .to_owned(),
        ] {
            assert_eq!(k(&arn).unwrap(), arn);
        }
    }

    #[test]
    fn kms_forms_that_are_invalid() {
        for bad in [
            "",
            "alias/",
            "alias/bad alias",
            "MyAlias",
            "12345678-1234-1234-1234-12345678901",
            "12345678123412341234123456789012",
            "1234567g-1234-1234-1234-123456789012",
            "mrk-123",
            "arn:aws:kms:us-east-1:123456789012",
            "arn:aws:kms:us-east-1:123456789012:key/not-a-uuid",
            "arn:aws:kms:us-east-1:123456789012:alias/",
            "arn:aws:kms:us-east-1:123456789012:secret/x",
            "arn:aws:kms:us-east-1:12345:key/12345678-1234-1234-1234-123456789012",
            "arn:aws:kms::123456789012:key/12345678-1234-1234-1234-123456789012",
            "arn:azure:kms:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
            "arn:aws:s3:us-east-1:123456789012:key/12345678-1234-1234-1234-123456789012",
        ] {
            let e = kms_key_id(bad, "us-east-1", "123456789012").unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidKmsKeyId, "{bad}");
            assert!(e.message.contains("alias/MyAliasName"), "{}", e.message);
        }
    }

    // ---- cloudwatch_logs ----

    const GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:CloudTrail/Logs:*";
    const ROLE: &str = "arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs_Role";

    #[test]
    fn cloudwatch_logs_neither_or_both() {
        assert_eq!(cloudwatch_logs(None, None), Ok(None));
        assert_eq!(cloudwatch_logs(Some(""), Some("")), Ok(None));
        assert_eq!(
            cloudwatch_logs(Some(GROUP), Some(ROLE)),
            Ok(Some((GROUP.to_owned(), ROLE.to_owned())))
        );
    }

    #[test]
    fn cloudwatch_logs_group_is_normalised_to_star() {
        let bare = GROUP.strip_suffix(":*").unwrap();
        assert_eq!(
            cloudwatch_logs(Some(bare), Some(ROLE)).unwrap().unwrap().0,
            GROUP
        );
    }

    #[test]
    fn cloudwatch_logs_one_without_the_other() {
        let e = cloudwatch_logs(Some(GROUP), None).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidCloudWatchLogsRoleArn);
        assert_eq!(
            e.message,
            "You must specify a role ARN as well as a log group."
        );
        let e = cloudwatch_logs(Some(GROUP), Some("")).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidCloudWatchLogsRoleArn);
        let e = cloudwatch_logs(None, Some(ROLE)).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidCloudWatchLogsLogGroupArn);
    }

    #[test]
    fn cloudwatch_logs_bad_group() {
        for bad in [
            "CloudTrail/Logs",
            "arn:aws:logs:us-east-1:123456789012:CloudTrail",
            "arn:aws:logs:us-east-1:123456789012:log-group:",
            "arn:aws:logs:us-east-1:123456789012:log-group::*",
            "arn:aws:logs:us-east-1:123456789012:log-group:bad name:*",
            "arn:aws:logs:us-east-1:123456789012:log-group:a:b",
            "arn:aws:logs::123456789012:log-group:a:*",
            "arn:aws:logs:us-east-1:1234:log-group:a:*",
            "arn:aws:sns:us-east-1:123456789012:log-group:a:*",
        ] {
            assert_eq!(
                kind(cloudwatch_logs(Some(bad), Some(ROLE))),
                TrailErrorKind::InvalidCloudWatchLogsLogGroupArn,
                "{bad}"
            );
        }
    }

    #[test]
    fn cloudwatch_logs_roles() {
        for ok in [
            "arn:aws:iam::123456789012:role/service-role/My.Role+=,@_-",
            "arn:aws-cn:iam::123456789012:role/a",
        ] {
            assert!(cloudwatch_logs(Some(GROUP), Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "MyRole",
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam:us-east-1:123456789012:role/r",
            "arn:aws:iam::1234:role/r",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/path//r",
            "arn:aws:iam::123456789012:role/bad role",
            &format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65)),
            "arn:aws:sts::123456789012:role/r",
            // IAM paths are at most 512 characters.
            &format!("arn:aws:iam::123456789012:role/{}/r", "p".repeat(600)),
        ] {
            assert_eq!(
                kind(cloudwatch_logs(Some(GROUP), Some(bad))),
                TrailErrorKind::InvalidCloudWatchLogsRoleArn,
                "{bad}"
            );
        }
    }

    // ---- trail_flags ----

    #[test]
    fn multi_region_needs_global_events() {
        assert_eq!(trail_flags(true, true), Ok(()));
        assert_eq!(trail_flags(true, false), Ok(()));
        assert_eq!(trail_flags(false, false), Ok(()));
        let e = trail_flags(false, true).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidParameterCombination);
        assert_eq!(
            e.message,
            "Multi-Region trail must include global service events."
        );
    }
}
