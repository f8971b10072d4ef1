//! The SigV4 algorithm as pure functions: canonical request, string to sign,
//! signing key and signature. Nothing here looks at HTTP types or decides
//! policy; see `pipeline.rs` for that.
//!
//! The canonical request is built as bytes rather than a `String` because
//! header values may legally contain non-UTF-8 octets, and the client hashed
//! whatever octets it sent.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::authorization::ALGORITHM;
use super::secret::{SecretKey, wipe};

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex SHA-256, the form SigV4 uses for payload and request hashes.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The canonical URI for `raw_path`, the path exactly as it appeared on the
/// request line (still percent-encoded).
///
/// For every service but S3, AWS signs the *already encoded* path encoded a
/// second time, after removing `.`/`..` and empty segments. S3 signs the
/// path encoded exactly once and without normalisation, so there we decode
/// each segment and re-encode it (a no-op for paths the SDKs produce).
pub(crate) fn canonical_uri(raw_path: &str, service: &str) -> String {
    if service == "s3" {
        let segments: Vec<String> = raw_path
            .split('/')
            .map(|segment| encode(&percent_decode(segment.as_bytes(), false), false))
            .collect();
        let joined = segments.join("/");
        if joined.is_empty() {
            "/".to_owned()
        } else {
            joined
        }
    } else {
        encode(remove_dot_segments(raw_path).as_bytes(), true)
    }
}

/// RFC 3986 §5.2.4 dot-segment removal plus collapsing of empty segments
/// (`//`), matching the AWS SDKs. A trailing slash survives.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    let mut normalized = format!("/{}", kept.join("/"));
    let ends_in_directory = ["/", "/.", "/.."].iter().any(|end| path.ends_with(end));
    if !kept.is_empty() && ends_in_directory {
        normalized.push('/');
    }
    normalized
}

/// The canonical query string for `raw_query` (without the leading `?`).
///
/// Each name and value is percent-decoded (`+` counts as a space, as in
/// `application/x-www-form-urlencoded` and the AWS SDKs' own parsers), then
/// RFC 3986-encoded; pairs are sorted by encoded name, then encoded value,
/// and `=` is always present.
pub(crate) fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode_query_part(name), encode_query_part(value))
        })
        .collect();
    pairs.sort();
    let joined: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    joined.join("&")
}

fn encode_query_part(part: &str) -> String {
    encode(&percent_decode(part.as_bytes(), true), false)
}

/// Decodes `%XX` escapes; malformed escapes are kept literally (and so get
/// re-encoded as `%25`), which is what the SDKs' decoders do too.
pub(crate) fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let byte = input[i];
        let escaped = match (byte, input.get(i + 1..i + 3)) {
            (b'%', Some(hex_pair)) => hex_value(hex_pair),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                i += 1;
            }
        }
    }
    out
}

fn hex_value(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

/// RFC 3986 encoding as SigV4 defines it: unreserved characters stay, every
/// other byte becomes `%XX` with uppercase hex. `/` is kept only in paths.
fn encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        let unreserved = byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte);
        if unreserved || (keep_slash && byte == b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The canonical value of one header: each occurrence trimmed with inner
/// runs of whitespace collapsed to one space, occurrences joined by `,` in
/// the order they were sent.
pub(crate) fn canonical_header_value<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_trimmed(value, &mut out);
    }
    out
}

/// Spaces and tabs (HTTP's OWS) count as whitespace.
fn push_trimmed(value: &[u8], out: &mut Vec<u8>) {
    let mut started = false;
    let mut pending_space = false;
    for &byte in value {
        if byte == b' ' || byte == b'\t' {
            pending_space = started;
            continue;
        }
        if pending_space {
            out.push(b' ');
            pending_space = false;
        }
        out.push(byte);
        started = true;
    }
}

/// Everything that goes into a canonical request, already canonicalised.
pub(crate) struct CanonicalParts<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub query: &'a str,
    /// `(lowercase name, canonical value)`, sorted by name.
    pub headers: &'a [(&'a str, Vec<u8>)],
    pub payload_hash: &'a str,
}

