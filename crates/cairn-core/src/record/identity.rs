//! `userIdentity` and its nested objects.

use serde_json::Value;

use super::field::{Field, Flag, parse_bool_text};

record_object! {
    /// The `userIdentity` object: who made the request (reference §6.4).
    ///
    /// Every member is optional: AWS itself writes `userIdentity` without `type` for some
    /// `AwsServiceEvent` records (only `accountId` and `invokedBy`).
    pub struct UserIdentity {
        /// `type`: `Root`, `IAMUser`, `AssumedRole`, `Role`, `FederatedUser`, `Directory`,
        /// `AWSAccount`, `AWSService`, `IdentityCenterUser`, `SAMLUser`, `WebIdentityUser`,
        /// `Unknown`, ...
        "type" => identity_type: Field<String>,
        /// `principalId`: unique id of the principal; for temporary credentials
        /// `<role-id>:<session-name>`.
        "principalId" => principal_id: Field<String>,
        /// `arn`: the caller's ARN.
        "arn" => arn: Field<String>,
        /// `accountId`: the account owning the principal.
        "accountId" => account_id: Field<String>,
        /// `accessKeyId`: the access key that signed the request (`AKIA...`, `ASIA...`); may be
        /// `""`.
        "accessKeyId" => access_key_id: Field<String>,
        /// `userName`: friendly name of the principal.
        "userName" => user_name: Field<String>,
        /// `sessionContext`: present for temporary credentials.
        "sessionContext" => session_context: Field<SessionContext>,
        /// `invokedBy`: the AWS service that made the request (e.g. `ec2.amazonaws.com`).
        "invokedBy" => invoked_by: Field<String>,
        /// `identityProvider`: `SAMLUser` / `WebIdentityUser` only.
        "identityProvider" => identity_provider: Field<String>,
        /// `onBehalfOf` (Identity Center): `{userId, identityStoreArn}`, free-form.
        "onBehalfOf" => on_behalf_of: Option<Value>,
        /// `credentialId` (Identity Center bearer-token credential id).
        "credentialId" => credential_id: Field<String>,
        /// `inScopeOf`: `{sourceArn, sourceAccount, issuerType, credentialsIssuedTo}`, free-form.
        "inScopeOf" => in_scope_of: Option<Value>,
        /// `invokedByDelegate`: `{accountId}` of a delegated product provider, free-form.
        "invokedByDelegate" => invoked_by_delegate: Option<Value>,
    }
}

record_object! {
    /// `userIdentity.sessionContext`: the session behind temporary credentials.
    pub struct SessionContext {
        /// `sessionIssuer`: the entity that issued the session (role, user, root).
        "sessionIssuer" => session_issuer: Field<SessionIssuer>,
        /// `webIdFederationData`: `{federatedProvider, attributes}` (often `{}`), free-form.
        "webIdFederationData" => web_id_federation_data: Option<Value>,
        /// `attributes`: `creationDate` and `mfaAuthenticated`.
        "attributes" => attributes: Field<SessionAttributes>,
        /// `sourceIdentity`: the STS source identity.
        "sourceIdentity" => source_identity: Field<String>,
        /// `ec2RoleDelivery`: `"1.0"` (IMDSv1) or `"2.0"` (IMDSv2).
        "ec2RoleDelivery" => ec2_role_delivery: Field<String>,
        /// `assumedRoot`: `true` (string or boolean) for `sts:AssumeRoot` sessions.
        "assumedRoot" => assumed_root: Field<Flag>,
        /// `signInSessionArn`: `arn:aws:signin:<region>:<acct>:session/<uuid>`.
        "signInSessionArn" => sign_in_session_arn: Field<String>,
    }
}

record_object! {
    /// `sessionContext.sessionIssuer`: the role, user or root that issued the session.
    pub struct SessionIssuer {
        /// `type`: `Root`, `IAMUser` or `Role`.
        "type" => issuer_type: Field<String>,
        /// `principalId` of the issuer.
        "principalId" => principal_id: Field<String>,
        /// `arn` of the issuer (e.g. `arn:aws:iam::111122223333:role/AuditAdmin`).
        "arn" => arn: Field<String>,
        /// `accountId` owning the issuer.
        "accountId" => account_id: Field<String>,
        /// `userName`: friendly name of the issuer (the role name for roles).
        "userName" => user_name: Field<String>,
    }
}

