//! The verification pipeline: pull the signature material out of the HTTP
//! request, apply the policy checks, then recompute and compare.

use http::header::{AUTHORIZATION, HOST};
use subtle::ConstantTimeEq;

use super::authorization::{self, Authorization, Credential};
use super::canonical::{self, CanonicalParts};
use super::error::{SigV4Error, SigV4ErrorKind};
use super::timestamp::RequestTime;
use super::{RequestParts, SecretLookup, Verified, VerifyPolicy};

const CONTENT_SHA256: &str = "x-amz-content-sha256";
const SECURITY_TOKEN: &str = "x-amz-security-token";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// See [`super::verify`] for the contract; the steps run in the documented order.
pub(crate) fn verify(
    req: &RequestParts<'_>,
    secrets: &dyn SecretLookup,
    policy: &VerifyPolicy<'_>,
) -> Result<Verified, SigV4Error> {
    let auth = authorization::parse(authorization_header(req)?)?;
    let time = RequestTime::from_headers(
        single_header(req, "x-amz-date")?,
        single_header(req, "date")?,
    )?;
    check_signed_headers(req, &auth, &time)?;
    check_scope(&auth.credential, &time, policy)?;
    time.check_skew(policy.now, policy.max_clock_skew)?;
    reject_session_token(req)?;
    let secret = secrets
        .secret_for(&auth.credential.access_key_id)
        .ok_or_else(unrecognized_client)?;
    let payload_hash = payload_hash(req, policy.allow_unsigned_payload)?;
    let canonical_request = canonical_request(req, &auth, &payload_hash)?;
    let string_to_sign =
        canonical::string_to_sign(&time.basic, &auth.credential.scope(), &canonical_request);
    let Credential {
        access_key_id,
        date,
        region,
        service,
    } = auth.credential;
    let key = canonical::signing_key(&secret, &date, &region, &service);
    let expected = canonical::signature(&key, &string_to_sign);
    if !bool::from(expected.ct_eq(&auth.signature)) {
        return Err(SigV4Error::invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. \
             Consult the service documentation for details.",
        ));
    }
    Ok(Verified {
        access_key_id,
        region,
        service,
        signed_at: time.at,
    })
}

/// The single `Authorization` header as text. Presigned-URL (query string)
/// authentication is recognised only to reject it with a clear message.
fn authorization_header<'r>(req: &RequestParts<'r>) -> Result<&'r str, SigV4Error> {
    let query_auth = has_query_auth(req.uri.query().unwrap_or(""));
    let mut values = req.headers.get_all(AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) if query_auth => Err(SigV4Error::incomplete(
            "Query-string (presigned URL) authentication is not supported; \
             sign the request with the Authorization header.",
        )),
        (None, _) => Err(SigV4Error::new(
            SigV4ErrorKind::MissingAuthenticationToken,
            "Missing Authentication Token",
        )),
        (Some(_), Some(_)) => Err(SigV4Error::incomplete(
            "The request contains more than one Authorization header.",
        )),
        (Some(_), None) if query_auth => Err(SigV4Error::incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
             or the Authorization header should be specified.",
        )),
        (Some(value), None) => value.to_str().map_err(|_| {
            SigV4Error::incomplete("Authorization header contains non-ASCII characters.")
        }),
    }
}

fn has_query_auth(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        canonical::percent_decode(name.as_bytes(), true) == b"X-Amz-Algorithm"
    })
}

/// A header that may appear at most once, as text. Repeats are ambiguous
/// (which value was meant?) and are rejected rather than guessed at.
fn single_header<'r>(req: &RequestParts<'r>, name: &str) -> Result<Option<&'r str>, SigV4Error> {
    let mut values = req.headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(SigV4Error::incomplete(format!(
            "The request contains more than one '{name}' header."
        ))),
        (Some(value), None) => value.to_str().map(Some).map_err(|_| {
            SigV4Error::incomplete(format!("Header '{name}' contains non-ASCII characters."))
        }),
    }
}

