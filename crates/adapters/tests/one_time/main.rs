//! The one-time store contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test one_time redis::` runs the Redis store alone. Backends:
//!
//! - `memory`: always.
//! - `sqlite`, `postgres`: with the `testing` feature; PostgreSQL also needs
//!   `TEST_DATABASE_URL` (an admin URL such as `postgres://postgres@127.0.0.1:5432/test`).
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

#[cfg(feature = "testing")]
use conduit_adapters::sql::testing::TestDb;
use conduit_adapters::{memory::one_time::MemoryOneTime, redis::RedisOneTime};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "one-time";

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
///
/// The runtime has several worker threads so that the concurrency test races for real.
macro_rules! one_time_tests {
    ($backend:ident, $setup:expr) => {
        one_time_tests!(@each $backend, $setup;
            a_value_put_is_taken_once,
            an_unknown_key_has_nothing,
            keys_are_independent,
            a_value_is_taken_until_just_before_its_expiry,
            an_expired_value_is_never_returned,
            a_value_put_already_expired_is_never_returned,
            put_replaces_the_value_and_its_expiry,
            values_keep_any_text,
            concurrent_takes_have_one_winner,
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

one_time_tests!(memory, async {
    let subject = Subject {
        store: Arc::new(MemoryOneTime::new()),
    };
    Some((subject, ()))
});

/// A Redis one-time store on the Redis server, cluster or Sentinel-managed primary of `server`, under a fresh key
/// prefix; the keys' session store deletes them afterwards.
async fn redis(server: support::RedisServer) -> Option<(Subject, support::RedisKeys)> {
    let keys = support::redis(server, SUITE).await?;
    let store = RedisOneTime::connect(&keys.url, &keys.prefix).await;
    let subject = Subject {
        store: Arc::new(support::redis_connected(&keys.url, store)),
    };
    Some((subject, keys))
}

one_time_tests!(redis, redis(support::RedisServer::Single));
one_time_tests!(redis_cluster, redis(support::RedisServer::Cluster));
one_time_tests!(redis_sentinel, redis(support::RedisServer::Sentinel));

/// The subject of a SQL backend: the one-time store of its database.
#[cfg(feature = "testing")]
fn sql_subject(db: &TestDb) -> Subject {
    Subject {
        store: Arc::new(db.store()),
    }
}

#[cfg(feature = "testing")]
one_time_tests!(sqlite, support::sqlite(sql_subject));

#[cfg(feature = "testing")]
one_time_tests!(postgres, support::postgres(SUITE, sql_subject));
