//! End-to-end tests: the AWS test-suite vectors, and requests signed by the
//! real `aws-sigv4` signer (what the Rust SDK uses) checked against
//! [`verify`], including every failure kind.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderName, HeaderValue, Method, Request, Uri};

use super::test_vectors::VECTORS;
use super::{
    RequestParts, SecretKey, SigV4Error, SigV4ErrorKind, Verified, VerifyPolicy, authorization,
    canonical, pipeline, verify,
};

const SUITE_KEY: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

const KEY: &str = "AKIACAIRNEXAMPLE0001";
const SECRET: &str = "cairnSecretKeyForTests/abcdefghijklmnop+12";
const HOST: &str = "127.0.0.1:4590";
const REGION: &str = "us-east-1";
const FIFTEEN_MIN: Duration = Duration::from_secs(15 * 60);
const CHANNEL_QUERY: &str =
    "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc";
const MISMATCH: &str = "The request signature we calculated does not match the signature you \
    provided. Check your AWS Secret Access Key and signing method. Consult the service \
    documentation for details.";

fn secrets(key: &str, secret: &str) -> HashMap<String, SecretKey> {
    HashMap::from([(key.to_owned(), SecretKey::new(secret))])
}

/// 2026-11-23T08:30:00Z, the signing time of every round-trip request.
fn signed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 30, 0).unwrap()
}

fn policy<'a>(services: &'a [&'a str], now: DateTime<Utc>) -> VerifyPolicy<'a> {
    VerifyPolicy {
        regions: &[REGION],
        services,
        max_clock_skew: FIFTEEN_MIN,
        now,
        allow_unsigned_payload: false,
    }
}

fn parts(req: &Request<Vec<u8>>) -> RequestParts<'_> {
    RequestParts {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        body: req.body(),
    }
}

fn check(
    req: &Request<Vec<u8>>,
    keys: &HashMap<String, SecretKey>,
    policy: &VerifyPolicy<'_>,
) -> Result<Verified, SigV4Error> {
    let result = verify(&parts(req), keys, policy);
    if let Err(err) = &result {
        assert_no_secrets(err);
    }
    result
}

/// Errors must never carry the secret or any 64-hex-digit value (which is
/// what a signature, ours or the client's, looks like).
fn assert_no_secrets(err: &SigV4Error) {
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(SECRET) && !text.contains(SUITE_SECRET),
        "{text}"
    );
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run < 64, "looks like a signature in: {text}");
    }
}

fn expect_err(
    req: &Request<Vec<u8>>,
    keys: &HashMap<String, SecretKey>,
    policy: &VerifyPolicy<'_>,
    kind: SigV4ErrorKind,
) -> String {
    let err = check(req, keys, policy).expect_err("verification should fail");
    assert_eq!(err.kind(), kind, "{err}");
    err.message().to_owned()
}

// ---------------------------------------------------------------------------
// AWS test-suite vectors
// ---------------------------------------------------------------------------

/// Parses a test-suite `header-signed-request.txt` into an HTTP request the
/// way a server would see it (origin-form URI, headers, body).
fn parse_suite_request(text: &str) -> Request<Vec<u8>> {
    let (head, body) = text.split_once("\n\n").expect("blank line after headers");
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let mut req = Request::new(body.as_bytes().to_vec());
    *req.method_mut() = Method::from_str(method).unwrap();
    *req.uri_mut() = Uri::from_str(target).unwrap();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        req.headers_mut().append(
            HeaderName::from_str(name).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    req
}

fn suite_policy() -> VerifyPolicy<'static> {
    VerifyPolicy {
        regions: &["us-east-1"],
        services: &["service"],
        max_clock_skew: FIFTEEN_MIN,
        now: Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap(),
        allow_unsigned_payload: false,
    }
}

