//! The identity links contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test identity_links memory::` runs the in-memory store alone. Backends:
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

use conduit_adapters::{memory::MemoryStore, memory_identity_links::MemoryIdentityLinks};
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
            Err(failure) => panic!("identity links contract test did not finish: {failure}"),
        }
    }
}

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
///
/// The runtime has several worker threads so that the concurrency test races for real.
macro_rules! identity_links_tests {
    ($backend:ident, $setup:expr) => {
        identity_links_tests!(@each $backend, $setup;
            an_unlinked_identity_has_no_account,
            a_linked_identity_signs_in_to_its_account,
            linking_again_keeps_the_first_account,
            the_provider_is_part_of_the_identity,
            subjects_are_compared_exactly,
            an_account_may_have_several_identities,
            concurrent_links_of_one_identity_agree_on_one_account,
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

identity_links_tests!(memory, async {
    let subject = Subject {
        links: Arc::new(MemoryIdentityLinks::new()),
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
            links: store.clone(),
            users: store,
        }
    }

    /// A migrated SQLite database of its own.
    pub(crate) async fn sqlite() -> Option<(Subject, TestDb)> {
        let db = TestDb::sqlite().await;
        Some((subject(&db), db))
    }

    /// A migrated PostgreSQL database of its own, on the server `TEST_DATABASE_URL`
    /// names; `None` (after a one-time notice) when it is unset outside CI.
    ///
    /// # Panics
    ///
    /// When `TEST_DATABASE_URL` is unset under CI, or is not valid Unicode.
    pub(crate) async fn postgres() -> Option<(Subject, TestDb)> {
        static NOTICE: std::sync::Once = std::sync::Once::new();
        let url = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
            Ok(_) | Err(std::env::VarError::NotPresent) if std::env::var_os("CI").is_none() => {
                NOTICE.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "TEST_DATABASE_URL is not set: the postgres::* identity links tests \
                         were not run (they pass empty)"
                    );
                });
                return None;
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                panic!("under CI, TEST_DATABASE_URL must name a server for the postgres tests")
            }
            Err(err) => panic!("TEST_DATABASE_URL is unusable: {err}"),
        };
        let db = TestDb::postgres(&url).await;
        Some((subject(&db), db))
    }
}

#[cfg(feature = "testing")]
identity_links_tests!(sqlite, sql_backends::sqlite());

#[cfg(feature = "testing")]
identity_links_tests!(postgres, sql_backends::postgres());
