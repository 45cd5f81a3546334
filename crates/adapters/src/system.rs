//! Time and randomness from the operating system.

use conduit_domain::{
    ports::{Clock, SlugSuffixes},
    time::Timestamp,
};
use rand::Rng;
use time::OffsetDateTime;

/// The system clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::new(OffsetDateTime::now_utc())
    }
}

/// Slug suffixes drawn from the thread-local generator, which is cryptographically
/// secure, so a suffix does not let anyone predict the slug of the next article.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSlugSuffixes;

impl RandomSlugSuffixes {
    /// Characters per suffix: 36^6 (about two billion) values make a repeat between two
    /// articles of the same title unlikely, while keeping the slug short.
    pub const LEN: usize = 6;
    const ALPHABET: &'static [u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
}

impl SlugSuffixes for RandomSlugSuffixes {
    fn next_suffix(&self) -> String {
        let mut rng = rand::rng();
        (0..Self::LEN)
            .map(|_| char::from(Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_short_lowercase_alphanumeric_and_vary() {
        let suffixes = RandomSlugSuffixes;
        let drawn: Vec<String> = (0..50).map(|_| suffixes.next_suffix()).collect();
        for suffix in &drawn {
            assert_eq!(suffix.len(), RandomSlugSuffixes::LEN, "{suffix}");
            assert!(
                suffix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{suffix}"
            );
        }
        let distinct: std::collections::BTreeSet<&String> = drawn.iter().collect();
        assert!(distinct.len() > 40, "too many repeats: {drawn:?}");
    }

    #[test]
    fn clock_is_utc_and_whole_milliseconds() {
        let now = SystemClock.now().as_offset_date_time();
        assert!(now.offset().is_utc());
        assert_eq!(now.nanosecond() % 1_000_000, 0);
        let delta = OffsetDateTime::now_utc() - now;
        assert!(delta >= time::Duration::ZERO && delta < time::Duration::seconds(5));
    }
}