#[test]
fn suite_vectors_reproduce_byte_for_byte() {
    assert!(VECTORS.len() >= 20);
    for vector in VECTORS {
        let req = parse_suite_request(vector.signed_request);
        let parts = parts(&req);
        let header = req.headers()["authorization"].to_str().unwrap();
        let auth = authorization::parse(header).unwrap();
        let payload_hash = pipeline::payload_hash(&parts, false).unwrap();
        let creq = pipeline::canonical_request(&parts, &auth, &payload_hash).unwrap();
        assert_eq!(
            String::from_utf8(creq.clone()).unwrap(),
            vector.canonical_request,
            "{}: canonical request",
            vector.name
        );
        let sts = canonical::string_to_sign(
            req.headers()["x-amz-date"].to_str().unwrap(),
            &auth.credential.scope(),
            &creq,
        );
        assert_eq!(
            sts, vector.string_to_sign,
            "{}: string to sign",
            vector.name
        );
        let key = canonical::signing_key(
            &SecretKey::new(SUITE_SECRET),
            "20150830",
            "us-east-1",
            "service",
        );
        let signature = hex::encode(canonical::signature(&key, &sts));
        assert_eq!(signature, vector.signature, "{}: signature", vector.name);
        assert_eq!(
            hex::encode(auth.signature),
            vector.signature,
            "{}",
            vector.name
        );
    }
}

#[test]
fn suite_vectors_pass_full_verification() {
    let keys = secrets(SUITE_KEY, SUITE_SECRET);
    for vector in VECTORS {
        let req = parse_suite_request(vector.signed_request);
        let result = check(&req, &keys, &suite_policy());
        match vector.name {
            // Session tokens are never valid in Cairn.
            "get-vanilla-with-session-token" | "post-sts-header-before" => {
                assert_eq!(
                    result.unwrap_err().kind(),
                    SigV4ErrorKind::UnrecognizedClient,
                    "{}",
                    vector.name
                );
            }
            // The token header was added after signing: an unsigned x-amz-* header.
            "post-sts-header-after" => {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), SigV4ErrorKind::IncompleteSignature);
                assert!(err.message().contains("'x-amz-security-token'"), "{err}");
            }
            _ => {
                let verified = result.unwrap_or_else(|e| panic!("{}: {e}", vector.name));
                assert_eq!(verified.access_key_id, SUITE_KEY);
                assert_eq!(verified.service, "service");
                assert_eq!(verified.signed_at, suite_policy().now);
            }
        }
    }
}

#[test]
fn suite_signature_is_rejected_under_the_wrong_secret() {
    let vector = VECTORS.iter().find(|v| v.name == "get-vanilla").unwrap();
    assert_eq!(
        vector.signature,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
    let req = parse_suite_request(vector.signed_request);
    let keys = secrets(SUITE_KEY, "not-the-secret");
    let msg = expect_err(
        &req,
        &keys,
        &suite_policy(),
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(msg, MISMATCH);
}

#[test]
fn signing_key_agrees_with_the_aws_sdk() {
    let ours = canonical::signing_key(&SecretKey::new(SECRET), "20261123", REGION, "cloudtrail");
    let theirs =
        v4::generate_signing_key(SECRET, SystemTime::from(signed_at()), REGION, "cloudtrail");
    assert_eq!(ours.as_slice(), theirs.as_ref());
}

// ---------------------------------------------------------------------------
// Round trips with the real signer
// ---------------------------------------------------------------------------

/// Signs `req` in place exactly as the Rust SDK would.
fn aws_sign(
    req: &mut Request<Vec<u8>>,
    credentials: Credentials,
    region: &str,
    service: &str,
    settings: SigningSettings,
    body: SignableBody<'_>,
) {
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::from(signed_at()))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://{HOST}{}", req.uri());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(req);
}

fn creds(key: &str, secret: &str) -> Credentials {
    Credentials::new(key, secret, None, None, "test")
}

const JSON_BODY: &str = r#"{"trailNameList":["management"],"includeShadowTrails":false}"#;
const TARGET: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails";

/// An unsigned AWS JSON 1.1 request as the AWS CLI builds it.
fn json_request() -> Request<Vec<u8>> {
    Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("host", HOST)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", TARGET)
        .header("user-agent", "aws-cli/2.22.0 Python/3.12.6")
        .body(JSON_BODY.as_bytes().to_vec())
        .unwrap()
}

/// `aws cloudtrail describe-trails`, signed for service `cloudtrail`
/// without `x-amz-content-sha256`.
fn signed_json_request() -> Request<Vec<u8>> {
    let mut req = json_request();
    let body = req.body().clone();
    aws_sign(
        &mut req,
        creds(KEY, SECRET),
        REGION,
        "cloudtrail",
        SigningSettings::default(),
        SignableBody::Bytes(&body),
    );
    req
}

/// `aws cloudtrail-data put-audit-events`, a REST-style request.
fn signed_data_request() -> Request<Vec<u8>> {
    let body = br#"{"auditEvents":[{"id":"1","eventData":"{}"}]}"#.to_vec();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/PutAuditEvents?{CHANNEL_QUERY}"))
        .header("host", HOST)
        .header("content-type", "application/json")
        .body(body.clone())
        .unwrap();
    aws_sign(
        &mut req,
        creds(KEY, SECRET),
        REGION,
        "cloudtrail-data",
        SigningSettings::default(),
        SignableBody::Bytes(&body),
    );
    req
}

#[test]
fn json_request_signed_by_the_sdk_verifies() {
    let req = signed_json_request();
    assert!(!req.headers().contains_key("x-amz-content-sha256"));
    let auth = req.headers()["authorization"].to_str().unwrap();
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"),
        "{auth}"
    );
    let verified = check(
        &req,
        &secrets(KEY, SECRET),
        &policy(&["cloudtrail"], signed_at()),
    )
    .unwrap();
    assert_eq!(
        verified,
        Verified {
            access_key_id: KEY.to_owned(),
            region: REGION.to_owned(),
            service: "cloudtrail".to_owned(),
            signed_at: signed_at(),
        }
    );
}

