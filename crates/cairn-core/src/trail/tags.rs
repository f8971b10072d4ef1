//! Tags on trails: the `Tag` wire type and the rules of CreateTrail's `TagsList`, AddTags and
//! RemoveTags.
//!
//! - Key 1–128 characters, value 0–256 characters (AWS fact: the model says 1–128 and 1–256;
//!   AWS documents that a key may be given without a value, and the empty string is accepted as
//!   a value by Cairn — *policy*).
//! - Keys starting with `aws:` (any case) are reserved for AWS (AWS tagging rule; *policy* to
//!   check it case-insensitively, as most AWS services do).
//! - A key may appear once per request (AWS fact: duplicates → `InvalidTagParameterException`).
//! - At most 50 tags per resource (AWS fact, quota) → `TagsLimitExceededException`.
//! - AddTags overwrites the value of a key already on the resource; RemoveTags matches on the
//!   key alone (*policy*: whether AWS also requires the value to match is unverified).
//!
//! Lengths are counted in Unicode characters. Keys are case-sensitive.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{TrailErrorKind, ValidationError};

/// Maximum number of tags on one resource (AWS quota).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
/// Maximum length of a tag key, in characters.
pub const TAG_KEY_MAX_LEN: usize = 128;
/// Maximum length of a tag value, in characters.
pub const TAG_VALUE_MAX_LEN: usize = 256;

