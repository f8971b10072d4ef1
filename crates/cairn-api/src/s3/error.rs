//! S3's error shape, and the mapping of authentication failures onto S3's codes.
//!
//! An S3 error is an HTTP status plus an XML body
//! `<Error><Code>…</Code><Message>…</Message><BucketName>…</BucketName><RequestId>…</RequestId></Error>`
//! (`application/xml`); answers to `HEAD` carry no body, only the status. Every S3 answer also
//! carries the request id as `x-amz-request-id`, where S3 clients look for it.
//!
//! The authentication layer is shared with the JSON APIs and answers their errors
//! ([`ApiError`], riding in the response's extensions); [`auth_errors`] re-renders those in S3's
//! shape and with S3's codes:
//!
//! | SigV4 failure | S3 code | HTTP |
//! |---|---|---|
//! | no `Authorization` header | `AccessDenied` | 403 |
//! | malformed or incomplete signature, wrong scope (region, service, date) | `AuthorizationHeaderMalformed` | 400 |
//! | unknown access key | `InvalidAccessKeyId` | 403 |
//! | a session token (Cairn issues none) | `InvalidToken` | 400 |
//! | `x-amz-content-sha256` does not match the body | `XAmzContentSHA256Mismatch` | 400 |
//! | `UNSIGNED-PAYLOAD` | `InvalidRequest` | 400 |
//! | request time too far from now (either way) | `RequestTimeTooSkewed` | 403 |
//! | signature mismatch | `SignatureDoesNotMatch` | 403 |

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::xml::Xml;
use crate::ApiError;
use crate::layers::request_id::RequestId;

