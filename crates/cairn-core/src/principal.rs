//! Who is calling: principals, their roles, and the `userIdentity` they appear as.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Read-only calls and event lookups.
    Auditor,
    /// Event ingestion only (`PutAuditEvents`).
    Ingest,
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            "ingest" => Ok(Role::Ingest),
            other => Err(format!(
                "unknown role {other:?}: expected admin, auditor or ingest"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Ingest => "ingest",
        })
    }
}

/// How a principal shows up in records: the account root or a named user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityType {
    /// The account's root identity (Cairn's generated admin key).
    Root,
    /// A named user (`cairn users add`).
    #[serde(rename = "IAMUser")]
    IamUser,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Root or named user.
    pub identity_type: IdentityType,
    /// The user's name (`root` for the root identity).
    pub user_name: String,
    /// A stable unique id: the account id for root, `AIDA...` for users.
    pub principal_id: String,
    /// The access key that signed the request.
    pub access_key_id: String,
    /// The account the principal belongs to.
    pub account_id: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// The principal's ARN, as CloudTrail writes it.
    pub fn arn(&self) -> String {
        match self.identity_type {
            IdentityType::Root => format!("arn:aws:iam::{}:root", self.account_id),
            IdentityType::IamUser => {
                format!("arn:aws:iam::{}:user/{}", self.account_id, self.user_name)
            }
        }
    }

    /// The record's `userIdentity` object.
    pub fn user_identity(&self) -> Value {
        match self.identity_type {
            IdentityType::Root => json!({
                "type": "Root",
                "principalId": self.principal_id,
                "arn": self.arn(),
                "accountId": self.account_id,
                "accessKeyId": self.access_key_id,
            }),
            IdentityType::IamUser => json!({
                "type": "IAMUser",
                "principalId": self.principal_id,
                "arn": self.arn(),
                "accountId": self.account_id,
                "accessKeyId": self.access_key_id,
                "userName": self.user_name,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(t: IdentityType) -> Principal {
        Principal {
            identity_type: t,
            user_name: "alice".into(),
            principal_id: "AIDAEXAMPLE".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            account_id: "123456789012".into(),
            role: Role::Auditor,
        }
    }

    #[test]
    fn user_identity_matches_cloudtrail_shapes() {
        let u = user(IdentityType::IamUser).user_identity();
        assert_eq!(u["type"], "IAMUser");
        assert_eq!(u["arn"], "arn:aws:iam::123456789012:user/alice");
        assert_eq!(u["userName"], "alice");
        let r = user(IdentityType::Root).user_identity();
        assert_eq!(r["type"], "Root");
        assert_eq!(r["arn"], "arn:aws:iam::123456789012:root");
        assert!(r.get("userName").is_none());
    }

    #[test]
    fn roles_parse() {
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert!("root".parse::<Role>().is_err());
    }
}
