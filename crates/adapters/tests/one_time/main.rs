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
//!
//! A backend whose variable is unset is skipped with a notice, except under CI (`CI`
//! set), where a skipped backend would pass unnoticed: there the test fails instead.

mod suite;

use std::{future::Future, io::Write, panic, sync::Arc};

use conduit_adapters::{
    memory_one_time::MemoryOneTime,
    redis::{RedisOneTime, RedisSessions},
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
            Err(failure) => panic!("one-time contract test did not finish: {failure}"),
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
                    "{var} is not set: the {backend}::* one-time tests were not run \
                     (they pass empty)"
                );
            });
            None
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            panic!("under CI, {var} must name a server for the {backend} one-time tests")
        }
        Err(err) => panic!("{var} is unusable: {err}"),
    }
}

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
                    run($setup, suite::$test).await;
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

/// The Redis backend's keys, deleted after the test through a session store on the same
/// prefix (its `clear` removes every key under the prefix, whoever wrote it).
struct RedisBackend(RedisSessions);

impl Backend for RedisBackend {
    async fn tear_down(self) {
        if let Err(err) = self.0.clear().await {
            let _ = writeln!(std::io::stderr(), "could not delete test keys: {err}");
        }
    }
}

/// A Redis one-time store on the server `TEST_REDIS_URL` names, under a fresh key
/// prefix.
async fn redis() -> Option<(Subject, RedisBackend)> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    let url = configured("TEST_REDIS_URL", "redis", &NOTICE)?;
    let prefix = format!("conduit-test:{}:", uuid::Uuid::new_v4().simple());
    let store = RedisOneTime::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis test server at {url} is unusable: {e}"));
    let cleaner = RedisSessions::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis test server at {url} is unusable: {e}"));
    let subject = Subject {
        store: Arc::new(store),
    };
    Some((subject, RedisBackend(cleaner)))
}

one_time_tests!(redis, redis());

#[cfg(feature = "testing")]
mod sql_backends {
    use conduit_adapters::sql::testing::TestDb;

    use super::*;

    impl Backend for TestDb {
        async fn tear_down(self) {
            self.cleanup().await;
        }
    }

    /// A migrated SQLite database of its own.
    pub(crate) async fn sqlite() -> Option<(Subject, TestDb)> {
        let db = TestDb::sqlite().await;
        let subject = Subject {
            store: Arc::new(db.store()),
        };
        Some((subject, db))
    }

    /// A migrated PostgreSQL database of its own, on the server `TEST_DATABASE_URL`
    /// names.
    pub(crate) async fn postgres() -> Option<(Subject, TestDb)> {
        static NOTICE: std::sync::Once = std::sync::Once::new();
        let url = configured("TEST_DATABASE_URL", "postgres", &NOTICE)?;
        let db = TestDb::postgres(&url).await;
        let subject = Subject {
            store: Arc::new(db.store()),
        };
        Some((subject, db))
    }
}

#[cfg(feature = "testing")]
one_time_tests!(sqlite, sql_backends::sqlite());

#[cfg(feature = "testing")]
one_time_tests!(postgres, sql_backends::postgres());
