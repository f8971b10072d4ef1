//! AWS JSON timestamps in requests: epoch seconds as an integer or a fractional number.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};

/// Deserializes an optional epoch-seconds number (botocore sends integers, other SDKs doubles).
pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(n) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if !n.is_finite() {
        return Err(serde::de::Error::custom(
            "timestamp must be a finite number of seconds",
        ));
    }
    let millis = (n * 1000.0).round();
    if millis.abs() > 8.0e15 {
        return Err(serde::de::Error::custom("timestamp out of range"));
    }
    Utc.timestamp_millis_opt(millis as i64)
        .single()
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("timestamp out of range"))
}
