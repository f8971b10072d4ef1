//! The event history's CSV download: one line per event, the columns the CloudTrail console's
//! "Download events → CSV" writes. Shared by `cairn lookup --output csv` and the web console.

/// The header line (without the line break).
pub const HEADER: &str =
    "Event ID,Event time,User name,Event name,Event source,Read only,AWS access key,Resources";

/// One event as the CSV columns show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryRow {
    /// `eventID`.
    pub id: String,
    /// `eventTime`, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    /// The lookup user name.
    pub user: String,
    /// `eventName`.
    pub name: String,
    /// `eventSource`.
    pub source: String,
    /// `true` / `false`, or empty when the record has no `readOnly`.
    pub read_only: String,
    /// The access key id, if any.
    pub access_key: String,
    /// Resources as `type:name`, separated by spaces.
    pub resources: String,
}

impl HistoryRow {
    /// The row as one CSV line (RFC 4180 quoting, no line break).
    pub fn csv_line(&self) -> String {
        [
            &self.id,
            &self.time,
            &self.user,
            &self.name,
            &self.source,
            &self.read_only,
            &self.access_key,
            &self.resources,
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// The whole download: the header and one line per row, each ending in `\r\n` as RFC 4180 asks.
pub fn to_csv(rows: &[HistoryRow]) -> String {
    let mut out = String::with_capacity(HEADER.len() + 2 + rows.len() * 160);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.csv_line());
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting: a field with a comma, quote or line break is quoted, quotes doubled. A
/// field starting with `=`, `+`, `-` or `@` is prefixed with `'` so spreadsheets don't run it
/// as a formula (event data is attacker-controlled: user names, resource names).
pub fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }

    #[test]
    fn lines() {
        let row = HistoryRow {
            id: "e1".into(),
            name: "CreateTrail".into(),
            resources: "AWS::CloudTrail::Trail:t1 x:y".into(),
            ..HistoryRow::default()
        };
        let csv = to_csv(&[row]);
        assert_eq!(
            csv,
            format!("{HEADER}\r\ne1,,,CreateTrail,,,,AWS::CloudTrail::Trail:t1 x:y\r\n")
        );
    }
}
