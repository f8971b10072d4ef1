//! `cairn lookup`: search the event history from the command line, straight from the data dir
//! (no server or credentials needed; works while `cairn serve` runs). The same query as
//! LookupEvents — attributes ANDed, inclusive time range, newest first — printed as a table,
//! JSON (one object with `Events`, like the console's "download event history") or CSV.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use cairn_core::history_csv::{HistoryRow, to_csv};
use cairn_core::record::{EventRecord, format_event_time};
use cairn_store::{EventIndex, HistoryKind, LookupFilter, LookupQuery, SqliteStore, Store};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// `{"Events": [...]}` with the full records.
    Json,
    /// One line per event, the event history's download columns.
    Csv,
}

/// Options of `cairn lookup`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// A condition KEY=VALUE (repeatable; all must hold). Keys: EventId, EventName, ReadOnly,
    /// Username, ResourceType, ResourceName, EventSource, AccessKeyId.
    #[arg(long = "attribute", short = 'a', value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// Earliest eventTime, RFC 3339 (e.g. 2026-11-23T00:00:00Z), inclusive.
    #[arg(long)]
    start_time: Option<DateTime<Utc>>,
    /// Latest eventTime, RFC 3339, inclusive.
    #[arg(long)]
    end_time: Option<DateTime<Utc>>,
    /// Search Insights events instead of the event history.
    #[arg(long)]
    insights: bool,
    /// Most events to print.
    #[arg(long, default_value_t = 50)]
    max_results: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: Format,
    /// The data dir [default: ./cairn-data].
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
    data_dir: PathBuf,
}

pub fn run(args: LookupArgs) -> anyhow::Result<()> {
    let filters = args
        .attributes
        .iter()
        .map(|a| parse_attribute(a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let (Some(s), Some(e)) = (args.start_time, args.end_time)
        && s > e
    {
        bail!("--start-time is after --end-time");
    }
    let db = args.data_dir.join("events.db");
    if !db.is_file() {
        bail!("no event store at {} (is --data-dir right?)", db.display());
    }
    let store = SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let query = LookupQuery {
        history: if args.insights {
            HistoryKind::Insights
        } else {
            HistoryKind::Events
        },
        start_time: args.start_time.map(|t| t.timestamp()),
        end_time: args.end_time.map(|t| t.timestamp()),
        filters,
        before: None,
        limit: args.max_results,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = runtime.block_on(store.lookup(query))?;
    let rows: Vec<Row> = found
        .iter()
        .map(|f| {
            let index = EventRecord::from_json(&f.event.record_json)
                .ok()
                .map(|r| EventIndex::of(&r))
                .unwrap_or_default();
            Row {
                time: DateTime::from_timestamp(f.event_time, 0)
                    .map(format_event_time)
                    .unwrap_or_default(),
                name: index.event_name.unwrap_or_default(),
                user: index.username.unwrap_or_default(),
                source: index.event_source.unwrap_or_default(),
                id: f.event.event_id.clone(),
                read_only: index.read_only.map(|b| b.to_string()).unwrap_or_default(),
                access_key: index.access_key_id.unwrap_or_default(),
                resources: index
                    .resources
                    .iter()
                    .map(|(t, n)| format!("{}:{n}", t.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(" "),
                record: f.event.record_json.clone(),
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Table => print_table(&mut out, &rows)?,
        Format::Json => {
            let events: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| serde_json::from_str(&r.record).unwrap_or(serde_json::Value::Null))
                .collect();
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "Events": events }))?;
            writeln!(out)?;
        }
        Format::Csv => {
            let rows: Vec<HistoryRow> = rows.iter().map(Row::history_row).collect();
            out.write_all(to_csv(&rows).as_bytes())?;
        }
    }
    Ok(())
}

struct Row {
    time: String,
    name: String,
    user: String,
    source: String,
    id: String,
    read_only: String,
    access_key: String,
    resources: String,
    record: String,
}

impl Row {
    fn history_row(&self) -> HistoryRow {
        HistoryRow {
            id: self.id.clone(),
            time: self.time.clone(),
            user: self.user.clone(),
            name: self.name.clone(),
            source: self.source.clone(),
            read_only: self.read_only.clone(),
            access_key: self.access_key.clone(),
            resources: self.resources.clone(),
        }
    }
}

fn print_table(out: &mut impl std::io::Write, rows: &[Row]) -> std::io::Result<()> {
    let headers = [
        "EVENT TIME",
        "USER",
        "EVENT NAME",
        "EVENT SOURCE",
        "EVENT ID",
    ];
    let cols: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| [&*r.time, &*r.user, &*r.name, &*r.source, &*r.id])
        .collect();
    let mut widths = headers.map(str::len);
    for c in &cols {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |vals: [&str; 5]| {
        vals.iter()
            .zip(widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(headers))?;
    for c in cols {
        writeln!(out, "{}", line(c))?;
    }
    Ok(())
}

fn parse_attribute(a: &str) -> anyhow::Result<LookupFilter> {
    let Some((key, value)) = a.split_once('=') else {
        bail!("attribute {a:?} must be KEY=VALUE");
    };
    let v = value.to_string();
    Ok(match key {
        "EventId" => LookupFilter::EventId(v),
        "EventName" => LookupFilter::EventName(v),
        "ReadOnly" => match value {
            "true" => LookupFilter::ReadOnly(true),
            "false" => LookupFilter::ReadOnly(false),
            _ => bail!("ReadOnly must be true or false"),
        },
        "Username" => LookupFilter::Username(v),
        "ResourceType" => LookupFilter::ResourceType(v),
        "ResourceName" => LookupFilter::ResourceName(v),
        "EventSource" => LookupFilter::EventSource(v),
        "AccessKeyId" => LookupFilter::AccessKeyId(v),
        other => bail!(
            "unknown attribute {other:?}: use EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource or AccessKeyId"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        assert_eq!(
            parse_attribute("Username=alice").unwrap(),
            LookupFilter::Username("alice".into())
        );
        assert_eq!(
            parse_attribute("ReadOnly=false").unwrap(),
            LookupFilter::ReadOnly(false)
        );
        assert!(parse_attribute("ReadOnly=maybe").is_err());
        assert!(parse_attribute("Color=red").is_err());
        assert!(parse_attribute("Username").is_err());
    }
}