/// Assembles the canonical request (AWS's newline-separated layout).
pub(crate) fn canonical_request(parts: &CanonicalParts<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for line in [parts.method, parts.uri, parts.query] {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    for (name, value) in parts.headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out.push(b'\n');
    let names: Vec<&str> = parts.headers.iter().map(|(name, _)| *name).collect();
    out.extend_from_slice(names.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(parts.payload_hash.as_bytes());
    out
}

/// `AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(sha256(canonical request))`.
pub(crate) fn string_to_sign(timestamp: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub(crate) fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.expose().len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.expose().as_bytes());
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    wipe(k_secret);
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The raw signature bytes (hex-encode for the wire form).
pub(crate) fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac_sha256(signing_key, string_to_sign.as_bytes())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::test_vectors::URI_VECTORS;

    #[test]
    fn uri_vectors_from_the_aws_suite() {
        for (name, path, service, expected) in URI_VECTORS {
            assert_eq!(&canonical_uri(path, service), expected, "{name}");
        }
    }

    #[test]
    fn non_s3_paths_are_normalised_then_double_encoded() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/PutAuditEvents", "/PutAuditEvents"),
            ("/a/./b/../c/", "/a/c/"),
            ("/a//b", "/a/b"),
            ("/../a", "/a"),
            ("/a/b/.", "/a/b/"),
            ("/a%2Fb", "/a%252Fb"),
            ("/a%20b", "/a%2520b"),
            ("/caf%C3%A9", "/caf%25C3%25A9"),
            ("/a:b@c", "/a%3Ab%40c"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_uri(raw, "cloudtrail"), expected, "{raw}");
        }
    }

    #[test]
    fn s3_paths_are_encoded_once_and_not_normalised() {
        let cases = [
            ("", "/"),
            ("/bucket/a%2Fb", "/bucket/a%2Fb"),
            ("/bucket/a%2fb", "/bucket/a%2Fb"),
            ("/bucket/a b+c", "/bucket/a%20b%2Bc"),
            ("/bucket/./x/../y//", "/bucket/./x/../y//"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_uri(raw, "s3"), expected, "{raw}");
        }
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        let cases = [
            ("", ""),
            ("b=2&a=1", "a=1&b=2"),
            ("a=2&a=1&A=3", "A=3&a=1&a=2"),
            ("flag&x=", "flag=&x="),
            ("a=1&&b=2&", "a=1&b=2"),
            ("k=a b", "k=a%20b"),
            ("k=a+b", "k=a%20b"),
            ("k=a%2Bb", "k=a%2Bb"),
            ("k=%zz%4", "k=%25zz%254"),
            ("k=%7e%2d", "k=~-"),
            ("k=x=y", "k=x%3Dy"),
            (
                "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc",
                "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc",
            ),
            (
                "channelArn=arn:aws:cloudtrail:us-east-1:123456789012:channel/abc",
                "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_query(raw), expected, "{raw}");
        }
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let value = |parts: &[&str]| {
            let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
            String::from_utf8(canonical_header_value(bytes)).unwrap()
        };
        assert_eq!(value(&["  a   b \t c  "]), "a b c");
        assert_eq!(
            value(&["value2", " value2", "value1 "]),
            "value2,value2,value1"
        );
        assert_eq!(value(&[""]), "");
        assert_eq!(value(&["   "]), "");
        assert_eq!(value(&["\"a   b   c\""]), "\"a b c\"");
        assert_eq!(canonical_header_value([&b"\xff  \xfe"[..]]), b"\xff \xfe");
    }

    /// The worked example from the AWS General Reference ("Examples of how
    /// to derive a signing key for Signature Version 4").
    #[test]
    fn signing_key_matches_the_documented_example() {
        let key = signing_key(
            &SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn canonical_request_layout() {
        let headers = [
            ("host", b"example.com".to_vec()),
            ("x-amz-date", b"20150830T123600Z".to_vec()),
        ];
        let creq = canonical_request(&CanonicalParts {
            method: "GET",
            uri: "/",
            query: "a=1",
            headers: &headers,
            payload_hash: "UNSIGNED-PAYLOAD",
        });
        assert_eq!(
            String::from_utf8(creq).unwrap(),
            "GET\n/\na=1\nhost:example.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\nUNSIGNED-PAYLOAD"
        );
    }
}
