//! Every operation Cairn's API knows, classified once.
//!
//! The list is the CloudTrail 2013-11-01 model (all 60 operations) plus cloudtrail-data's
//! `PutAuditEvents`. Each is declared with its access class in one table, so a new operation
//! cannot be added without deciding whether it reads or writes — that decides the record's
//! `readOnly` field and which roles may call it.

use std::fmt;
use std::str::FromStr;

use crate::principal::Role;

/// How an operation touches Cairn's state; decides `readOnly` and authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only (`readOnly: true`); allowed to auditors.
    Read,
    /// Changes configuration (`readOnly: false`); admins only.
    Write,
    /// Sends audit events (`readOnly: false`); allowed to the ingest role.
    Ingest,
}

macro_rules! operations {
    ($($name:ident => $access:ident,)*) => {
        /// An API operation, named exactly as on the wire (`X-Amz-Target` suffix / event name).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
        }

        impl Operation {
            /// Every operation, in the table's order.
            pub const ALL: &'static [Operation] = &[$(Operation::$name,)*];

            /// The wire name, e.g. `DescribeTrails`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$name => stringify!($name),)*
                }
            }

            /// Whether the operation reads, writes or ingests.
            pub fn access(self) -> Access {
                match self {
                    $(Operation::$name => Access::$access,)*
                }
            }
        }

        impl FromStr for Operation {
            type Err = UnknownOperation;
            fn from_str(s: &str) -> Result<Operation, UnknownOperation> {
                match s {
                    $(stringify!($name) => Ok(Operation::$name),)*
                    _ => Err(UnknownOperation(s.to_string())),
                }
            }
        }
    };
}

operations! {
    AddTags => Write,
    CancelQuery => Write,
    CreateChannel => Write,
    CreateDashboard => Write,
    CreateEventDataStore => Write,
    CreateTrail => Write,
    DeleteChannel => Write,
    DeleteDashboard => Write,
    DeleteEventDataStore => Write,
    DeleteResourcePolicy => Write,
    DeleteTrail => Write,
    DeregisterOrganizationDelegatedAdmin => Write,
    DescribeQuery => Read,
    DescribeTrails => Read,
    DisableFederation => Write,
    EnableFederation => Write,
    GenerateQuery => Read,
    GetChannel => Read,
    GetDashboard => Read,
    GetEventConfiguration => Read,
    GetEventDataStore => Read,
    GetEventSelectors => Read,
    GetImport => Read,
    GetInsightSelectors => Read,
    GetQueryResults => Read,
    GetResourcePolicy => Read,
    GetTrail => Read,
    GetTrailStatus => Read,
    ListChannels => Read,
    ListDashboards => Read,
    ListEventDataStores => Read,
    ListImportFailures => Read,
    ListImports => Read,
    ListInsightsData => Read,
    ListInsightsMetricData => Read,
    ListPublicKeys => Read,
    ListQueries => Read,
    ListTags => Read,
    ListTrails => Read,
    LookupEvents => Read,
    PutEventConfiguration => Write,
    PutEventSelectors => Write,
    PutInsightSelectors => Write,
    PutResourcePolicy => Write,
    RegisterOrganizationDelegatedAdmin => Write,
    RemoveTags => Write,
    RestoreEventDataStore => Write,
    SearchSampleQueries => Read,
    StartDashboardRefresh => Write,
    StartEventDataStoreIngestion => Write,
    StartImport => Write,
    StartLogging => Write,
    StartQuery => Read,
    StopEventDataStoreIngestion => Write,
    StopImport => Write,
    StopLogging => Write,
    UpdateChannel => Write,
    UpdateDashboard => Write,
    UpdateEventDataStore => Write,
    UpdateTrail => Write,
    PutAuditEvents => Ingest,
}

impl Operation {
    /// The record's `readOnly` value.
    pub fn read_only(self) -> bool {
        self.access() == Access::Read
    }

    /// The service whose API carries this operation (`eventSource` of its audit event).
    pub fn event_source(self) -> &'static str {
        match self {
            Operation::PutAuditEvents => "cloudtrail-data.amazonaws.com",
            _ => "cloudtrail.amazonaws.com",
        }
    }

    /// Whether a principal with `role` may call this operation.
    pub fn allowed_for(self, role: Role) -> bool {
        match (role, self.access()) {
            (Role::Admin, _) => true,
            (Role::Auditor, Access::Read) => true,
            (Role::Auditor, Access::Write | Access::Ingest) => false,
            (Role::Ingest, Access::Ingest) => true,
            (Role::Ingest, Access::Read | Access::Write) => false,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an operation of Cairn's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOperation(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_count_matches_the_model() {
        // 60 CloudTrail operations + PutAuditEvents.
        assert_eq!(Operation::ALL.len(), 61);
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(*op));
        }
        assert!("describeTrails".parse::<Operation>().is_err());
    }

    #[test]
    fn read_only_follows_the_verb() {
        for op in Operation::ALL {
            let reads = ["Get", "List", "Describe", "Lookup", "Search"]
                .iter()
                .any(|p| op.name().starts_with(p));
            if reads {
                assert!(op.read_only(), "{op} should be read-only");
            }
        }
        assert!(!Operation::CreateTrail.read_only());
        assert!(!Operation::PutAuditEvents.read_only());
    }

    #[test]
    fn roles_allow_what_they_say() {
        assert!(Operation::CreateTrail.allowed_for(Role::Admin));
        assert!(!Operation::CreateTrail.allowed_for(Role::Auditor));
        assert!(Operation::LookupEvents.allowed_for(Role::Auditor));
        assert!(!Operation::LookupEvents.allowed_for(Role::Ingest));
        assert!(Operation::PutAuditEvents.allowed_for(Role::Ingest));
        assert!(!Operation::PutAuditEvents.allowed_for(Role::Auditor));
        assert!(Operation::PutAuditEvents.allowed_for(Role::Admin));
    }
}
