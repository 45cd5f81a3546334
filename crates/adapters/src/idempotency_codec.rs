//! What the SQL and Redis idempotency stores share: times as epoch milliseconds (which
//! both compare natively) and kept headers as JSON text.

use conduit_domain::{StoreError, time::Timestamp};
use time::OffsetDateTime;

/// Epoch milliseconds of a timestamp. Timestamps are whole milliseconds, so nothing is
/// lost; the range of `OffsetDateTime` (years -9999 to 9999) fits an `i64` many times.
pub(crate) fn millis(at: Timestamp) -> i64 {
    let ms = at.as_offset_date_time().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The timestamp of `ms` epoch milliseconds.
pub(crate) fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(Timestamp::new)
        .map_err(|e| StoreError::Unexpected(format!("stored time {ms}: {e}").into()))
}

/// Headers as a JSON array of `[name, value]` pairs.
pub(crate) fn encode_headers(headers: &[(String, String)]) -> Result<String, StoreError> {
    serde_json::to_string(headers).map_err(|e| StoreError::Unexpected(Box::new(e)))
}

/// The headers [`encode_headers`] wrote.
pub(crate) fn decode_headers(text: &str) -> Result<Vec<(String, String)>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Unexpected(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_times_round_trip() {
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("location".to_owned(), "/api/articles/a \"b\"".to_owned()),
        ];
        let text = encode_headers(&headers).expect("encodes");
        assert_eq!(decode_headers(&text).expect("decodes"), headers);
        assert!(decode_headers("{").is_err());
        let at = Timestamp::new(time::macros::datetime!(2026-12-04 10:00:00.123 UTC));
        assert_eq!(timestamp(millis(at)).expect("in range"), at);
    }
}
