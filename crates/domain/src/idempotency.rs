//! Idempotent retries of writes (the IETF httpapi `Idempotency-Key` draft): the key a
//! client sends, and what the [`IdempotencyStore`](crate::ports::IdempotencyStore)
//! keeps under it: a claim while the first request runs, then its answer.

use std::fmt;

use crate::{Invalid, time::Timestamp};

/// A client's idempotency key: 1 to 255 visible ASCII characters (`!` to `~`), as the
/// client sent it. Keys are opaque; a UUID is the usual choice.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key accepted, in characters (bytes: they are ASCII).
    pub const MAX: usize = 255;

    /// Checks `value`; [`Invalid::Format`] when it is empty, too long, or holds anything
    /// but visible ASCII (spaces and control characters included).
    pub fn parse(value: &str) -> Result<IdempotencyKey, Invalid> {
        let visible = |b: u8| b.is_ascii_graphic();
        if value.is_empty() || value.len() > Self::MAX || !value.bytes().all(visible) {
            return Err(Invalid::Format {
                expected: "1 to 255 visible ASCII characters",
            });
        }
        Ok(IdempotencyKey(value.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

/// An answer kept for replay: status, the headers that describe the body or the
/// created resource, and the body, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A request's attempt to claim its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Whose key it is (`user:<id>`): keys of different callers never meet.
    pub scope: String,
    /// The key.
    pub key: IdempotencyKey,
    /// A digest of the request (method, path, body): a retry must match it.
    pub fingerprint: String,
    /// A random value naming this attempt: only its holder may complete or release the
    /// claim, so a request whose lease ran out cannot overwrite its successor's record.
    pub token: String,
    /// The caller's time.
    pub now: Timestamp,
    /// When the claim lapses if it is neither completed nor released (a crashed
    /// instance): after it, another request may claim the key.
    pub lease_until: Timestamp,
}

/// What [`IdempotencyStore::begin`](crate::ports::IdempotencyStore::begin) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key was free (never used, expired, released, or its lease lapsed): the
    /// caller now holds it and must complete or release it.
    Claimed,
    /// Another request holds the key and its lease runs until `until`.
    InFlight {
        /// The fingerprint of the request holding it.
        fingerprint: String,
        /// When its lease lapses.
        until: Timestamp,
    },
    /// A request with this key finished; its answer is kept.
    Completed {
        /// The fingerprint of that request.
        fingerprint: String,
        /// Its answer.
        response: StoredResponse,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        for good in [
            "a",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "!~",
            &"k".repeat(255),
        ] {
            assert_eq!(
                IdempotencyKey::parse(good).expect("valid").as_str(),
                good,
                "{good}"
            );
        }
        for bad in [
            "",
            " ",
            "a b",
            "tab\tkey",
            "é",
            "line\n",
            &"k".repeat(256),
            "\u{7f}",
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
