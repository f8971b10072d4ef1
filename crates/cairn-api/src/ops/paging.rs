//! Opaque `NextToken`s for list operations that page over a sorted list of keys.
//!
//! A token is URL-safe base64 of `{"op": <operation>, "after": <last key of the page>}`: stable
//! while items are added or removed (the next page starts after that key, wherever it is now),
//! and refused when replayed against another operation.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::ApiError;

#[derive(Serialize, Deserialize)]
struct Token {
    op: String,
    after: String,
}

/// One page: the index range into the sorted keys, and the token for the next page.
#[derive(Debug)]
pub(crate) struct Page {
    pub range: Range<usize>,
    pub next_token: Option<String>,
}

/// The page of at most `size` keys after the one named by `token` (`keys` sorted ascending).
pub(crate) fn page_after(
    keys: &[String],
    token: Option<&str>,
    size: usize,
    op: &str,
) -> Result<Page, ApiError> {
    let start = match token {
        None => 0,
        Some(t) => {
            let after = decode(t, op)?;
            keys.partition_point(|k| k.as_str() <= after.as_str())
        }
    };
    let end = (start + size).min(keys.len());
    let next_token = (end < keys.len()).then(|| encode(op, &keys[end - 1]));
    Ok(Page {
        range: start..end,
        next_token,
    })
}

fn encode(op: &str, after: &str) -> String {
    let json = serde_json::to_vec(&Token {
        op: op.into(),
        after: after.into(),
    })
    .expect("token serializes");
    URL_SAFE_NO_PAD.encode(json)
}

fn decode(token: &str, op: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::client(
            "InvalidTokenException",
            "The NextToken is not valid for this request.",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if t.op != op {
        return Err(invalid());
    }
    Ok(t.after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_all_keys_once_and_survive_inserts() {
        let mut keys: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
        let p1 = page_after(&keys, None, 10, "ListTrails").unwrap();
        assert_eq!(p1.range, 0..10);
        let t1 = p1.next_token.unwrap();
        // A key inserted before the cursor does not shift the next page.
        keys.insert(0, "a".into());
        let p2 = page_after(&keys, Some(&t1), 10, "ListTrails").unwrap();
        assert_eq!(keys[p2.range.start], "k10");
        let p3 = page_after(&keys, p2.next_token.as_deref(), 10, "ListTrails").unwrap();
        assert_eq!(keys[p3.range.clone()].len(), 5);
        assert!(p3.next_token.is_none());
    }

    #[test]
    fn foreign_or_garbled_tokens_are_refused() {
        let keys = vec!["a".to_string(), "b".to_string()];
        let t = page_after(&keys, None, 1, "ListTrails")
            .unwrap()
            .next_token
            .unwrap();
        assert_eq!(
            page_after(&keys, Some(&t), 1, "ListTags").unwrap_err().code,
            "InvalidTokenException"
        );
        assert!(page_after(&keys, Some("%%%"), 1, "ListTrails").is_err());
    }
}
