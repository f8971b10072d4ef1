//! SigV4 (placeholder).
