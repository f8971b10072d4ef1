//! The CloudTrail event record (placeholder).
