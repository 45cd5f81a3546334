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
#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;

#[cfg(feature = "testing")]
use conduit_adapters::sql::testing::TestDb;
use conduit_adapters::{memory::MemoryStore, memory::identity_links::MemoryIdentityLinks};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "identity links";

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
                    support::run(SUITE, $setup, suite::$test).await;
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

/// The subject of a SQL backend: links and users in its database.
#[cfg(feature = "testing")]
fn sql_subject(db: &TestDb) -> Subject {
    let store = Arc::new(db.store());
    Subject {
        links: store.clone(),
        users: store,
    }
}

#[cfg(feature = "testing")]
identity_links_tests!(sqlite, support::sqlite(sql_subject));

#[cfg(feature = "testing")]
identity_links_tests!(postgres, support::postgres(SUITE, sql_subject));
