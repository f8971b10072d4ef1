//! `cairn`: the command-line entry point.
//!
//! ```text
//! cairn serve                 run the service (embedded defaults: 127.0.0.1:4590, ./cairn-data)
//! cairn users add|list|remove manage access keys
//! cairn buckets create|list    manage local buckets
//! cairn import PATH...        import CloudTrail log files (.json.gz) into the event log
//! cairn lookup                search the event history (table, JSON or CSV)
//! cairn keys rotate|list      manage the digest signing keys
//! cairn validate-logs         check log files against signed digests
//! cairn bench append          measure durable appends per second
//! ```

mod bench;
mod buckets;
mod client;
mod config;
mod data_dir;
mod import;
mod keys;
mod lookup;
mod retention;
mod serve;
mod server;
mod tls;
mod users;
mod validate_logs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cairn: a self-hosted audit trail service that speaks the AWS CloudTrail API.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service.
    Serve(Box<config::ServeArgs>),
    /// Manage principals (access keys) and their roles.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Search the event history (like LookupEvents) straight from the data dir.
    Lookup(lookup::LookupArgs),
    /// Manage local buckets (folders under the data dir) that trails deliver to.
    #[command(subcommand)]
    Buckets(buckets::BucketsCommand),
    /// Import CloudTrail log files (.json.gz / .json, folders searched recursively) into the
    /// event log; records already present are skipped. Exit code 1 if some files or records
    /// were bad.
    Import(Box<import::ImportArgs>),
    /// Manage the digest signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Validate a trail's log files against its signed digests (like `aws cloudtrail validate-logs`).
    ValidateLogs(Box<validate_logs::ValidateLogsArgs>),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Users(cmd) => users::run(cmd),
        Command::Lookup(args) => lookup::run(args),
        Command::Buckets(cmd) => buckets::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::ValidateLogs(args) => return validate_logs::run(*args),
        Command::Import(args) => match import::run(*args) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
