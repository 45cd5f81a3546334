//! Read caching with tag-based invalidation.
//!
//! Every cached entry is stored with the versions its tags had when the value was read
//! from the source of truth. Invalidating a tag moves its version on, so every entry
//! stored under an older version stops being served: no entry has to be found and
//! deleted, and an entry computed from data read before a write can never be stored
//! as current after that write's invalidation (the version it carries is already old).
//!
//! The protocol a caller follows, for a value that depends on `tags`:
//! 1. `get(key, tags)`: a hit returns the bytes; a miss returns a [`CacheTicket`]
//!    holding the tags' current versions. The ticket must be taken **before** reading
//!    the source of truth.
//! 2. Read the source of truth.
//! 3. `put(key, bytes, &ticket, ttl)`: stores the value under the ticket's versions;
//!    when a tag has moved on since the ticket was taken, nothing is stored.
//!
//! A writer invalidates the affected tags after its write is durable and before it
//! answers, so a read that starts after the answer never sees the older value.

use std::time::Duration;

/// The tags' versions at lookup time, to hand back to [`Cache::put`](crate::ports::Cache::put).
/// Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheTicket(pub String);

/// The result of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLookup {
    /// A current entry.
    Hit(Vec<u8>),
    /// No current entry; store one with this ticket.
    Miss(CacheTicket),
}

/// The tag that every entry depends on: invalidating it empties the whole cache (used
/// after a period in which invalidations could not be delivered).
pub const EPOCH_TAG: &str = "epoch";

/// How long entries live at most, whatever their tags do: a backstop, not the
/// invalidation mechanism.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
