//! Signing, the mirror of verification: for Cairn's own clients (benchmarks, tooling) so they
//! need no AWS SDK. Built from the same canonicalisation functions the verifier uses, and
//! tested against the verifier and the AWS test vectors' signer.

use chrono::{DateTime, Utc};

use super::SecretKey;
use super::canonical::{self, CanonicalParts};

/// What to sign: an HTTP request as it will be sent.
pub struct SignRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as sent (already percent-encoded), e.g. `/` or `/PutAuditEvents`.
    pub path: &'a str,
    /// The raw query string without `?` (may be empty).
    pub query: &'a str,
    /// Headers to sign, including `host`; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// The headers to add to the request: `x-amz-date` and `authorization`.
pub fn sign(
    req: &SignRequest<'_>,
    access_key_id: &str,
    secret: &SecretKey,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
) -> [(&'static str, String); 2] {
    let timestamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = &timestamp[..8];
    let mut headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                canonical::canonical_header_value([v.as_bytes()]),
            )
        })
        .collect();
    headers.push(("x-amz-date".into(), timestamp.clone().into_bytes()));
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let header_refs: Vec<(&str, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let payload_hash = canonical::sha256_hex(req.body);
    let uri = canonical::canonical_uri(req.path, service);
    let query = canonical::canonical_query(req.query);
    let creq = canonical::canonical_request(&CanonicalParts {
        method: req.method,
        uri: &uri,
        query: &query,
        headers: &header_refs,
        payload_hash: &payload_hash,
    });
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = canonical::string_to_sign(&timestamp, &scope, &creq);
    let key = canonical::signing_key(secret, date, region, service);
    let sig = hex::encode(canonical::signature(&key, &sts));
    let signed: Vec<&str> = header_refs.iter().map(|(k, _)| *k).collect();
    [
        ("x-amz-date", timestamp),
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={sig}",
                signed.join(";")
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sigv4::{RequestParts, VerifyPolicy, verify};

    #[test]
    fn signed_requests_verify_and_tampering_fails() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let now = Utc::now();
        let body = br#"{"auditEvents":[]}"#;
        let query = "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc";
        let req = SignRequest {
            method: "POST",
            path: "/PutAuditEvents",
            query,
            headers: &[
                ("Host", "127.0.0.1:4590"),
                ("Content-Type", "application/json"),
            ],
            body,
        };
        let added = sign(
            &req,
            "AKIDEXAMPLE",
            &secret,
            "us-east-1",
            "cloudtrail-data",
            now,
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "127.0.0.1:4590".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        for (k, v) in &added {
            headers.insert(*k, v.parse().unwrap());
        }
        let uri: http::Uri = format!("/PutAuditEvents?{query}").parse().unwrap();
        let secrets: HashMap<String, SecretKey> =
            [("AKIDEXAMPLE".to_string(), secret.clone())].into();
        let policy = VerifyPolicy {
            regions: &["us-east-1"],
            services: &["cloudtrail-data"],
            max_clock_skew: std::time::Duration::from_secs(900),
            now,
            allow_unsigned_payload: false,
        };
        let parts = RequestParts {
            method: &http::Method::POST,
            uri: &uri,
            headers: &headers,
            body,
        };
        assert!(verify(&parts, &secrets, &policy).is_ok());
        let tampered = RequestParts {
            body: b"{}",
            ..parts
        };
        assert!(verify(&tampered, &secrets, &policy).is_err());
    }
}
