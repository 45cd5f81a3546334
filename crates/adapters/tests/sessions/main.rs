//! The session store contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test sessions redis::` runs the Redis store alone. Backends:
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

mod failover;
mod outage;
mod restart;
mod suite;
#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;

#[cfg(feature = "testing")]
use conduit_adapters::sql::testing::TestDb;
use conduit_adapters::{
    memory::MemoryStore, memory::sessions::MemorySessions, session_states::LocalSessionStates,
};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "session";

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` (an expression giving a future of `Option<(Subject, impl
/// support::Backend)>`) provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
///
/// The runtime has several worker threads so that the concurrency tests race for real.
macro_rules! session_tests {
    ($backend:ident, $setup:expr) => {
        session_tests!(@each $backend, $setup;
            rotating_a_current_token_makes_its_successor_current,
            retired_token_after_grace_is_reused_and_ends_the_session,
            retired_token_within_grace_is_reissued_and_both_successors_work,
            grace_window_counts_from_the_first_retirement,
            without_grace_immediate_re_presentation_is_reused,
            unknown_token_is_rejected,
            idle_lifetime_ends_a_session,
            absolute_lifetime_ends_a_session,
            active_lists_the_users_live_sessions_most_recent_first,
            revoking_own_session_ends_it,
            revoking_another_users_session_finds_nothing,
            revoke_all_keeps_exactly_the_kept_session,
            concurrent_rotations_without_grace_have_one_winner,
            concurrent_rotations_within_grace_all_succeed,
            status_follows_sign_in_refresh_touch_and_revocation,
            a_grace_reissue_refreshes_the_session,
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

session_tests!(memory, async {
    let subject = Subject {
        sessions: Arc::new(MemorySessions::new()),
        users: Arc::new(MemoryStore::new()),
    };
    Some((subject, ()))
});

// The in-process session states in front of the memory store and of SQLite, the stores
// the server decorates: the decorator must keep the whole contract.
session_tests!(memory_with_local_states, async {
    let subject = Subject {
        sessions: Arc::new(LocalSessionStates::new(MemorySessions::new())),
        users: Arc::new(MemoryStore::new()),
    };
    Some((subject, ()))
});

/// A Redis session store on the Redis server, cluster or Sentinel-managed primary of `server`, under a fresh key
/// prefix; users live in memory (Redis keeps no users).
async fn redis(server: support::RedisServer) -> Option<(Subject, support::RedisKeys)> {
    let keys = support::redis(server, SUITE).await?;
    let subject = Subject {
        sessions: Arc::new(keys.sessions.clone()),
        users: Arc::new(MemoryStore::new()),
    };
    Some((subject, keys))
}

session_tests!(redis, redis(support::RedisServer::Single));
session_tests!(redis_cluster, redis(support::RedisServer::Cluster));
session_tests!(redis_sentinel, redis(support::RedisServer::Sentinel));

/// The subject of a SQL backend: sessions and users in its database.
#[cfg(feature = "testing")]
fn sql_subject(db: &TestDb) -> Subject {
    let store = Arc::new(db.store());
    Subject {
        sessions: store.clone(),
        users: store,
    }
}

#[cfg(feature = "testing")]
session_tests!(sqlite, support::sqlite(sql_subject));

#[cfg(feature = "testing")]
session_tests!(postgres, support::postgres(SUITE, sql_subject));

/// The SQLite subject with the server's in-process session states in front.
#[cfg(feature = "testing")]
fn sql_subject_with_local_states(db: &TestDb) -> Subject {
    let store = db.store();
    Subject {
        sessions: Arc::new(LocalSessionStates::new(store.clone())),
        users: Arc::new(store),
    }
}

#[cfg(feature = "testing")]
session_tests!(
    sqlite_with_local_states,
    support::sqlite(sql_subject_with_local_states)
);
