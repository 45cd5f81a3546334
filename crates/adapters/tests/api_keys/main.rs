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
#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;

#[cfg(feature = "testing")]
use conduit_adapters::sql::testing::TestDb;
use conduit_adapters::{memory::MemoryStore, memory::api_keys::MemoryApiKeys};
use suite::Subject;

/// The suite's name in messages.
const SUITE: &str = "API key";

/// Declares, in a module named `$backend`, one test per suite test, each running on the
/// subject that `$setup` (an expression giving a future of `Option<(Subject, impl
/// support::Backend)>`) provides. Every `pub async fn` of `suite.rs` must be listed
/// here; one that is not is dead code, which the lints refuse.
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
                    support::run(SUITE, $setup, suite::$test).await;
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

/// The subject of a SQL backend: keys and users in its database.
#[cfg(feature = "testing")]
fn sql_subject(db: &TestDb) -> Subject {
    let store = Arc::new(db.store());
    Subject {
        keys: store.clone(),
        users: store,
    }
}

#[cfg(feature = "testing")]
api_key_tests!(sqlite, support::sqlite(sql_subject));

#[cfg(feature = "testing")]
api_key_tests!(postgres, support::postgres(SUITE, sql_subject));
