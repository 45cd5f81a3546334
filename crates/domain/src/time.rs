//! Timestamps as the API shows them: UTC, millisecond precision.

use std::fmt;

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// A point in time, in UTC, truncated to whole milliseconds so that what a write returns
/// is exactly what a later read returns, whatever precision the database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Truncates `at` to milliseconds and converts it to UTC.
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let millis = utc.millisecond();
        // A valid millisecond value always rebuilds a valid time.
        let truncated = utc.replace_millisecond(millis).unwrap_or(utc);
        Self(truncated)
    }

    /// The underlying date-time, in UTC.
    pub fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    /// The earliest timestamp that is strictly later than `self`.
    pub fn next_after(self) -> Self {
        Self(self.0 + time::Duration::milliseconds(1))
    }

    /// `self`, or the millisecond after `previous` if `self` is not later than it. Used so
    /// that an update always moves `updatedAt` forward, even on a coarse clock.
    pub fn later_than(self, previous: Timestamp) -> Self {
        if self > previous {
            self
        } else {
            previous.next_after()
        }
    }

    /// RFC 3339 with exactly three fractional digits and a `Z` suffix,
    /// e.g. `2016-02-18T03:22:56.637Z`.
    pub fn to_rfc3339_millis(self) -> String {
        let t = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    /// Parses an RFC 3339 timestamp (any offset) and normalises it.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339).ok().map(Self::new)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        Self::new(at)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncates_to_millis_and_formats_with_z() {
        let t = Timestamp::new(datetime!(2016-02-18 03:22:56.637891 +02:00));
        assert_eq!(t.to_rfc3339_millis(), "2016-02-18T01:22:56.637Z");
    }

    #[test]
    fn later_than_always_moves_forward() {
        let a = Timestamp::new(datetime!(2020-01-01 00:00:00.500 UTC));
        assert_eq!(
            a.later_than(a).to_rfc3339_millis(),
            "2020-01-01T00:00:00.501Z"
        );
        let b = Timestamp::new(datetime!(2020-01-01 00:00:01 UTC));
        assert_eq!(b.later_than(a), b);
    }

    #[test]
    fn parses_what_it_prints() {
        let t = Timestamp::new(datetime!(2021-05-06 07:08:09.010 UTC));
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_millis()), Some(t));
    }
}
