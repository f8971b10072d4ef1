//! Parsing the `Authorization: AWS4-HMAC-SHA256 ...` header.
//!
//! Grammar accepted (strictly; anything else is `IncompleteSignature`):
//!
//! ```text
//! AWS4-HMAC-SHA256 SP+ param ("," OWS param)*
//! param = ("Credential" | "SignedHeaders" | "Signature") "=" value   ; each exactly once
//! ```
//!
//! Values may not contain whitespace or commas, so the whole input must be
//! consumed by exactly three parameters.

use super::error::SigV4Error;

/// The only algorithm this verifier implements.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The fixed last element of every SigV4 credential scope.
const TERMINATOR: &str = "aws4_request";

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub credential: Credential,
    /// Lowercase, sorted, de-duplicated header names.
    pub signed_headers: Vec<String>,
    /// The signature the client sent (not secret, but also never echoed).
    pub signature: [u8; 32],
}

/// `AKID/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub access_key_id: String,
    /// `YYYYMMDD`, validated as a real calendar date.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Credential {
    /// The scope line of the string to sign (everything after the key id).
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// Parses a full `Authorization` header value.
pub(crate) fn parse(header: &str) -> Result<Authorization, SigV4Error> {
    let params = split_algorithm(header)?;
    let raw = RawParams::collect(params)?;
    Ok(Authorization {
        credential: parse_credential(raw.credential)?,
        signed_headers: parse_signed_headers(raw.signed_headers)?,
        signature: parse_signature(raw.signature)?,
    })
}

/// Checks the algorithm token and returns the parameter list after it.
fn split_algorithm(header: &str) -> Result<&str, SigV4Error> {
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'. Only '{ALGORITHM}' is supported.",
            truncate(algorithm)
        )));
    }
    Ok(rest.trim_start_matches(' '))
}

/// The three parameter values, still unparsed.
struct RawParams<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

