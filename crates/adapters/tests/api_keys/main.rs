//! The API key store contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test api_keys memory::` runs the in-memory store alone. Backends:
//!
//! - `memory`: always.
//! - `sqlite`: with the `testing` feature.
//! - `postgres`: with the `testing` feature and `TEST_DATABASE_URL` (an admin URL such
//!   as `postgres://postgres@127.0.0.1:5432/test`).
//!
//! A backend whose variable is unset is skipped with a notice, except under CI (`CI`
//! set), where a skipped backend would pass unnoticed: there the test fails instead.

mod suite;

use std::{future::Future, panic, sync::Arc};

use conduit_adapters::{memory::MemoryStore, memory_api_keys::MemoryApiKeys};
use suite::Subject;

/// What a backend keeps alive during one test and tears down after it.
trait Backend: Send + 'static {
    /// Releases what the test used (a database).
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
            Err(failure) => panic!("API key contract test did not finish: {failure}"),
        }
    }
}

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` (an expression giving a future of `Option<(Subject, impl
/// Backend)>`) provides. Every `pub async fn` of `suite.rs` must be listed here; one that
/// is not is dead code, which the lints refuse.
macro_rules! api_key_tests {
    ($backend:ident, $setup:expr) => {
        api_key_tests!(@each $backend, $setup;
            created_key_reads_back_whole,
            created_key_without_expiry_reads_back_whole,
            unknown_key_is_none,
            duplicate_id_is_refused_and_keeps_the_first,
            list_is_newest_first_with_ties_by_id_descending,
            list_holds_only_the_users_keys,
            list_includes_revoked_keys,
            revoking_own_key_records_the_time,
            revoking_twice_answers_false_and_keeps_the_first_time,
            revoking_another_users_key_finds_nothing_and_changes_nothing,
            revoking_an_unknown_key_finds_nothing,
            expiry_is_kept_as_stored_even_when_past,
            scopes_round_trip_in_order,
        );
    };
    (@each $backend:ident, $setup:expr; $($test:ident),+ $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    run($setup, suite::$test).await;
                }
            )+
        }
    };
}

api_key_tests!(memory, async {
    let subject = Subject {
        keys: Arc::new(MemoryApiKeys::new()),
        users: Arc::new(MemoryStore::new()),
    };
    Some((subject, ()))
});

#[cfg(feature = "testing")]
mod sql_backends {
    use std::io::Write;

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
            keys: store.clone(),
            users: store,
        }
    }

    /// The value of `var`, or `None` (after a one-time notice) when it is unset outside
    /// CI.
    ///
    /// # Panics
    ///
    /// When `var` is unset under CI, or is not valid Unicode.
    fn configured(var: &str, backend: &str, notice: &std::sync::Once) -> Option<String> {
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
            Ok(_) | Err(std::env::VarError::NotPresent) if std::env::var_os("CI").is_none() => {
                // Written to stderr directly so the notice shows even when the test
                // harness captures output; once, rather than once per test.
                notice.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "{var} is not set: the {backend}::* API key tests were not run \
                         (they pass empty)"
                    );
                });
                None
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                panic!("under CI, {var} must name a server for the {backend} API key tests")
            }
            Err(err) => panic!("{var} is unusable: {err}"),
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
api_key_tests!(sqlite, sql_backends::sqlite());

#[cfg(feature = "testing")]
api_key_tests!(postgres, sql_backends::postgres());
