//! The verifier's single error type and its mapping onto AWS error codes.

use http::StatusCode;

/// Why a request failed SigV4 verification.
///
/// Each kind corresponds to exactly one AWS error code and HTTP status, so the
/// API layer can render `{"__type": kind.aws_code(), "message": err.message()}`
/// without knowing anything about signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigV4ErrorKind {
    /// No `Authorization` header at all.
    MissingAuthenticationToken,
    /// The request is signed, but the signature material is malformed or
    /// incomplete (bad header syntax, bad scope format, missing or unsigned
    /// required headers, unparseable date).
    IncompleteSignature,
    /// The access key id is not known (or a session token was presented).
    UnrecognizedClient,
    /// Wrong scope (region/service/date), a payload hash that does not match
    /// the body, a timestamp in the future, or a signature mismatch.
    InvalidSignature,
    /// The request timestamp is older than the allowed clock skew.
    RequestExpired,
}

impl SigV4ErrorKind {
    /// The AWS error code, i.e. the `__type` of a JSON error response.
    pub fn aws_code(self) -> &'static str {
        match self {
            SigV4ErrorKind::MissingAuthenticationToken => "MissingAuthenticationToken",
            SigV4ErrorKind::IncompleteSignature => "IncompleteSignature",
            SigV4ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            SigV4ErrorKind::InvalidSignature => "InvalidSignatureException",
            SigV4ErrorKind::RequestExpired => "RequestExpired",
        }
    }

    /// The HTTP status AWS answers with for this code.
    pub fn http_status(self) -> StatusCode {
        match self {
            SigV4ErrorKind::MissingAuthenticationToken => StatusCode::FORBIDDEN,
            SigV4ErrorKind::IncompleteSignature => StatusCode::BAD_REQUEST,
            SigV4ErrorKind::UnrecognizedClient => StatusCode::FORBIDDEN,
            SigV4ErrorKind::InvalidSignature => StatusCode::FORBIDDEN,
            SigV4ErrorKind::RequestExpired => StatusCode::BAD_REQUEST,
        }
    }
}

/// A verification failure: a [`SigV4ErrorKind`] plus an AWS-style message.
///
/// The message may quote values the client sent (dates, scope parts, header
/// names) but never contains a secret key or a signature computed by the
/// server, so it is safe to return to the client and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.aws_code())]
pub struct SigV4Error {
    kind: SigV4ErrorKind,
    message: String,
}

impl SigV4Error {
    pub(crate) fn new(kind: SigV4ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        Self::new(SigV4ErrorKind::IncompleteSignature, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(SigV4ErrorKind::InvalidSignature, message)
    }

    /// What went wrong, as an AWS error kind.
    pub fn kind(&self) -> SigV4ErrorKind {
        self.kind
    }

    /// The human-readable message for the response body.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_match_aws() {
        let table = [
            (
                SigV4ErrorKind::MissingAuthenticationToken,
                "MissingAuthenticationToken",
                403,
            ),
            (
                SigV4ErrorKind::IncompleteSignature,
                "IncompleteSignature",
                400,
            ),
            (
                SigV4ErrorKind::UnrecognizedClient,
                "UnrecognizedClientException",
                403,
            ),
            (
                SigV4ErrorKind::InvalidSignature,
                "InvalidSignatureException",
                403,
            ),
            (SigV4ErrorKind::RequestExpired, "RequestExpired", 400),
        ];
        for (kind, code, status) in table {
            assert_eq!(kind.aws_code(), code);
            assert_eq!(kind.http_status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn display_prefixes_the_code() {
        let err = SigV4Error::incomplete("Authorization header requires 'Signature' parameter.");
        assert_eq!(
            err.to_string(),
            "IncompleteSignature: Authorization header requires 'Signature' parameter."
        );
        assert_eq!(err.kind(), SigV4ErrorKind::IncompleteSignature);
    }
}
