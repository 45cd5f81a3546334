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
//!
//! A backend whose variable is unset is skipped with a notice, except under CI (`CI`
//! set), where a skipped backend would pass unnoticed: there the test fails instead.

mod suite;

use std::{future::Future, io::Write, panic, sync::Arc};

use conduit_adapters::{
    memory::MemoryStore, memory_sessions::MemorySessions, redis::RedisSessions,
};
use suite::Subject;

/// What a backend keeps alive during one test and tears down after it.
trait Backend: Send + 'static {
    /// Releases what the test used (a database, keys).
    async fn tear_down(self);
}

impl Backend for () {
    async fn tear_down(self) {}
}

/// Runs `test` on the subject `setup` provides, then tears the backend down whether or
/// not the test panicked, then lets the panic through so the test still fails.
///
/// `setup` answers `None` when the backend is not available in this environment.
async fn run<B, T, F>(setup: impl Future<Output = Option<(Subject, B)>>, test: T)
where
    B: Backend,
    T: FnOnce(Subject) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let Some((subject, backend)) = setup.await else {
        return;
    };
    // A spawned task turns a panic into a value, so tear-down still runs before it is
    // resumed.
    let outcome = tokio::spawn(test(subject)).await;
    backend.tear_down().await;
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(payload) => panic::resume_unwind(payload),
            Err(failure) => panic!("session contract test did not finish: {failure}"),
        }
    }
}

/// The value of `var`, or `None` (after a one-time notice) when it is unset outside CI.
///
/// # Panics
///
/// When `var` is unset under CI, or is not valid Unicode.
fn configured(var: &str, backend: &str, notice: &std::sync::Once) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
        Ok(_) | Err(std::env::VarError::NotPresent) if std::env::var_os("CI").is_none() => {
            // Written to stderr directly so the notice shows even when the test harness
            // captures output; once, rather than once per test.
            notice.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "{var} is not set: the {backend}::* session tests were not run \
                     (they pass empty)"
                );
            });
            None
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            panic!("under CI, {var} must name a server for the {backend} session tests")
        }
        Err(err) => panic!("{var} is unusable: {err}"),
    }
}

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` (an expression giving a future of `Option<(Subject, impl
/// Backend)>`) provides. Every `pub async fn` of `suite.rs` must be listed here; one that
/// is not is dead code, which the lints refuse.
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
        );
    };
    (@each $backend:ident, $setup:expr; $($test:ident),+ $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    run($setup, suite::$test).await;
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

/// The Redis backend: a connection per test, writing under a prefix no other test uses.
struct RedisBackend(RedisSessions);

impl Backend for RedisBackend {
    async fn tear_down(self) {
        if let Err(err) = self.0.clear().await {
            let _ = writeln!(std::io::stderr(), "could not delete test keys: {err}");
        }
    }
}

/// A Redis session store on the server `TEST_REDIS_URL` names, under a fresh key
/// prefix; users live in memory (Redis keeps no users).
async fn redis() -> Option<(Subject, RedisBackend)> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    let url = configured("TEST_REDIS_URL", "redis", &NOTICE)?;
    let prefix = format!("conduit-test:{}:", uuid::Uuid::new_v4().simple());
    let store = RedisSessions::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis test server at {url} is unusable: {e}"));
    let subject = Subject {
        sessions: Arc::new(store.clone()),
        users: Arc::new(MemoryStore::new()),
    };
    Some((subject, RedisBackend(store)))
}

session_tests!(redis, redis());

#[cfg(feature = "testing")]
mod sql_backends {
    use conduit_adapters::sql::testing::TestDb;

    use super::*;

    impl Backend for TestDb {
        async fn tear_down(self) {
            self.cleanup().await;
        }
    }

    fn subject(db: &TestDb) -> Subject {
        let store = Arc::new(db.store());
        Subject {
            sessions: store.clone(),
            users: store,
        }
    }

    /// A migrated SQLite database of its own.
    pub(crate) async fn sqlite() -> Option<(Subject, TestDb)> {
        let db = TestDb::sqlite().await;
        Some((subject(&db), db))
    }

    /// A migrated PostgreSQL database of its own, on the server `TEST_DATABASE_URL`
    /// names.
    pub(crate) async fn postgres() -> Option<(Subject, TestDb)> {
        static NOTICE: std::sync::Once = std::sync::Once::new();
        let url = configured("TEST_DATABASE_URL", "postgres", &NOTICE)?;
        let db = TestDb::postgres(&url).await;
        Some((subject(&db), db))
    }
}

#[cfg(feature = "testing")]
session_tests!(sqlite, sql_backends::sqlite());

#[cfg(feature = "testing")]
session_tests!(postgres, sql_backends::postgres());