impl<'a> RawParams<'a> {
    /// Splits `k=v, k=v, k=v`, rejecting unknown, duplicate and missing keys.
    fn collect(params: &'a str) -> Result<Self, SigV4Error> {
        if params.is_empty() {
            return Err(missing_params(true, true, true));
        }
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for piece in params.split(',') {
            let (key, value) = split_pair(piece.trim_start_matches([' ', '\t']))?;
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                other => {
                    return Err(SigV4Error::incomplete(format!(
                        "Unknown parameter '{}' in Authorization header.",
                        truncate(other)
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(SigV4Error::incomplete(format!(
                    "Authorization header contains the '{key}' parameter more than once."
                )));
            }
        }
        match (credential, signed_headers, signature) {
            (Some(credential), Some(signed_headers), Some(signature)) => Ok(Self {
                credential,
                signed_headers,
                signature,
            }),
            (c, h, s) => Err(missing_params(c.is_none(), h.is_none(), s.is_none())),
        }
    }
}

/// Splits one `key=value` piece; the value must be non-empty and contain no
/// whitespace (so trailing garbage is rejected rather than ignored).
fn split_pair(piece: &str) -> Result<(&str, &str), SigV4Error> {
    let Some((key, value)) = piece.split_once('=') else {
        return Err(SigV4Error::incomplete(format!(
            "'{}' not a valid key=value pair (missing equal-sign) in Authorization header.",
            truncate(piece)
        )));
    };
    if value.is_empty() || value.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(SigV4Error::incomplete(format!(
            "Authorization header parameter '{}' must have a non-empty value without whitespace.",
            truncate(key)
        )));
    }
    Ok((key, value))
}

/// AWS lists every missing parameter, one sentence each.
fn missing_params(credential: bool, signed_headers: bool, signature: bool) -> SigV4Error {
    let sentences = [
        (credential, "Credential"),
        (signature, "Signature"),
        (signed_headers, "SignedHeaders"),
    ];
    let message: Vec<String> = sentences
        .iter()
        .filter(|(missing, _)| *missing)
        .map(|(_, name)| format!("Authorization header requires '{name}' parameter."))
        .collect();
    SigV4Error::incomplete(message.join(" "))
}

fn parse_credential(value: &str) -> Result<Credential, SigV4Error> {
    let parts: Vec<&str> = value.split('/').collect();
    let [akid, date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::incomplete(format!(
            "Credential must have the form '<AccessKeyId>/<YYYYMMDD>/<region>/<service>/{TERMINATOR}', \
             but has {} slash-separated parts.",
            parts.len()
        )));
    };
    if terminator != TERMINATOR {
        return Err(SigV4Error::incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
            truncate(terminator)
        )));
    }
    if [akid, region, service].iter().any(|part| part.is_empty()) {
        return Err(SigV4Error::incomplete(
            "Credential access key id, region and service must not be empty.",
        ));
    }
    validate_scope_date(date)?;
    Ok(Credential {
        access_key_id: akid.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

fn validate_scope_date(date: &str) -> Result<(), SigV4Error> {
    let valid = date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && chrono::NaiveDate::parse_from_str(date, "%Y%m%d").is_ok();
    if valid {
        Ok(())
    } else {
        Err(SigV4Error::incomplete(format!(
            "Credential scope date '{}' is not a valid YYYYMMDD date.",
            truncate(date)
        )))
    }
}

/// Requires the canonical form every SDK sends: lowercase token characters,
/// strictly ascending. Accepting other orders would mean the server
/// re-sorting a list the client claims to have signed.
fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<&str> = value.split(';').collect();
    let well_formed = names.iter().all(|name| is_lowercase_token(name))
        && names.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed {
        return Err(SigV4Error::incomplete(
            "SignedHeaders must be a ';'-separated list of lowercase header names, \
             sorted, without duplicates.",
        ));
    }
    Ok(names.into_iter().map(str::to_owned).collect())
}

/// RFC 9110 `token` characters, minus uppercase letters.
fn is_lowercase_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

fn parse_signature(value: &str) -> Result<[u8; 32], SigV4Error> {
    let mut signature = [0u8; 32];
    if value.len() != 64 || hex::decode_to_slice(value, &mut signature).is_err() {
        return Err(SigV4Error::incomplete(
            "Signature must be 64 hexadecimal characters.",
        ));
    }
    Ok(signature)
}

/// Quotes client input in messages without letting it grow unbounded.
pub(crate) fn truncate(text: &str) -> &str {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::SigV4ErrorKind;

    const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn header(params: &str) -> String {
        format!("AWS4-HMAC-SHA256 {params}")
    }

    fn parse_err(value: &str) -> String {
        let err = parse(value).expect_err("should be rejected");
        assert_eq!(err.kind(), SigV4ErrorKind::IncompleteSignature, "{value}");
        err.message().to_owned()
    }

    #[test]
    fn parses_the_cli_format() {
        let auth = parse(&header(&format!(
            "Credential=AKID/20261123/us-east-1/cloudtrail/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={SIG}"
        )))
        .unwrap();
        assert_eq!(auth.credential.access_key_id, "AKID");
        assert_eq!(auth.credential.date, "20261123");
        assert_eq!(auth.credential.region, "us-east-1");
        assert_eq!(auth.credential.service, "cloudtrail");
        assert_eq!(
            auth.credential.scope(),
            "20261123/us-east-1/cloudtrail/aws4_request"
        );
        assert_eq!(
            auth.signed_headers,
            ["content-type", "host", "x-amz-date", "x-amz-target"]
        );
        assert_eq!(hex::encode(auth.signature), SIG);
    }

    #[test]
    fn whitespace_after_commas_is_optional_and_order_is_free() {
        let tight = parse(&header(&format!(
            "Signature={SIG},Credential=A/20150830/r/s/aws4_request,SignedHeaders=host"
        )))
        .unwrap();
        let loose = parse(&header(&format!(
            "Credential=A/20150830/r/s/aws4_request,   SignedHeaders=host,\tSignature={SIG}"
        )))
        .unwrap();
        assert_eq!(tight, loose);
        assert_eq!(tight.signed_headers, ["host"]);
    }

    #[test]
    fn reports_every_missing_parameter() {
        assert_eq!(
            parse_err("AWS4-HMAC-SHA256 SignedHeaders=host"),
            "Authorization header requires 'Credential' parameter. \
             Authorization header requires 'Signature' parameter."
        );
        assert_eq!(
            parse_err(&header("Credential=A/20150830/r/s/aws4_request")),
            "Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter."
        );
    }

    #[test]
    fn rejects_structural_garbage() {
        let good_cred = "Credential=A/20150830/r/s/aws4_request";
        let cases = [
            String::new(),
            "Bearer abc".to_owned(),
            "AWS4-HMAC-SHA256".to_owned(),
            "aws4-hmac-sha256 Credential=x".to_owned(),
            header(&format!(
                "{good_cred}, SignedHeaders=host, Signature={SIG},"
            )),
            header(&format!(
                "{good_cred}, SignedHeaders=host, Signature={SIG} trailing"
            )),
            header(&format!(
                "{good_cred} , SignedHeaders=host, Signature={SIG}"
            )),
            header(&format!(
                "{good_cred},, SignedHeaders=host, Signature={SIG}"
            )),
            header(&format!(
                "{good_cred}, SignedHeaders=host, Signature={SIG}, Extra=1"
            )),
            header(&format!(
                "{good_cred}, {good_cred}, SignedHeaders=host, Signature={SIG}"
            )),
            header(&format!("{good_cred}, SignedHeaders=, Signature={SIG}")),
            header(&format!("{good_cred}, SignedHeaders=host Signature={SIG}")),
        ];
        for case in cases {
            parse_err(&case);
        }
    }

    #[test]
    fn duplicate_and_unknown_parameters_are_named() {
        let dup = header(&format!(
            "Credential=A/20150830/r/s/aws4_request, Signature={SIG}, Signature={SIG}"
        ));
        assert_eq!(
            parse_err(&dup),
            "Authorization header contains the 'Signature' parameter more than once."
        );
        let unknown = header(&format!(
            "Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature={SIG}, Foo=1"
        ));
        assert_eq!(
            parse_err(&unknown),
            "Unknown parameter 'Foo' in Authorization header."
        );
        assert_eq!(
            parse_err(&header("Credential")),
            "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header."
        );
    }

    #[test]
    fn rejects_bad_credential_scopes() {
        let with = |cred: &str| {
            header(&format!(
                "Credential={cred}, SignedHeaders=host, Signature={SIG}"
            ))
        };
        assert!(parse_err(&with("A/20150830/r/s")).contains("has 4 slash-separated parts"));
        assert!(parse_err(&with("A/20150830/r/s/aws4_request/x")).contains("has 6"));
        assert_eq!(
            parse_err(&with("A/20150830/r/s/aws5_request")),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
        );
        assert!(parse_err(&with("A/2015083/r/s/aws4_request")).contains("'2015083'"));
        assert!(parse_err(&with("A/20150231/r/s/aws4_request")).contains("'20150231'"));
        assert!(parse_err(&with("A/+2015083/r/s/aws4_request")).contains("YYYYMMDD"));
        assert!(parse_err(&with("/20150830/r/s/aws4_request")).contains("must not be empty"));
        assert!(parse_err(&with("A/20150830//s/aws4_request")).contains("must not be empty"));
    }

    #[test]
    fn signed_headers_must_be_canonical() {
        let with = |names: &str| {
            header(&format!(
                "Credential=A/20150830/r/s/aws4_request, SignedHeaders={names}, Signature={SIG}"
            ))
        };
        for bad in [
            "x-amz-date;host",
            "host;host",
            "Host;x-amz-date",
            "host;;x-amz-date",
            "host;",
            "ho\"st",
            "host;x:y",
        ] {
            assert!(
                parse_err(&with(bad)).starts_with("SignedHeaders must be"),
                "{bad}"
            );
        }
        assert!(parse(&with("content-type;host;x-amz-date")).is_ok());
    }

    #[test]
    fn signature_must_be_64_hex_chars() {
        let with = |sig: &str| {
            header(&format!(
                "Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature={sig}"
            ))
        };
        for bad in [&SIG[..63], &format!("{SIG}0"), &SIG.replace('f', "g")] {
            assert_eq!(
                parse_err(&with(bad)),
                "Signature must be 64 hexadecimal characters."
            );
        }
        let upper = parse(&with(&SIG.to_uppercase())).unwrap();
        assert_eq!(hex::encode(upper.signature), SIG);
    }

    #[test]
    fn quoted_input_is_truncated() {
        let long = "x".repeat(500);
        let msg = parse_err(&long);
        assert!(msg.len() < 200, "{msg}");
        assert_eq!(truncate("héllo"), "héllo");
        assert_eq!(truncate(&"é".repeat(100)).chars().count(), 64);
    }
}