/// A tag as on the wire: `{"Key": "...", "Value": "..."}`; `Value` is omitted when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The tag value; `None` when the caller gave a key only.
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Tag {
    /// A tag with a value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}

/// Checks the tags of one request (CreateTrail `TagsList`, AddTags `TagsList`): key and value
/// lengths, the reserved `aws:` prefix, and unique keys. An empty list is valid.
pub fn tags(tags: &[Tag]) -> Result<(), ValidationError> {
    let invalid =
        |message: String| ValidationError::new(TrailErrorKind::InvalidTagParameter, message);
    let mut seen = HashSet::new();
    for tag in tags {
        let key_len = tag.key.chars().count();
        if !(1..=TAG_KEY_MAX_LEN).contains(&key_len) {
            return Err(invalid(format!(
                "Tag key must be between 1 and {TAG_KEY_MAX_LEN} characters long. \
                 Specified key length: {key_len} characters."
            )));
        }
        if tag
            .key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        {
            return Err(invalid(format!(
                "Tag keys beginning with \"aws:\" are reserved for AWS use. \
                 Specified key: {}.",
                tag.key
            )));
        }
        if let Some(value) = &tag.value {
            let value_len = value.chars().count();
            if value_len > TAG_VALUE_MAX_LEN {
                return Err(invalid(format!(
                    "Tag value must be at most {TAG_VALUE_MAX_LEN} characters long. \
                     Key: {}, specified value length: {value_len} characters.",
                    tag.key
                )));
            }
        }
        if !seen.insert(tag.key.as_str()) {
            return Err(invalid(format!(
                "Duplicate tag key in the request: {}. Each key can appear only once.",
                tag.key
            )));
        }
    }
    Ok(())
}

/// The tags of a resource after AddTags: `existing` in order, values of keys present in `added`
/// overwritten in place, new keys appended in request order.
///
/// Fails with [`TrailErrorKind::TagsLimitExceeded`] when the result has more than 50 tags.
/// `added` should have passed [`tags()`] first (this function does not re-check keys or values;
/// on a repeated key the last value wins).
pub fn merge_tags(existing: &[Tag], added: &[Tag]) -> Result<Vec<Tag>, ValidationError> {
    let mut merged = existing.to_vec();
    for tag in added {
        match merged.iter_mut().find(|t| t.key == tag.key) {
            Some(t) => t.value = tag.value.clone(),
            None => merged.push(tag.clone()),
        }
    }
    if merged.len() > MAX_TAGS_PER_RESOURCE {
        return Err(ValidationError::new(
            TrailErrorKind::TagsLimitExceeded,
            format!(
                "The number of tags on the resource would exceed the limit of \
                 {MAX_TAGS_PER_RESOURCE}. Tags on the resource: {}, tags after this request: {}.",
                existing.len(),
                merged.len()
            ),
        ));
    }
    Ok(merged)
}

/// The tags of a resource after RemoveTags: `existing` without any tag whose key is listed in
/// `removed` (values in `removed` are ignored; keys not on the resource are no-ops).
pub fn remove_tags(existing: &[Tag], removed: &[Tag]) -> Vec<Tag> {
    let keys: HashSet<&str> = removed.iter().map(|t| t.key.as_str()).collect();
    existing
        .iter()
        .filter(|t| !keys.contains(t.key.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_only(key: &str) -> Tag {
        Tag {
            key: key.into(),
            value: None,
        }
    }

    #[test]
    fn wire_shape() {
        let json = serde_json::to_string(&[Tag::new("env", "prod"), key_only("team")]).unwrap();
        assert_eq!(json, r#"[{"Key":"env","Value":"prod"},{"Key":"team"}]"#);
        let back: Vec<Tag> = serde_json::from_str(json.as_str()).unwrap();
        assert_eq!(back, vec![Tag::new("env", "prod"), key_only("team")]);
        let null: Tag = serde_json::from_str(r#"{"Key":"k","Value":null}"#).unwrap();
        assert_eq!(null, key_only("k"));
    }

    #[test]
    fn valid_tags() {
        assert_eq!(tags(&[]), Ok(()));
        assert_eq!(
            tags(&[
                Tag::new("env", "prod"),
                key_only("team"),
                Tag::new("empty", ""),
                Tag::new("k".repeat(128), "v".repeat(256)),
                Tag::new("ключ", "значение"),
                Tag::new("awsome", "not reserved"),
                Tag::new("Env", "keys are case-sensitive"),
            ]),
            Ok(())
        );
    }

    #[test]
    fn key_length() {
        for bad in [String::new(), "k".repeat(129)] {
            let e = tags(&[Tag::new(bad, "v")]).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidTagParameter);
            assert!(e.message.contains("Tag key"), "{}", e.message);
        }
    }

    #[test]
    fn value_length() {
        let e = tags(&[Tag::new("k", "v".repeat(257))]).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidTagParameter);
        assert!(e.message.contains("257"), "{}", e.message);
    }

    #[test]
    fn aws_prefix_is_reserved() {
        for bad in ["aws:createdBy", "AWS:x", "Aws:"] {
            let e = tags(&[Tag::new(bad, "v")]).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidTagParameter, "{bad}");
            assert!(e.message.contains("reserved"), "{}", e.message);
        }
    }

    #[test]
    fn duplicate_keys() {
        let e = tags(&[
            Tag::new("env", "a"),
            Tag::new("x", "b"),
            Tag::new("env", "c"),
        ])
        .unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidTagParameter);
        assert!(e.message.contains("Duplicate"), "{}", e.message);
    }

    #[test]
    fn merge_overwrites_and_appends() {
        let existing = [Tag::new("a", "1"), Tag::new("b", "2")];
        let merged = merge_tags(&existing, &[Tag::new("b", "20"), key_only("c")]).unwrap();
        assert_eq!(
            merged,
            vec![Tag::new("a", "1"), Tag::new("b", "20"), key_only("c")]
        );
        // Overwriting with a key-only tag clears the value.
        let merged = merge_tags(&existing, &[key_only("a")]).unwrap();
        assert_eq!(merged[0], key_only("a"));
    }

    #[test]
    fn merge_limit() {
        let existing: Vec<Tag> = (0..49).map(|i| Tag::new(format!("k{i}"), "v")).collect();
        // Overwrites do not count against the limit.
        let at_limit =
            merge_tags(&existing, &[Tag::new("k0", "new"), Tag::new("k49", "v")]).unwrap();
        assert_eq!(at_limit.len(), 50);
        let e = merge_tags(&at_limit, &[Tag::new("k50", "v")]).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::TagsLimitExceeded);
        assert!(e.message.contains("50"), "{}", e.message);
        let many: Vec<Tag> = (0..51).map(|i| Tag::new(format!("k{i}"), "v")).collect();
        assert_eq!(
            merge_tags(&[], &many).unwrap_err().kind,
            TrailErrorKind::TagsLimitExceeded
        );
    }

    #[test]
    fn remove_matches_on_key() {
        let existing = [Tag::new("a", "1"), Tag::new("b", "2"), Tag::new("c", "3")];
        let left = remove_tags(&existing, &[Tag::new("b", "other value"), key_only("zzz")]);
        assert_eq!(left, vec![Tag::new("a", "1"), Tag::new("c", "3")]);
        assert_eq!(remove_tags(&existing, &[]), existing.to_vec());
    }
}
