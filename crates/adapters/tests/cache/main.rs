//! The cache contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test cache redis::` runs the Redis cache alone. Backends:
//!
//! - `memory`: the in-process moka cache, always.
//! - `redis`: with `TEST_REDIS_URL` (such as `redis://127.0.0.1:6379`). Each test writes
//!   under a key prefix of its own and deletes its keys afterwards.
//! - `redis_cluster`: the same tests on a Redis Cluster, with `TEST_REDIS_CLUSTER_URL`
//!   (such as `redis-cluster://127.0.0.1:7000`; `tools/redis-cluster/start.sh` makes one).
//! - `redis_sentinel`: the same tests on a primary behind Sentinel, with
//!   `TEST_REDIS_SENTINEL_URL` (`tools/redis-cluster/sentinel.sh` makes one).
//!
//! A backend whose variable is unset is skipped with a notice, except under CI (`CI`
//! set), where a skipped backend would pass unnoticed: there the test fails instead.

mod suite;
#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;

use conduit_adapters::{memory::cache::MemoryCache, redis::RedisCache};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "cache";

/// Entries each in-memory cache holds: more than any test stores.
const MAX_ENTRIES: u64 = 1_000;

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
///
/// The runtime has several worker threads so that the concurrency test races for real.
macro_rules! cache_tests {
    ($backend:ident, $setup:expr) => {
        cache_tests!(@each $backend, $setup;
            a_miss_then_a_put_then_a_hit_returns_the_value,
            binary_values_round_trip,
            keys_and_tags_may_hold_any_text,
            invalidating_any_tag_of_an_entry_turns_its_hit_into_a_miss,
            invalidating_a_tag_reaches_every_entry_under_it,
            invalidating_unrelated_tags_keeps_the_hit,
            a_put_with_a_ticket_from_before_an_invalidation_stores_nothing,
            tags_learned_while_reading_are_honoured,
            entries_without_tags_hit_until_they_expire,
            entries_expire_after_their_ttl,
            extreme_ttls_are_accepted,
            caches_share_neither_keys_nor_tags,
            concurrent_invalidations_never_leave_a_stale_hit,
        );
    };
    (@each $backend:ident, $setup:expr; $($test:ident),+ $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    support::run(SUITE, $setup, suite::$test).await;
                }
            )+
        }
    };
}

cache_tests!(memory, async {
    let subject = Subject {
        cache: Arc::new(MemoryCache::new(MAX_ENTRIES)),
        other: Arc::new(MemoryCache::new(MAX_ENTRIES)),
    };
    Some((subject, ()))
});

/// Two Redis caches on the Redis server, cluster or Sentinel-managed primary of `server`: one under a fresh key prefix,
/// the other under a prefix inside it (which none of the first's keys starts with), so
/// that the keys' session store deletes both caches' keys afterwards.
async fn redis(server: support::RedisServer) -> Option<(Subject, support::RedisKeys)> {
    let keys = support::redis(server, SUITE).await?;
    let cache = RedisCache::connect(&keys.url, &keys.prefix).await;
    let other = RedisCache::connect(&keys.url, &format!("{}other:", keys.prefix)).await;
    let subject = Subject {
        cache: Arc::new(support::redis_connected(&keys.url, cache)),
        other: Arc::new(support::redis_connected(&keys.url, other)),
    };
    Some((subject, keys))
}

cache_tests!(redis, redis(support::RedisServer::Single));
cache_tests!(redis_cluster, redis(support::RedisServer::Cluster));
cache_tests!(redis_sentinel, redis(support::RedisServer::Sentinel));
