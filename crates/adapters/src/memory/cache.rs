//! The read cache in process memory: the [`Cache`] of a single instance without Redis
//! (the embedded default), with the same semantics as
//! [`RedisCache`](crate::redis::RedisCache).
//!
//! Tags have versions, counters that start at 0 and move on at each invalidation; an
//! entry is stored with the stamp of its tags' versions at the time its ticket was
//! taken, and served only while that stamp is current (see [`conduit_domain::cache`]).
//! Invalidation touches no entry: stale ones are never served again and leave when
//! their time to live runs out or when the bound on entries pushes them out.
//!
//! The versions sit behind one read-write lock. `get` and `put` hold it shared while
//! they compute the stamp and read or store the entry, `invalidate` holds it exclusively
//! while it moves versions on: neither can be split by an invalidation, so a `put`
//! whose ticket was taken before an invalidation never stores its value after it.
//! Nothing in those sections awaits, so a blocking lock is the right one.
//!
//! Entries live in a bounded moka cache, each with its own time to live. The versions
//! are not bounded: one counter stays for every tag ever invalidated (a tag dropped
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
    versions: RwLock<HashMap<String, u64>>,
    entries: Entries<String, Entry>,
}

/// A stored value with the stamp it was stored under and how long it may live.
#[derive(Clone)]
struct Entry {
    stamp: Arc<str>,
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
            versions: RwLock::new(HashMap::new()),
            entries: Entries::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntryTtl)
                .build(),
        }
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

/// The stamp of `tags`: their versions, in order, joined with dots (a tag never
/// invalidated has version 0). The same format as the Redis cache's.
fn stamp(versions: &HashMap<String, u64>, tags: &[String]) -> String {
    tags.iter()
        .map(|tag| versions.get(tag).copied().unwrap_or(0).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str, tags: &[String]) -> Result<CacheLookup, StoreError> {
        // A poisoned lock still holds consistent versions: each is one counter, moved
        // on in one step, and an invalidation cut short only leaves less invalidated
        // than asked, which its caller learns from the panic.
        let versions = self.versions.read().unwrap_or_else(PoisonError::into_inner);
        let stamp = stamp(&versions, tags);
        Ok(match self.entries.get(key) {
            Some(entry) if *entry.stamp == stamp => CacheLookup::Hit(entry.value.to_vec()),
            _ => CacheLookup::Miss(CacheTicket(stamp)),
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
        if ttl.is_zero() {
            return Ok(());
        }
        // Held until the entry is stored: no invalidation can come between the check
        // and the store.
        let versions = self.versions.read().unwrap_or_else(PoisonError::into_inner);
        let stamp = stamp(&versions, tags);
        if stamp == ticket.0 {
            self.entries.insert(
                key.to_owned(),
                Entry {
                    stamp: Arc::from(stamp),
                    value: Arc::from(value),
                    ttl,
                },
            );
        }
        Ok(())
    }

    async fn invalidate(&self, tags: &[String]) -> Result<(), StoreError> {
        let mut versions = self
            .versions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for tag in tags {
            *versions.entry(tag.clone()).or_insert(0) += 1;
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

    async fn ticket(cache: &MemoryCache, key: &str, tags: &[String]) -> CacheTicket {
        match cache.get(key, tags).await.expect("looked up") {
            CacheLookup::Miss(ticket) => ticket,
            CacheLookup::Hit(value) => panic!("expected a miss, got {value:?}"),
        }
    }

    #[tokio::test]
    async fn stamps_are_the_versions_in_order() {
        let cache = MemoryCache::new(10);
        let both = tags(&["a", "b"]);
        assert_eq!(ticket(&cache, "k", &both).await.0, "0.0");
        cache.invalidate(&tags(&["b", "b"])).await.expect("ok");
        cache.invalidate(&tags(&["a"])).await.expect("ok");
        assert_eq!(ticket(&cache, "k", &both).await.0, "1.2");
        assert_eq!(ticket(&cache, "k", &[]).await.0, "");
    }

    #[tokio::test]
    async fn storing_again_restarts_the_time_to_live() {
        let cache = MemoryCache::new(10);
        let t = ticket(&cache, "k", &[]).await;
        let long = Duration::from_secs(60);
        let short = Duration::from_millis(50);
        cache.put("k", &[], b"1", &t, short).await.expect("ok");
        cache.put("k", &[], b"2", &t, long).await.expect("ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            cache.get("k", &[]).await.expect("ok"),
            CacheLookup::Hit(b"2".to_vec())
        );
        // And a shorter one replaces a longer one.
        cache.put("k", &[], b"3", &t, short).await.expect("ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            cache.get("k", &[]).await.expect("ok"),
            CacheLookup::Miss(_)
        ));
    }

    #[tokio::test]
    async fn entries_are_bounded() {
        let cache = MemoryCache::new(5);
        let t = ticket(&cache, "k", &[]).await;
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