/// Host and the date header must be signed, every `x-amz-*` header present
/// must be signed (including `x-amz-content-sha256`), and every signed header
/// must be present. Otherwise a man in the middle could alter or add
/// unsigned headers that the service would act on (e.g. `X-Amz-Target`).
fn check_signed_headers(
    req: &RequestParts<'_>,
    auth: &Authorization,
    time: &RequestTime,
) -> Result<(), SigV4Error> {
    let signed = |name: &str| auth.signed_headers.iter().any(|s| s == name);
    if !signed("host") {
        return Err(SigV4Error::incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if !signed(time.header) {
        return Err(SigV4Error::incomplete(format!(
            "'{}' must be a 'SignedHeader' in the AWS Authorization.",
            if time.header == "date" {
                "Date"
            } else {
                "X-Amz-Date"
            }
        )));
    }
    if let Some(unsigned) = req
        .headers
        .keys()
        .map(|name| name.as_str())
        .find(|name| name.starts_with("x-amz-") && !signed(name))
    {
        return Err(SigV4Error::incomplete(format!(
            "Header '{unsigned}' is present in the request but not listed in SignedHeaders; \
             every x-amz-* header must be signed."
        )));
    }
    for name in &auth.signed_headers {
        header_values(req, name)?;
    }
    Ok(())
}

/// The scope must name this deployment's region, one of the policy's
/// services, and the same day as the request timestamp.
fn check_scope(
    credential: &Credential,
    time: &RequestTime,
    policy: &VerifyPolicy<'_>,
) -> Result<(), SigV4Error> {
    if !policy.regions.contains(&credential.region.as_str()) {
        let expected: Vec<String> = policy.regions.iter().map(|r| format!("'{r}'")).collect();
        return Err(SigV4Error::invalid(format!(
            "Credential should be scoped to a valid region, not '{}'. Expected {}.",
            authorization::truncate(&credential.region),
            expected.join(" or ")
        )));
    }
    if !policy.services.contains(&credential.service.as_str()) {
        let expected: Vec<String> = policy.services.iter().map(|s| format!("'{s}'")).collect();
        return Err(SigV4Error::invalid(format!(
            "Credential should be scoped to correct service: {}.",
            expected.join(" or ")
        )));
    }
    if credential.date != time.scope_date() {
        return Err(SigV4Error::invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{}', from '{}'.",
            credential.date,
            time.scope_date(),
            time.basic
        )));
    }
    Ok(())
}

/// Cairn issues only long-term keys, so a session token can never be valid;
/// AWS answers the same way when a token does not belong to the key.
fn reject_session_token(req: &RequestParts<'_>) -> Result<(), SigV4Error> {
    if req.headers.contains_key(SECURITY_TOKEN) {
        return Err(unrecognized_client());
    }
    Ok(())
}

fn unrecognized_client() -> SigV4Error {
    SigV4Error::new(
        SigV4ErrorKind::UnrecognizedClient,
        "The security token included in the request is invalid.",
    )
}

/// The payload hash line. With no `x-amz-content-sha256` header (the AWS
/// CLI's behaviour for JSON services) the body is hashed here; with one, it
/// must equal the body's hash (or be `UNSIGNED-PAYLOAD`, if allowed), since
/// the client signed the header's value, not the body.
pub(crate) fn payload_hash(
    req: &RequestParts<'_>,
    allow_unsigned: bool,
) -> Result<String, SigV4Error> {
    let computed = canonical::sha256_hex(req.body);
    match single_header(req, CONTENT_SHA256)? {
        None => Ok(computed),
        Some(UNSIGNED_PAYLOAD) if allow_unsigned => Ok(UNSIGNED_PAYLOAD.to_owned()),
        Some(UNSIGNED_PAYLOAD) => Err(SigV4Error::invalid(
            "UNSIGNED-PAYLOAD is not accepted by this endpoint; the request body must be signed.",
        )),
        Some(claimed) if claimed == computed => Ok(computed),
        Some(_) => Err(SigV4Error::invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )),
    }
}

/// The canonical request for `req` as the client should have signed it.
pub(crate) fn canonical_request(
    req: &RequestParts<'_>,
    auth: &Authorization,
    payload_hash: &str,
) -> Result<Vec<u8>, SigV4Error> {
    let headers = auth
        .signed_headers
        .iter()
        .map(|name| Ok((name.as_str(), header_values(req, name)?)))
        .collect::<Result<Vec<_>, SigV4Error>>()?;
    Ok(canonical::canonical_request(&CanonicalParts {
        method: req.method.as_str(),
        uri: &canonical::canonical_uri(req.uri.path(), &auth.credential.service),
        query: &canonical::canonical_query(req.uri.query().unwrap_or("")),
        headers: &headers,
        payload_hash,
    }))
}

/// The canonical value of a signed header. `host` falls back to the URI's
/// authority, which is where HTTP/2 carries it (`:authority`).
fn header_values(req: &RequestParts<'_>, name: &str) -> Result<Vec<u8>, SigV4Error> {
    let values = req.headers.get_all(name);
    if values.iter().next().is_some() {
        return Ok(canonical::canonical_header_value(
            values.iter().map(|v| v.as_bytes()),
        ));
    }
    match req.uri.authority() {
        Some(authority) if name == HOST.as_str() => {
            Ok(canonical::canonical_header_value([authority
                .as_str()
                .as_bytes()]))
        }
        _ => Err(SigV4Error::incomplete(format!(
            "Header '{}' is listed in SignedHeaders but is not present in the request.",
            authorization::truncate(name)
        ))),
    }
}
