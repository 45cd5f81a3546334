//! The rate limiter contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test rate_limit redis::` runs the Redis limiter alone. Backends:
//!
//! - `memory`: the in-process governor limiter, always.
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

use conduit_adapters::{rate_limit::GovernorLimiter, redis::RedisRateLimiter};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "rate-limit";

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
///
/// The runtime has several worker threads so that the concurrency test races for real.
macro_rules! rate_limit_tests {
    ($backend:ident, $setup:expr) => {
        rate_limit_tests!(@each $backend, $setup;
            requests_within_the_limit_are_allowed_counting_down,
            the_request_over_the_limit_is_refused_with_a_retry_time,
            keys_are_independent,
            policies_are_independent,
            after_waiting_retry_after_a_request_is_allowed,
            concurrent_checks_allow_exactly_the_limit,
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

rate_limit_tests!(memory, async {
    let subject = Subject {
        limiter: Arc::new(GovernorLimiter::new()),
    };
    Some((subject, ()))
});

/// A Redis limiter on the Redis server, cluster or Sentinel-managed primary of `server`, under a fresh key prefix; the
/// keys' session store deletes them afterwards.
async fn redis(server: support::RedisServer) -> Option<(Subject, support::RedisKeys)> {
    let keys = support::redis(server, SUITE).await?;
    let limiter = RedisRateLimiter::connect(&keys.url, &keys.prefix).await;
    let subject = Subject {
        limiter: Arc::new(support::redis_connected(&keys.url, limiter)),
    };
    Some((subject, keys))
}

rate_limit_tests!(redis, redis(support::RedisServer::Single));
rate_limit_tests!(redis_cluster, redis(support::RedisServer::Cluster));
rate_limit_tests!(redis_sentinel, redis(support::RedisServer::Sentinel));
