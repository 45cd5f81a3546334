//! The idempotency store contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test idempotency redis::` runs the Redis store alone. Backends:
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
use conduit_adapters::{memory::idempotency::MemoryIdempotency, redis::RedisIdempotency};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "idempotency";

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
///
/// The runtime has several worker threads so that the concurrency test races for real.
macro_rules! idempotency_tests {
    ($backend:ident, $setup:expr) => {
        idempotency_tests!(@each $backend, $setup;
            a_free_key_is_claimed_and_then_in_flight,
            a_completed_answer_comes_back_byte_for_byte,
            scopes_keep_keys_apart,
            keys_are_independent,
            a_released_key_can_be_claimed_again,
            only_the_claim_holder_completes_or_releases,
            a_completed_record_is_never_released_nor_completed_again,
            a_lapsed_lease_is_reclaimed_and_its_old_holder_shut_out,
            an_answer_is_kept_until_just_before_its_expiry,
            concurrent_claims_have_one_winner,
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

idempotency_tests!(memory, async {
    let subject = Subject {
        store: Arc::new(MemoryIdempotency::new()),
    };
    Some((subject, ()))
});

/// A Redis idempotency store on the Redis server, cluster or Sentinel-managed primary of `server`, under a fresh key
/// prefix; the keys' session store deletes them afterwards.
async fn redis(server: support::RedisServer) -> Option<(Subject, support::RedisKeys)> {
    let keys = support::redis(server, SUITE).await?;
    let store = RedisIdempotency::connect(&keys.url, &keys.prefix).await;
    let subject = Subject {
        store: Arc::new(support::redis_connected(&keys.url, store)),
    };
    Some((subject, keys))
}

idempotency_tests!(redis, redis(support::RedisServer::Single));
idempotency_tests!(redis_cluster, redis(support::RedisServer::Cluster));
idempotency_tests!(redis_sentinel, redis(support::RedisServer::Sentinel));

/// The subject of a SQL backend: the idempotency store of its database.
#[cfg(feature = "testing")]
fn sql_subject(db: &TestDb) -> Subject {
    Subject {
        store: Arc::new(db.store()),
    }
}

#[cfg(feature = "testing")]
idempotency_tests!(sqlite, support::sqlite(sql_subject));

#[cfg(feature = "testing")]
idempotency_tests!(postgres, support::postgres(SUITE, sql_subject));
