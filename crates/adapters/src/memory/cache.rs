//! The read cache in process memory: the [`Cache`] of a single instance without Redis
//! (the embedded default), with the same semantics as
//! [`RedisCache`](crate::redis::RedisCache).
//!
//! One sequence number moves on at each invalidation and becomes the version of every
//! tag invalidated then; an entry is stored with its tags' versions and served only
//! while they are current, and a ticket is the sequence number at lookup time (see
//! [`conduit_domain::cache`]). Invalidation touches no entry: stale ones are never served
//! again and leave when their time to live runs out or when the bound on entries pushes
//! them out.
//!
//! The versions sit behind one read-write lock. `get` and `put` hold it shared while
//! they compare versions and read or store the entry, `invalidate` holds it exclusively
//! while it moves versions on: neither can be split by an invalidation, so a `put`
//! whose ticket was taken before an invalidation of one of its tags never stores its
//! value after it. Nothing in those sections awaits, so a blocking lock is the right one.
//!
//! Entries live in a bounded moka cache, each with its own time to live. The versions
//! are not bounded: one number stays for every tag ever invalidated (a tag dropped
//! back to version 0 could make an old entry current again). Tags name entities, so
//! that is a few bytes per article or user changed since the process started.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    cache::{CacheLookup, CacheTicket},
    ports::Cache,
};
use moka::{Expiry, sync::Cache as Entries};

/// The read cache in this process: tag versions and at most `max_entries` entries.
pub struct MemoryCache {
    versions: RwLock<Versions>,
    entries: Entries<String, Entry>,
}

/// The sequence number and the version of every tag invalidated so far.
#[derive(Default)]
struct Versions {
    sequence: u64,
    tags: HashMap<String, u64>,
}

impl Versions {
    fn of(&self, tag: &str) -> u64 {
        self.tags.get(tag).copied().unwrap_or(0)
    }
}

/// A stored value with its tags' versions when it was stored, and how long it may live.
#[derive(Clone)]
struct Entry {
    tags: Arc<[(String, u64)]>,
    value: Arc<[u8]>,
    ttl: Duration,
}

/// Expires each entry after the time to live it was stored with, counted from its
/// latest store (a `put` over an existing entry starts the time again).
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _at: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

impl MemoryCache {
    /// An empty cache holding at most `max_entries` entries; beyond that, the entries
    /// least likely to be used again are dropped.
    pub fn new(max_entries: u64) -> Self {
        MemoryCache {
            versions: RwLock::default(),
            entries: Entries::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    /// The versions, read. A poisoned lock still holds consistent versions: each is one
    /// number, set in one step, and an invalidation cut short only leaves less
    /// invalidated than asked, which its caller learns from the panic.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Versions> {
        self.versions.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryCache {
    // The entries are opaque bytes; their number says more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<CacheLookup, StoreError> {
        let versions = self.read();
        Ok(match self.entries.get(key) {
            Some(entry)
                if entry
                    .tags
                    .iter()
                    .all(|(tag, version)| versions.of(tag) == *version) =>
            {
                CacheLookup::Hit(entry.value.to_vec())
            }
            _ => CacheLookup::Miss(CacheTicket(versions.sequence.to_string())),
        })
    }

    async fn put(
        &self,
        key: &str,
        tags: &[String],
        value: &[u8],
        ticket: &CacheTicket,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        // A ticket this cache did not issue stores nothing.
        let Ok(taken_at) = ticket.0.parse::<u64>() else {
            return Ok(());
        };
        if ttl.is_zero() {
            return Ok(());
        }
        // Held until the entry is stored: no invalidation can come between the check
        // and the store.
        let versions = self.read();
        let mut stamped = Vec::with_capacity(tags.len());
        for tag in tags {
            let version = versions.of(tag);
            if version > taken_at {
                return Ok(());
            }
            stamped.push((tag.clone(), version));
        }
        self.entries.insert(
            key.to_owned(),
            Entry {
                tags: Arc::from(stamped),
                value: Arc::from(value),
                ttl,
            },
        );
        Ok(())
    }

    async fn invalidate(&self, tags: &[String]) -> Result<(), StoreError> {
        let mut versions = self
            .versions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        versions.sequence += 1;
        let sequence = versions.sequence;
        for tag in tags {
            versions.tags.insert(tag.clone(), sequence);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|&name| name.to_owned()).collect()
    }

    async fn ticket(cache: &MemoryCache, key: &str) -> CacheTicket {
        match cache.get(key).await.expect("looked up") {
            CacheLookup::Miss(ticket) => ticket,
            CacheLookup::Hit(value) => panic!("expected a miss, got {value:?}"),
        }
    }

    #[tokio::test]
    async fn tickets_are_the_sequence_and_tags_take_it_when_invalidated() {
        let cache = MemoryCache::new(10);
        assert_eq!(ticket(&cache, "k").await.0, "0");
        cache.invalidate(&tags(&["b", "b"])).await.expect("ok");
        cache.invalidate(&tags(&["a"])).await.expect("ok");
        assert_eq!(ticket(&cache, "k").await.0, "2");
        let versions = cache.read();
        assert_eq!(
            (versions.of("a"), versions.of("b"), versions.of("c")),
            (2, 1, 0)
        );
    }

    #[tokio::test]
    async fn a_ticket_it_did_not_issue_stores_nothing() {
        let cache = MemoryCache::new(10);
        let forged = CacheTicket("not a number".to_owned());
        cache
            .put("k", &[], b"v", &forged, Duration::from_secs(60))
            .await
            .expect("ok");
        assert!(matches!(
            cache.get("k").await.expect("ok"),
            CacheLookup::Miss(_)
        ));
    }

    #[tokio::test]
    async fn storing_again_restarts_the_time_to_live() {
        let cache = MemoryCache::new(10);
        let t = ticket(&cache, "k").await;
        let long = Duration::from_secs(60);
        let short = Duration::from_millis(50);
        cache.put("k", &[], b"1", &t, short).await.expect("ok");
        cache.put("k", &[], b"2", &t, long).await.expect("ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            cache.get("k").await.expect("ok"),
            CacheLookup::Hit(b"2".to_vec())
        );
        // And a shorter one replaces a longer one.
        cache.put("k", &[], b"3", &t, short).await.expect("ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            cache.get("k").await.expect("ok"),
            CacheLookup::Miss(_)
        ));
    }

    #[tokio::test]
    async fn entries_are_bounded() {
        let cache = MemoryCache::new(5);
        let t = ticket(&cache, "k").await;
        for n in 0..50 {
            let key = format!("k{n}");
            cache
                .put(&key, &[], b"v", &t, Duration::from_secs(60))
                .await
                .expect("ok");
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.entry_count() <= 5, "{cache:?}");
    }
}