record_object! {
    /// `sessionContext.attributes`. Both members are strings on the wire.
    pub struct SessionAttributes {
        /// `creationDate`: ISO 8601 (e.g. `2023-07-19T21:11:57Z`; old logs use the basic form
        /// `20131102T010628Z`), kept as written; see [`super::parse_event_time`].
        "creationDate" => creation_date: Field<String>,
        /// `mfaAuthenticated`: the **string** `"true"` or `"false"`.
        "mfaAuthenticated" => mfa_authenticated: Field<String>,
    }
}

impl SessionAttributes {
    /// `mfaAuthenticated` as a boolean: the string `"true"`/`"false"` (or, leniently, a JSON
    /// boolean); `None` otherwise.
    pub fn is_mfa_authenticated(&self) -> Option<bool> {
        match &self.mfa_authenticated {
            Field::Typed(text) => parse_bool_text(text),
            Field::Raw(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
}

/// `s` unless it is empty.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The resource part of an ARN (`arn:partition:service:region:account:resource`), or `None` if
/// `arn` is not shaped like an ARN.
pub(crate) fn arn_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    parts.nth(4)
}

impl UserIdentity {
    /// The caller's name as LookupEvents' `Username` attribute sees it (reference §7):
    ///
    /// | `type`          | name                                                                 |
    /// |-----------------|----------------------------------------------------------------------|
    /// | `IAMUser`       | `userName`, else the last `/` segment of `arn`                        |
    /// | `AssumedRole`   | the role session name: last segment of `arn` (`assumed-role/Role/Session` → `Session`), else the part of `principalId` after `:`, else `userName` |
    /// | `Root`          | `userName` if present (the account alias), else `"root"`             |
    /// | `FederatedUser` | the name after `federated-user/` in `arn`, else the part of `principalId` after `:`, else `userName` |
    /// | `AWSService`    | `invokedBy`, else as for other types                                  |
    /// | other / missing | `userName`, else the last `/` segment of `arn`'s resource part, else `invokedBy` |
    ///
    /// Empty strings count as missing. `None` when no rule yields a name.
    pub fn lookup_username(&self) -> Option<String> {
        let user_name = non_empty(self.user_name.as_str());
        let arn = non_empty(self.arn.as_str());
        let invoked_by = non_empty(self.invoked_by.as_str());
        let principal_suffix = || {
            non_empty(self.principal_id.as_str())
                .and_then(|p| p.split_once(':'))
                .and_then(|(_, name)| non_empty(Some(name)))
        };
        let generic = || {
            user_name
                .or_else(|| arn.and_then(arn_last_segment))
                .or(invoked_by)
        };
        let name = match self.identity_type.as_str() {
            Some("IAMUser") => user_name.or_else(|| arn.and_then(arn_last_segment)),
            Some("AssumedRole") => arn
                .and_then(assumed_role_session)
                .or_else(principal_suffix)
                .or(user_name),
            Some("Root") => Some(user_name.unwrap_or("root")),
            Some("FederatedUser") => arn
                .and_then(|arn| arn_resource(arn)?.strip_prefix("federated-user/"))
                .and_then(|name| non_empty(Some(name)))
                .or_else(principal_suffix)
                .or(user_name),
            Some("AWSService") => invoked_by.or_else(generic),
            _ => generic(),
        };
        name.map(str::to_owned)
    }
}

/// The last `/` segment of an ARN's resource part (`user/path/Alice` → `Alice`, `root` → `root`).
fn arn_last_segment(arn: &str) -> Option<&str> {
    let resource = arn_resource(arn)?;
    non_empty(resource.rsplit('/').next())
}

/// The session name of an `assumed-role/<role>/<session>` ARN.
fn assumed_role_session(arn: &str) -> Option<&str> {
    let rest = arn_resource(arn)?.strip_prefix("assumed-role/")?;
    let (_role, session) = rest.rsplit_once('/')?;
    non_empty(Some(session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(v: Value) -> UserIdentity {
        serde_json::from_value(v).unwrap()
    }

    fn username(v: Value) -> Option<String> {
        identity(v).lookup_username()
    }

    #[test]
    fn username_iam_user() {
        let v = json!({"type":"IAMUser","arn":"arn:aws:iam::1:user/Alice","userName":"Alice"});
        assert_eq!(username(v).as_deref(), Some("Alice"));
        let v = json!({"type":"IAMUser","arn":"arn:aws:iam::1:user/dev/Bob"});
        assert_eq!(username(v).as_deref(), Some("Bob"));
        let v = json!({"type":"IAMUser","userName":""});
        assert_eq!(username(v), None);
    }

    #[test]
    fn username_assumed_role() {
        let v = json!({"type":"AssumedRole","principalId":"AROA1:p-session",
            "arn":"arn:aws:sts::111122223333:assumed-role/AuditAdmin/ops-session"});
        assert_eq!(username(v).as_deref(), Some("ops-session"));
        // Session names may contain '@', '.', '=' ...
        let v =
            json!({"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/alice@example.com"});
        assert_eq!(username(v).as_deref(), Some("alice@example.com"));
        // No usable arn: principalId suffix.
        let v = json!({"type":"AssumedRole","principalId":"AROA1:i-0123","arn":42});
        assert_eq!(username(v).as_deref(), Some("i-0123"));
        let v = json!({"type":"AssumedRole"});
        assert_eq!(username(v), None);
    }

    #[test]
    fn username_root() {
        let v = json!({"type":"Root","principalId":"1","arn":"arn:aws:iam::1:root"});
        assert_eq!(username(v).as_deref(), Some("root"));
        let v = json!({"type":"Root","arn":"arn:aws:iam::1:root","userName":"my-alias"});
        assert_eq!(username(v).as_deref(), Some("my-alias"));
    }

    #[test]
    fn username_federated_user() {
        let v = json!({"type":"FederatedUser","principalId":"111122223333:Bob",
            "arn":"arn:aws:sts::111122223333:federated-user/Bob"});
        assert_eq!(username(v).as_deref(), Some("Bob"));
        let v = json!({"type":"FederatedUser","principalId":"111122223333:Carol"});
        assert_eq!(username(v).as_deref(), Some("Carol"));
    }

    #[test]
    fn username_aws_service_and_typeless() {
        let v = json!({"type":"AWSService","invokedBy":"lambda.amazonaws.com"});
        assert_eq!(username(v).as_deref(), Some("lambda.amazonaws.com"));
        // AwsServiceEvent records: no type, only accountId and invokedBy.
        let v = json!({"accountId":"123837392027","invokedBy":"secretsmanager.amazonaws.com"});
        assert_eq!(username(v).as_deref(), Some("secretsmanager.amazonaws.com"));
        let v = json!({"accountId":"1"});
        assert_eq!(username(v), None);
    }

    #[test]
    fn username_other_types() {
        let v = json!({"type":"SAMLUser","userName":"jdoe","identityProvider":"idp"});
        assert_eq!(username(v).as_deref(), Some("jdoe"));
        let v = json!({"type":"Role","arn":"arn:aws:iam::1:role/path/MyRole"});
        assert_eq!(username(v).as_deref(), Some("MyRole"));
        let v = json!({"type":"IdentityCenterUser","accountId":"1","onBehalfOf":{"userId":"u"}});
        assert_eq!(username(v), None);
        let v = json!({"type":"Unknown","arn":"not an arn"});
        assert_eq!(username(v), None);
    }

    #[test]
    fn mfa_authenticated() {
        let a: SessionAttributes =
            serde_json::from_value(json!({"creationDate":"x","mfaAuthenticated":"true"})).unwrap();
        assert_eq!(a.is_mfa_authenticated(), Some(true));
        let a: SessionAttributes =
            serde_json::from_value(json!({"mfaAuthenticated":false})).unwrap();
        assert_eq!(a.is_mfa_authenticated(), Some(false));
        assert_eq!(a.mfa_authenticated, Field::Raw(json!(false)));
        assert_eq!(SessionAttributes::default().is_mfa_authenticated(), None);
    }

    #[test]
    fn arn_resource_parts() {
        assert_eq!(
            arn_resource("arn:aws:s3:::bucket/key:x"),
            Some("bucket/key:x")
        );
        assert_eq!(arn_resource("arn:aws:iam::1:root"), Some("root"));
        assert_eq!(arn_resource("arn:aws:iam::1"), None);
        assert_eq!(arn_resource("urn:aws:iam::1:root"), None);
    }

    #[test]
    fn unknown_members_kept_in_identity_and_session() {
        let v = json!({
            "type": "AssumedRole",
            "futureThing": {"a": 1},
            "sessionContext": {
                "newMember": [1, 2],
                "sessionIssuer": {"type": "Role", "x": null},
                "attributes": {"creationDate": "2023-07-10T11:42:18Z", "extraAttr": "y"}
            }
        });
        let id = identity(v.clone());
        assert_eq!(id.extra["futureThing"], json!({"a": 1}));
        let sc = id.session_context.get().unwrap();
        assert_eq!(sc.extra["newMember"], json!([1, 2]));
        assert_eq!(sc.session_issuer.get().unwrap().extra["x"], Value::Null);
        assert_eq!(sc.attributes.get().unwrap().extra["extraAttr"], json!("y"));
        assert_eq!(serde_json::to_value(&id).unwrap(), v);
    }
}