#[test]
fn rest_request_with_encoded_query_verifies() {
    let req = signed_data_request();
    assert_eq!(req.uri().query(), Some(CHANNEL_QUERY));
    let services = ["cloudtrail", "cloudtrail-data"];
    let verified = check(&req, &secrets(KEY, SECRET), &policy(&services, signed_at())).unwrap();
    assert_eq!(verified.service, "cloudtrail-data");
}

#[test]
fn request_with_content_sha256_header_verifies_and_checks_the_body() {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let mut req = json_request();
    let body = req.body().clone();
    aws_sign(
        &mut req,
        creds(KEY, SECRET),
        REGION,
        "cloudtrail",
        settings,
        SignableBody::Bytes(&body),
    );
    assert_eq!(
        req.headers()["x-amz-content-sha256"],
        canonical::sha256_hex(JSON_BODY.as_bytes()).as_str()
    );
    let keys = secrets(KEY, SECRET);
    let pol = policy(&["cloudtrail"], signed_at());
    assert!(check(&req, &keys, &pol).is_ok());

    req.body_mut().push(b' ');
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::InvalidSignature);
    assert_eq!(
        msg,
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
}

#[test]
fn unsigned_payload_is_only_accepted_when_allowed() {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let mut req = json_request();
    aws_sign(
        &mut req,
        creds(KEY, SECRET),
        REGION,
        "cloudtrail",
        settings,
        SignableBody::UnsignedPayload,
    );
    assert_eq!(req.headers()["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    let keys = secrets(KEY, SECRET);
    let mut pol = policy(&["cloudtrail"], signed_at());
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::InvalidSignature);
    assert!(msg.starts_with("UNSIGNED-PAYLOAD is not accepted"), "{msg}");
    pol.allow_unsigned_payload = true;
    assert!(check(&req, &keys, &pol).is_ok());
}

#[test]
fn http2_style_request_without_host_header_uses_the_authority() {
    let mut req = signed_json_request();
    req.headers_mut().remove("host");
    *req.uri_mut() = Uri::from_str(&format!("http://{HOST}/")).unwrap();
    let pol = policy(&["cloudtrail"], signed_at());
    assert!(check(&req, &secrets(KEY, SECRET), &pol).is_ok());
    *req.uri_mut() = Uri::from_str("http://127.0.0.1:4591/").unwrap();
    let msg = expect_err(
        &req,
        &secrets(KEY, SECRET),
        &pol,
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(msg, MISMATCH);
}

// ---------------------------------------------------------------------------
// Tampering: each must be a signature mismatch
// ---------------------------------------------------------------------------

#[test]
fn tampering_with_any_signed_part_is_a_mismatch() {
    type Tamper = fn(&mut Request<Vec<u8>>);
    let tampers: [(&str, Tamper); 8] = [
        ("body", |r| r.body_mut()[2] = b'X'),
        ("empty body", |r| r.body_mut().clear()),
        ("target", |r| {
            r.headers_mut().insert(
                "x-amz-target",
                HeaderValue::from_static(
                    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DeleteTrail",
                ),
            );
        }),
        ("content-type", |r| {
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
        }),
        ("host", |r| {
            r.headers_mut()
                .insert("host", HeaderValue::from_static("127.0.0.1:4591"));
        }),
        ("method", |r| *r.method_mut() = Method::PUT),
        ("path", |r| *r.uri_mut() = Uri::from_static("/other")),
        ("query", |r| *r.uri_mut() = Uri::from_static("/?a=b")),
    ];
    let keys = secrets(KEY, SECRET);
    let pol = policy(&["cloudtrail"], signed_at());
    for (name, tamper) in tampers {
        let mut req = signed_json_request();
        tamper(&mut req);
        let err = check(&req, &keys, &pol).expect_err(name);
        assert_eq!(err.kind(), SigV4ErrorKind::InvalidSignature, "{name}");
        assert_eq!(err.message(), MISMATCH, "{name}");
    }
}

#[test]
fn tampered_rest_query_is_a_mismatch() {
    let mut req = signed_data_request();
    *req.uri_mut() = Uri::from_str(&format!(
        "/PutAuditEvents?{}",
        CHANNEL_QUERY.replace("abc", "abd")
    ))
    .unwrap();
    let pol = policy(&["cloudtrail-data"], signed_at());
    let msg = expect_err(
        &req,
        &secrets(KEY, SECRET),
        &pol,
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(msg, MISMATCH);
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let req = signed_json_request();
    let keys = secrets(KEY, "some-other-secret");
    let pol = policy(&["cloudtrail"], signed_at());
    assert_eq!(
        expect_err(&req, &keys, &pol, SigV4ErrorKind::InvalidSignature),
        MISMATCH
    );
}

#[test]
fn a_flipped_signature_bit_is_a_mismatch() {
    let mut req = signed_json_request();
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let last = auth.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &auth[..auth.len() - 1]);
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&tampered).unwrap());
    let pol = policy(&["cloudtrail"], signed_at());
    assert_eq!(
        expect_err(
            &req,
            &secrets(KEY, SECRET),
            &pol,
            SigV4ErrorKind::InvalidSignature
        ),
        MISMATCH
    );
}

