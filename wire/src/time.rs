//! Times on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// Times on the wire: ISO 8601 in UTC with milliseconds, as JavaScript's
/// `Date.toJSON()` writes them.
pub fn wire_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn times_are_utc_with_milliseconds_and_a_z() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 5).unwrap();
        assert_eq!(wire_time(at), "2026-11-22T10:00:05.000Z");
        let later = at + chrono::Duration::microseconds(123_456);
        assert_eq!(wire_time(later), "2026-11-22T10:00:05.123Z");
    }
}
