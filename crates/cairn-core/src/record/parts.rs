//! `resources[]`, `tlsDetails` and `addendum`.

use serde::de::SeqAccess;
use serde_json::Value;

use super::field::{Field, FieldSeed, Lenient, field_to_value};
use super::identity::arn_resource;

record_object! {
    /// One element of `resources[]`. Note the wire case of `ARN`.
    pub struct Resource {
        /// `ARN` of the resource.
        "ARN" => arn: Field<String>,
        /// `accountId` owning the resource.
        "accountId" => account_id: Field<String>,
        /// `type`, e.g. `AWS::S3::Bucket`, `AWS::KMS::Key` (often absent, e.g. for SSM).
        "type" => resource_type: Field<String>,
    }
}

impl Resource {
    /// The LookupEvents `ResourceName` derived from `ARN` (see [`resource_name_from_arn`]);
    /// `None` when `ARN` is absent, `null`, not a string, or empty.
    pub fn lookup_name(&self) -> Option<String> {
        self.arn
            .as_str()
            .filter(|arn| !arn.is_empty())
            .map(resource_name_from_arn)
    }
}

/// The resource name LookupEvents would show for a resource ARN: a simple, documented
/// approximation of CloudTrail's internal per-service extraction.
///
/// With `R` the ARN's resource part (after the fifth `:`):
/// - `R` contains `/` → the segment after the last `/`
///   (`role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS` → `AWSServiceRoleForRDS`,
///   `key/0e5d…` → `0e5d…`, `instance/i-05c3…` → `i-05c3…`);
/// - otherwise, `R` contains `:` → everything after the first `:`
///   (`function:my-func` → `my-func`, `secret:db-pass-AbCdEf` → `db-pass-AbCdEf`);
/// - otherwise `R` itself (S3 bucket `arn:aws:s3:::my-bucket` → `my-bucket`).
///
/// If the result would be empty, or `arn` is not shaped like an ARN, the input is returned
/// unchanged. Known imprecision: S3 object keys and SSM parameter paths are cut to their last
/// segment, qualified Lambda ARNs keep the qualifier (`my-func:1`).
pub fn resource_name_from_arn(arn: &str) -> String {
    let Some(resource) = arn_resource(arn) else {
        return arn.to_owned();
    };
    let name = if let Some((_, last)) = resource.rsplit_once('/') {
        last
    } else if let Some((_, rest)) = resource.split_once(':') {
        rest
    } else {
        resource
    };
    if name.is_empty() { arn } else { name }.to_owned()
}

impl Lenient for Vec<Resource> {
    /// An array of objects becomes `Typed`. If any element is not an object, the whole array is
    /// kept `Raw`: the elements already parsed are converted back (losslessly) to JSON.
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Field<Self>, A::Error> {
        let mut typed = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        loop {
            match seq.next_element_seed(FieldSeed::<Resource>::new())? {
                None => return Ok(Field::Typed(typed)),
                Some(Field::Typed(resource)) => typed.push(resource),
                Some(other) => {
                    let mut raw = Vec::with_capacity(typed.len() + 1);
                    for resource in typed {
                        raw.push(field_to_value::<_, A::Error>(Field::Typed(resource))?);
                    }
                    raw.push(field_to_value::<Resource, A::Error>(other)?);
                    while let Some(value) = seq.next_element::<Value>()? {
                        raw.push(value);
                    }
                    return Ok(Field::Raw(Value::Array(raw)));
                }
            }
        }
    }
}

super::field::field_deserialize!(Vec<Resource>);

record_object! {
    /// `tlsDetails`: the TLS parameters of the client connection (absent when an AWS service
    /// called on the user's behalf).
    pub struct TlsDetails {
        /// `tlsVersion`, e.g. `TLSv1.2`.
        "tlsVersion" => tls_version: Field<String>,
        /// `cipherSuite`, e.g. `ECDHE-RSA-AES128-GCM-SHA256`.
        "cipherSuite" => cipher_suite: Field<String>,
        /// `clientProvidedHostHeader`, e.g. `cloudtrail.us-east-1.amazonaws.com`.
        "clientProvidedHostHeader" => client_provided_host_header: Field<String>,
        /// `keyExchange` (newer records), e.g. `X25519MLKEM768`, `x25519`.
        "keyExchange" => key_exchange: Field<String>,
    }
}

record_object! {
    /// `addendum`: why the record was delivered late or changed after first delivery.
    pub struct Addendum {
        /// `reason`: `DELIVERY_DELAY`, `UPDATED_DATA` or `SERVICE_OUTAGE`.
        "reason" => reason: Field<String>,
        /// `updatedFields` (`UPDATED_DATA` only): the record fields that were updated.
        "updatedFields" => updated_fields: Field<String>,
        /// `originalRequestID` (`UPDATED_DATA` only).
        "originalRequestID" => original_request_id: Field<String>,
        /// `originalEventID` (`UPDATED_DATA` only).
        "originalEventID" => original_event_id: Field<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_names() {
        let cases = [
            ("arn:aws:s3:::my-bucket", "my-bucket"),
            ("arn:aws:kms:us-east-1:1:key/0e5d0ab6-097e", "0e5d0ab6-097e"),
            (
                "arn:aws:iam::1:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
                "AWSServiceRoleForRDS",
            ),
            (
                "arn:aws:ec2:us-east-1:1:instance/i-05c30218156bcc246",
                "i-05c30218156bcc246",
            ),
            ("arn:aws:lambda:us-east-1:1:function:my-func", "my-func"),
            ("arn:aws:secretsmanager:r:1:secret:db-AbCdEf", "db-AbCdEf"),
            ("arn:aws:iam::1:role/", "arn:aws:iam::1:role/"),
            ("arn:aws:sqs:r:1:queue", "queue"),
            ("my-table", "my-table"),
        ];
        for (arn, name) in cases {
            assert_eq!(resource_name_from_arn(arn), name, "{arn}");
        }
    }

    #[test]
    fn resources_array_fallback_is_lossless() {
        let typed = json!([{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket", "x": 1}]);
        let f: Field<Vec<Resource>> = serde_json::from_value(typed.clone()).unwrap();
        assert_eq!(f.get().unwrap()[0].extra["x"], json!(1));
        assert_eq!(serde_json::to_value(&f).unwrap(), typed);

        for raw in [
            json!([{"ARN": "a"}, "oops", {"ARN": 3}]),
            json!([null]),
            json!([1]),
            json!({"ARN": "a"}),
            json!("arn:aws:s3:::b"),
        ] {
            let f: Field<Vec<Resource>> = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(f, Field::Raw(raw.clone()));
            let text = raw.to_string();
            let f: Field<Vec<Resource>> = serde_json::from_str(&text).unwrap();
            assert_eq!(f, Field::Raw(raw));
        }
        let empty: Field<Vec<Resource>> = serde_json::from_str("[]").unwrap();
        assert_eq!(empty, Field::Typed(vec![]));
    }

    #[test]
    fn resource_lookup_name() {
        let r: Resource = serde_json::from_value(json!({"ARN": "arn:aws:s3:::b"})).unwrap();
        assert_eq!(r.lookup_name().as_deref(), Some("b"));
        let r: Resource = serde_json::from_value(json!({"ARN": ""})).unwrap();
        assert_eq!(r.lookup_name(), None);
        let r: Resource = serde_json::from_value(json!({"type": "AWS::S3::Bucket"})).unwrap();
        assert_eq!(r.lookup_name(), None);
    }
}