// ---------------------------------------------------------------------------
// Each failure kind
// ---------------------------------------------------------------------------

#[test]
fn unknown_access_key_is_unrecognized() {
    let req = signed_json_request();
    let keys = secrets("AKIASOMEONEELSE", SECRET);
    let pol = policy(&["cloudtrail"], signed_at());
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::UnrecognizedClient);
    assert_eq!(
        msg,
        "The security token included in the request is invalid."
    );
}

#[test]
fn session_tokens_are_unrecognized() {
    let mut req = json_request();
    let body = req.body().clone();
    let with_token = Credentials::new(KEY, SECRET, Some("token".to_owned()), None, "test");
    aws_sign(
        &mut req,
        with_token,
        REGION,
        "cloudtrail",
        SigningSettings::default(),
        SignableBody::Bytes(&body),
    );
    assert!(req.headers().contains_key("x-amz-security-token"));
    let pol = policy(&["cloudtrail"], signed_at());
    expect_err(
        &req,
        &secrets(KEY, SECRET),
        &pol,
        SigV4ErrorKind::UnrecognizedClient,
    );
}

#[test]
fn wrong_region_is_invalid_signature() {
    let req = signed_json_request();
    let mut pol = policy(&["cloudtrail"], signed_at());
    pol.regions = &["eu-west-1"];
    let msg = expect_err(
        &req,
        &secrets(KEY, SECRET),
        &pol,
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(
        msg,
        "Credential should be scoped to a valid region, not 'us-east-1'. Expected 'eu-west-1'."
    );
}

#[test]
fn wrong_service_is_invalid_signature() {
    let req = signed_json_request();
    let keys = secrets(KEY, SECRET);
    let msg = expect_err(
        &req,
        &keys,
        &policy(&["cloudtrail-data"], signed_at()),
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(
        msg,
        "Credential should be scoped to correct service: 'cloudtrail-data'."
    );
    let msg = expect_err(
        &req,
        &keys,
        &policy(&["s3", "sts"], signed_at()),
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(
        msg,
        "Credential should be scoped to correct service: 's3' or 'sts'."
    );
}

#[test]
fn scope_date_must_match_the_request_date() {
    let mut req = signed_json_request();
    req.headers_mut()
        .insert("x-amz-date", HeaderValue::from_static("20261124T010101Z"));
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 1, 1, 1).unwrap();
    let msg = expect_err(
        &req,
        &secrets(KEY, SECRET),
        &policy(&["cloudtrail"], now),
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(
        msg,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20261123' != '20261124', from '20261124T010101Z'."
    );
}

#[test]
fn clock_skew_is_enforced_both_ways() {
    let req = signed_json_request();
    let keys = secrets(KEY, SECRET);
    let minutes = |m: i64| signed_at() + chrono::TimeDelta::minutes(m);

    assert!(check(&req, &keys, &policy(&["cloudtrail"], minutes(15))).is_ok());
    assert!(check(&req, &keys, &policy(&["cloudtrail"], minutes(-15))).is_ok());

    let msg = expect_err(
        &req,
        &keys,
        &policy(&["cloudtrail"], minutes(16)),
        SigV4ErrorKind::RequestExpired,
    );
    assert_eq!(
        msg,
        "Signature expired: 20261123T083000Z is now earlier than 20261123T083100Z \
         (20261123T084600Z - 15 min.)"
    );
    let msg = expect_err(
        &req,
        &keys,
        &policy(&["cloudtrail"], minutes(-16)),
        SigV4ErrorKind::InvalidSignature,
    );
    assert_eq!(
        msg,
        "Signature not yet current: 20261123T083000Z is still later than 20261123T082900Z \
         (20261123T081400Z + 15 min.)"
    );
}

#[test]
fn missing_authorization_is_missing_authentication_token() {
    let req = json_request();
    let pol = policy(&["cloudtrail"], signed_at());
    let msg = expect_err(
        &req,
        &secrets(KEY, SECRET),
        &pol,
        SigV4ErrorKind::MissingAuthenticationToken,
    );
    assert_eq!(msg, "Missing Authentication Token");
}

#[test]
fn presigned_urls_are_not_supported() {
    let mut req = json_request();
    *req.uri_mut() = Uri::from_static("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00");
    let pol = policy(&["cloudtrail"], signed_at());
    let keys = secrets(KEY, SECRET);
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    assert!(msg.starts_with("Query-string (presigned URL) authentication is not supported"));

    let mut both = signed_json_request();
    *both.uri_mut() = Uri::from_static("/?X-Amz-Algorithm=AWS4-HMAC-SHA256");
    let msg = expect_err(&both, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    assert!(msg.starts_with("Only one auth mechanism allowed"), "{msg}");
}

#[test]
fn unsigned_amz_header_is_incomplete() {
    let mut req = json_request();
    req.headers_mut().remove("x-amz-target");
    let body = req.body().clone();
    aws_sign(
        &mut req,
        creds(KEY, SECRET),
        REGION,
        "cloudtrail",
        SigningSettings::default(),
        SignableBody::Bytes(&body),
    );
    let pol = policy(&["cloudtrail"], signed_at());
    let keys = secrets(KEY, SECRET);
    assert!(check(&req, &keys, &pol).is_ok());
    req.headers_mut()
        .insert("x-amz-target", HeaderValue::from_static(TARGET));
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    assert_eq!(
        msg,
        "Header 'x-amz-target' is present in the request but not listed in SignedHeaders; \
         every x-amz-* header must be signed."
    );
    // Headers outside x-amz-* may be added freely (proxies do).
    let mut req = signed_json_request();
    req.headers_mut()
        .insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    req.headers_mut()
        .insert("x-amzn-trace-id", HeaderValue::from_static("Root=1-abc"));
    assert!(check(&req, &keys, &pol).is_ok());
}

/// Rewrites the `SignedHeaders` list of an already signed request.
fn with_signed_headers(req: &mut Request<Vec<u8>>, list: &str) {
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let start = auth.find("SignedHeaders=").unwrap() + "SignedHeaders=".len();
    let end = start + auth[start..].find(',').unwrap();
    let rewritten = format!("{}{list}{}", &auth[..start], &auth[end..]);
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&rewritten).unwrap());
}

#[test]
fn required_headers_must_be_signed_and_present() {
    let keys = secrets(KEY, SECRET);
    let pol = policy(&["cloudtrail"], signed_at());

    let mut no_host = signed_json_request();
    with_signed_headers(&mut no_host, "content-type;x-amz-date;x-amz-target");
    assert_eq!(
        expect_err(&no_host, &keys, &pol, SigV4ErrorKind::IncompleteSignature),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );

    let mut no_date = signed_json_request();
    with_signed_headers(&mut no_date, "content-type;host;x-amz-target");
    let msg = expect_err(&no_date, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    // x-amz-date is both the date header and an x-amz-* header.
    assert_eq!(
        msg,
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
    );

    let mut absent = signed_json_request();
    absent.headers_mut().remove("content-type");
    assert_eq!(
        expect_err(&absent, &keys, &pol, SigV4ErrorKind::IncompleteSignature),
        "Header 'content-type' is listed in SignedHeaders but is not present in the request."
    );
}

#[test]
fn missing_or_bad_date_is_incomplete() {
    let keys = secrets(KEY, SECRET);
    let pol = policy(&["cloudtrail"], signed_at());
    let mut req = signed_json_request();
    req.headers_mut().remove("x-amz-date");
    assert_eq!(
        expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );
    req.headers_mut().insert(
        "x-amz-date",
        HeaderValue::from_static("2026-11-23T08:30:00Z"),
    );
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    assert!(
        msg.starts_with("X-Amz-Date '2026-11-23T08:30:00Z' is not a valid"),
        "{msg}"
    );
    req.headers_mut()
        .append("x-amz-date", HeaderValue::from_static("20261123T083000Z"));
    let msg = expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    assert_eq!(
        msg,
        "The request contains more than one 'x-amz-date' header."
    );
}

#[test]
fn garbage_authorization_headers_are_incomplete() {
    let keys = secrets(KEY, SECRET);
    let pol = policy(&["cloudtrail"], signed_at());
    let garbage = [
        "",
        "Bearer eyJhbGciOiJIUzI1NiJ9",
        "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIACAIRNEXAMPLE0001/20261123/us-east-1/cloudtrail/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIACAIRNEXAMPLE0001/20261123/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
    ];
    for value in garbage {
        let mut req = signed_json_request();
        req.headers_mut()
            .insert("authorization", HeaderValue::from_static(value));
        expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature);
    }
    let mut twice = signed_json_request();
    let auth = twice.headers()["authorization"].clone();
    twice.headers_mut().append("authorization", auth);
    assert_eq!(
        expect_err(&twice, &keys, &pol, SigV4ErrorKind::IncompleteSignature),
        "The request contains more than one Authorization header."
    );
}

/// The SDKs always send X-Amz-Date, so the `Date` fallback is checked by
/// signing with this module's own (vector-verified) primitives.
#[test]
fn date_header_fallback_verifies_when_signed() {
    let mut req = json_request();
    req.headers_mut().insert(
        "date",
        HeaderValue::from_static("Mon, 23 Nov 2026 08:30:00 GMT"),
    );
    let signed_headers = "content-type;date;host;x-amz-target";
    let placeholder = format!(
        "AWS4-HMAC-SHA256 Credential={KEY}/20261123/{REGION}/cloudtrail/aws4_request, \
         SignedHeaders={signed_headers}, Signature={}",
        "0".repeat(64)
    );
    let auth = authorization::parse(&placeholder).unwrap();
    let payload = canonical::sha256_hex(req.body());
    let creq = pipeline::canonical_request(&parts(&req), &auth, &payload).unwrap();
    let sts = canonical::string_to_sign("20261123T083000Z", &auth.credential.scope(), &creq);
    let key = canonical::signing_key(&SecretKey::new(SECRET), "20261123", REGION, "cloudtrail");
    let signature = hex::encode(canonical::signature(&key, &sts));
    let header = placeholder.replace(&"0".repeat(64), &signature);
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&header).unwrap());

    let keys = secrets(KEY, SECRET);
    let pol = policy(&["cloudtrail"], signed_at());
    assert_eq!(check(&req, &keys, &pol).unwrap().signed_at, signed_at());

    with_signed_headers(&mut req, "content-type;host;x-amz-target");
    assert_eq!(
        expect_err(&req, &keys, &pol, SigV4ErrorKind::IncompleteSignature),
        "'Date' must be a 'SignedHeader' in the AWS Authorization."
    );
}

#[test]
fn hash_map_lookup_is_by_exact_key() {
    let keys: HashMap<String, SecretKey> = secrets(KEY, SECRET);
    let lookup: &dyn super::SecretLookup = &keys;
    assert_eq!(lookup.secret_for(KEY), Some(SecretKey::new(SECRET)));
    assert_eq!(lookup.secret_for(&KEY.to_lowercase()), None);
}
