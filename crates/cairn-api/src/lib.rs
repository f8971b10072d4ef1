//! Cairn's HTTP edge.

pub mod sigv4;