/// An error answered to an S3 caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Error {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Further elements of the body after `Message` (`BucketName`, `Key`, ...), in order.
    pub details: Vec<(&'static str, String)>,
    /// Extra response headers (`Content-Range` of `InvalidRange`, ...).
    pub headers: Vec<(&'static str, String)>,
}

impl S3Error {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        S3Error {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn no_such_bucket(bucket: &str) -> Self {
        S3Error::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        )
        .detail("BucketName", bucket)
    }

    pub(crate) fn no_such_key(key: &str) -> Self {
        S3Error::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .detail("Key", key)
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub(crate) fn not_implemented(message: impl Into<String>) -> Self {
        S3Error::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", message)
    }

    /// A server-side failure; the cause goes to the log only.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "S3 request failed");
        S3Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// The response: XML body (none for `HEAD`), `x-amz-request-id`.
    pub(crate) fn render(&self, request_id: &str, head: bool) -> Response {
        let mut resp = if head {
            self.status.into_response()
        } else {
            let mut xml = Xml::new();
            xml.open("Error")
                .element("Code", &self.code)
                .element("Message", &self.message);
            for (name, value) in &self.details {
                xml.element(name, value);
            }
            xml.element("RequestId", request_id).close("Error");
            let mut resp = (self.status, xml.finish()).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            resp
        };
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
        set_request_id(&mut resp, request_id);
        resp
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Sets `x-amz-request-id`, the header S3 clients read the request id from.
pub(crate) fn set_request_id(resp: &mut Response, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
}

/// The id the request-id layer gave the request.
pub(crate) fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// Re-renders an authentication failure of the inner layers (an [`ApiError`] in the response's
/// extensions) as S3's error; other responses pass unchanged.
pub(crate) async fn auth_errors(req: Request, next: Next) -> Response {
    let head = req.method() == Method::HEAD;
    let session_token = req.headers().contains_key("x-amz-security-token");
    let request_id = request_id(&req);
    let resp = next.run(req).await;
    match resp.extensions().get::<ApiError>() {
        Some(e) => from_auth_error(e, session_token).render(&request_id, head),
        None => resp,
    }
}

/// S3's code for a failure of the shared SigV4 layer (see the module docs). The SigV4
/// verifier has one kind for several S3 codes; its messages tell them apart.
fn from_auth_error(e: &ApiError, session_token: bool) -> S3Error {
    let m = e.message.as_str();
    let (status, code, message): (StatusCode, &'static str, Cow<'_, str>) = match &*e.code {
        "MissingAuthenticationToken" => (
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied: the request is not signed.".into(),
        ),
        "IncompleteSignature" => (
            StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            m.into(),
        ),
        "UnrecognizedClientException" if session_token => (
            StatusCode::BAD_REQUEST,
            "InvalidToken",
            "The provided token is malformed or otherwise invalid.".into(),
        ),
        "UnrecognizedClientException" => (
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.".into(),
        ),
        "RequestExpired" => (
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            format!(
                "The difference between the request time and the current time is too large. {m}"
            )
            .into(),
        ),
        "InvalidSignatureException" => {
            if m.starts_with("Credential should be scoped") || m.starts_with("Date in Credential") {
                (
                    StatusCode::BAD_REQUEST,
                    "AuthorizationHeaderMalformed",
                    format!("The authorization header is malformed; {m}").into(),
                )
            } else if m.starts_with("Signature not yet current") {
                (
                    StatusCode::FORBIDDEN,
                    "RequestTimeTooSkewed",
                    format!(
                        "The difference between the request time and the current time is too large. {m}"
                    )
                    .into(),
                )
            } else if m.contains("'x-amz-content-sha256'") {
                (
                    StatusCode::BAD_REQUEST,
                    "XAmzContentSHA256Mismatch",
                    m.into(),
                )
            } else if m.starts_with("UNSIGNED-PAYLOAD") {
                (StatusCode::BAD_REQUEST, "InvalidRequest", m.into())
            } else {
                (
                    StatusCode::FORBIDDEN,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you \
                     provided. Check your key and signing method."
                        .into(),
                )
            }
        }
        "InternalFailure" => return S3Error::internal("authentication failed internally"),
        _ => {
            return S3Error {
                status: e.status,
                code: e.code.clone(),
                message: e.message.clone(),
                details: Vec::new(),
                headers: Vec::new(),
            };
        }
    };
    S3Error::new(status, code, message)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::sigv4::{self, RequestParts, SecretKey, SignRequest, VerifyPolicy};

    /// Runs the real verifier on a request signed with the given scope, then maps its error,
    /// so a change of the verifier's messages shows up here.
    fn s3_code_for(
        secret: &str,
        region: &str,
        service: &str,
        signed_at: chrono::DateTime<Utc>,
        extra: &[(&str, &str)],
    ) -> (u16, String) {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 15, 2).unwrap();
        let mut headers = vec![("host", "localhost")];
        headers.extend_from_slice(extra);
        let signed = sigv4::sign(
            &SignRequest {
                method: "GET",
                path: "/logs/a%20b",
                query: "list-type=2",
                headers: &headers,
                body: b"",
            },
            "AKIDEXAMPLE",
            &SecretKey::new(secret),
            region,
            service,
            signed_at,
        );
        let mut request = http::Request::builder()
            .method("GET")
            .uri("/logs/a%20b?list-type=2");
        for (k, v) in headers {
            request = request.header(k, v);
        }
        for (k, v) in &signed {
            request = request.header(*k, v.as_str());
        }
        let request = request.body(()).unwrap();
        let secrets: HashMap<String, SecretKey> =
            [("AKIDEXAMPLE".to_string(), SecretKey::new("right"))].into();
        let result = sigv4::verify(
            &RequestParts {
                method: request.method(),
                uri: request.uri(),
                headers: request.headers(),
                body: b"",
            },
            &secrets,
            &VerifyPolicy {
                regions: &["us-east-1"],
                services: &["s3"],
                max_clock_skew: Duration::from_secs(900),
                now,
                allow_unsigned_payload: false,
            },
        );
        let Err(e) = result else {
            return (200, String::new());
        };
        let api = ApiError {
            status: e.kind().http_status(),
            code: e.kind().aws_code().into(),
            message: e.message().to_string(),
        };
        let s3 = from_auth_error(&api, false);
        (s3.status.as_u16(), s3.code.into_owned())
    }

    #[test]
    fn verifier_failures_map_to_s3_codes() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 15, 2).unwrap();
        let ok = s3_code_for("right", "us-east-1", "s3", now, &[]);
        assert_eq!(ok, (200, String::new()));
        let cases = [
            (
                s3_code_for("wrong", "us-east-1", "s3", now, &[]),
                (403, "SignatureDoesNotMatch"),
            ),
            (
                s3_code_for("right", "eu-west-1", "s3", now, &[]),
                (400, "AuthorizationHeaderMalformed"),
            ),
            (
                s3_code_for("right", "us-east-1", "cloudtrail", now, &[]),
                (400, "AuthorizationHeaderMalformed"),
            ),
            (
                s3_code_for(
                    "right",
                    "us-east-1",
                    "s3",
                    now - chrono::Duration::hours(1),
                    &[],
                ),
                (403, "RequestTimeTooSkewed"),
            ),
            (
                s3_code_for(
                    "right",
                    "us-east-1",
                    "s3",
                    now + chrono::Duration::hours(1),
                    &[],
                ),
                (403, "RequestTimeTooSkewed"),
            ),
            (
                s3_code_for(
                    "right",
                    "us-east-1",
                    "s3",
                    now,
                    &[("x-amz-content-sha256", "00")],
                ),
                (400, "XAmzContentSHA256Mismatch"),
            ),
            (
                s3_code_for(
                    "right",
                    "us-east-1",
                    "s3",
                    now,
                    &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
                ),
                (400, "InvalidRequest"),
            ),
        ];
        for (got, (status, code)) in cases {
            assert_eq!(got, (status, code.to_string()));
        }
    }

    #[test]
    fn other_auth_failures_map_to_s3_codes() {
        let err = |code: &'static str| ApiError::with_status(StatusCode::FORBIDDEN, code, "m");
        let unknown = from_auth_error(&err("UnrecognizedClientException"), false);
        assert_eq!(unknown.code, "InvalidAccessKeyId");
        let token = from_auth_error(&err("UnrecognizedClientException"), true);
        assert_eq!((token.status.as_u16(), &*token.code), (400, "InvalidToken"));
        let unsigned = from_auth_error(&err("MissingAuthenticationToken"), false);
        assert_eq!(
            (unsigned.status.as_u16(), &*unsigned.code),
            (403, "AccessDenied")
        );
    }

    #[tokio::test]
    async fn errors_render_as_s3_xml_and_head_errors_have_no_body() {
        let e = S3Error::no_such_bucket("lo<gs");
        let resp = e.render("req-1", false);
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["content-type"], "application/xml");
        assert_eq!(resp.headers()["x-amz-request-id"], "req-1");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>\
             <Message>The specified bucket does not exist</Message>\
             <BucketName>lo&lt;gs</BucketName><RequestId>req-1</RequestId></Error>"
        );
        let head = e.render("req-1", true);
        assert_eq!(head.status(), 404);
        let body = axum::body::to_bytes(head.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
}
