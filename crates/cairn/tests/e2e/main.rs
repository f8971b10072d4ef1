//! End-to-end tests: a real `cairn serve` process driven by real AWS clients.
//!
//! One test binary (like ripgrep's `tests/tests.rs`) with one module per topic. Each test gets
//! its own data dir and a server on a free port ([`util::Server`]).

mod util;

mod audit;
mod auth;
mod awscli;
mod console;
mod crash;
mod delivery;
mod history;
mod import;
mod ingest;
mod integrity;
mod protocol;
mod s3;
mod trails;
