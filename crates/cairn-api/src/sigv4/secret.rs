//! [`SecretKey`]: a secret access key that is hard to leak by accident.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret access key.
///
/// `Debug` prints a placeholder, there is no `Display`, and the key is only
/// reachable through [`SecretKey::expose`], so a stray `{:?}` in a log line
/// cannot leak it. Equality is constant-time. On drop the bytes are
/// overwritten with zeros (best effort: copies made by the caller before
/// construction are out of reach).
/// Serialises as the plain string: it is stored only in the 0600 credentials file.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Named so that every use is easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretKey {}

impl From<String> for SecretKey {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.0).into_bytes());
    }
}

/// Overwrites a buffer before freeing it. `black_box` keeps the optimiser
/// from discarding the writes as dead stores.
pub(crate) fn wipe(mut bytes: Vec<u8>) {
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_print_the_secret() {
        let key = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let shown = format!("{key:?}");
        assert_eq!(shown, "SecretKey(<redacted>)");
        assert!(!shown.contains("wJalr"));
    }

    #[test]
    fn expose_and_equality() {
        let a = SecretKey::new("abc");
        assert_eq!(a.expose(), "abc");
        assert_eq!(a, SecretKey::from("abc".to_owned()));
        assert_ne!(a, SecretKey::new("abd"));
        assert_ne!(a, SecretKey::new("abcd"));
    }
}
