//! Read caching with tag-based invalidation.
//!
//! The cache keeps one sequence number. Invalidating tags moves the sequence on and
//! gives each of those tags the new number as its version (a tag never invalidated has
//! version 0). Every entry is stored with its tags and the versions they had when it
//! was stored, and is served only while each of them still has that version: no entry
//! has to be found and deleted.
//!
//! The protocol a caller follows:
//! 1. `get(key)`: a hit returns the bytes; a miss returns a [`CacheTicket`], the
//!    sequence number at that moment. The ticket must be taken **before** reading the
//!    source of truth.
//! 2. Read the source of truth, and learn from what was read which tags the value
//!    depends on (a list page depends on its filter, known before, and on the articles it
//!    shows, known only after).
//! 3. `put(key, tags, bytes, &ticket, ttl)`: stores the value unless one of `tags` was
//!    invalidated after the ticket was taken (its version is above the ticket). Then the
//!    read may have come before that write, and nothing is stored. A tag invalidated
//!    before the ticket was taken belongs to a write the read saw.
//!
//! A writer invalidates the affected tags after its write is durable and before it
//! answers, so a read that starts after the answer never sees the older value.

use std::time::Duration;

/// The cache's sequence number at lookup time, to hand back to
/// [`Cache::put`](crate::ports::Cache::put). Opaque to callers.
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

/// A rendered page and what it shows: the bytes to cache, and the articles whose changes
/// (an edit, a favorite) change those bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPage {
    /// The page as sent.
    pub bytes: Vec<u8>,
    /// The articles it shows.
    pub shows: Vec<crate::ArticleId>,
}
