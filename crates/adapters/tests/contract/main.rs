//! The storage contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test contract memory::` runs the in-memory store alone. The SQL
//! backends need the `testing` feature; PostgreSQL also needs `TEST_DATABASE_URL`
//! (an admin URL such as `postgres://postgres@127.0.0.1:5432/test`).

mod suite;

use std::{future::Future, panic, sync::Arc};

use conduit_adapters::memory::MemoryStore;
use conduit_domain::ports::Stores;

/// What a backend keeps alive during one test and tears down after it.
trait Backend: Send + 'static {
    /// Releases what the test used (for a database: drops it).
    async fn tear_down(self);
}

impl Backend for () {
    async fn tear_down(self) {}
}

/// Runs `test` on the stores `setup` provides, then tears the backend down whether or
/// not the test panicked, then lets the panic through so the test still fails.
///
/// `setup` answers `None` when the backend is not available in this environment.
async fn run<B, T, F>(setup: impl Future<Output = Option<(Stores, B)>>, test: T)
where
    B: Backend,
    T: FnOnce(Stores) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let Some((stores, backend)) = setup.await else {
        return;
    };
    // A spawned task turns a panic into a value, so tear-down still runs before it is
    // resumed.
    let outcome = tokio::spawn(test(stores)).await;
    backend.tear_down().await;
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(payload) => panic::resume_unwind(payload),
            Err(failure) => panic!("contract test did not finish: {failure}"),
        }
    }
}

/// Declares, in a module named `$backend`, one `#[tokio::test]` per suite test, each
/// running on the stores that `$setup` (an expression giving a future of
/// `Option<(Stores, impl Backend)>`) provides. Every `pub async fn` of `suite.rs` must be
/// listed here; one that is not is dead code, which the lints refuse.
macro_rules! contract_tests {
    ($backend:ident, $setup:expr) => {
        contract_tests!(@each $backend, $setup;
            user_create_then_lookup_by_id_and_email_in_any_case,
            user_create_with_taken_email_in_other_case_is_refused,
            user_create_with_taken_username_in_other_case_is_refused,
            user_update_email,
            user_update_username,
            user_update_password_bio_and_image,
            user_update_clears_bio_and_image,
            user_update_to_taken_email_is_refused_and_changes_nothing,
            user_update_to_taken_username_is_refused_and_changes_nothing,
            user_update_may_recase_own_email_and_username,
            user_update_of_missing_user_is_none,
            profile_by_username_in_any_case,
            profile_following_is_seen_from_the_viewer,
            follow_and_unfollow_are_idempotent,
            article_create_keeps_tag_order_and_reads_back_whole,
            article_by_slug,
            article_with_taken_slug_is_refused_without_leftovers,
            article_update_replaces_tags_when_given,
            article_update_without_tags_keeps_them,
            article_update_with_empty_tags_removes_them,
            article_update_changes_slug_title_text_and_updated_at,
            article_update_may_keep_its_own_slug,
            article_update_to_taken_slug_is_refused_and_changes_nothing,
            article_update_of_missing_article_is_false,
            article_delete_removes_its_comments_favorites_and_tags,
            favorite_twice_counts_once_and_is_seen_per_viewer,
            unfavorite_twice_is_not_an_error,
            list_is_most_recent_first,
            list_by_tag,
            list_by_author_in_any_case,
            list_by_favorited_in_any_case,
            list_filters_combine,
            list_with_unknown_filter_values_is_empty,
            list_pages_with_total,
            list_summaries_carry_tags_author_and_following,
            feed_has_only_followed_authors_most_recent_first,
            feed_pages_with_total,
            comment_found_only_under_its_article,
            comments_listed_oldest_first,
            comment_view_as_the_viewer_sees_it,
            comment_delete_twice_is_false_the_second_time,
            tags_most_used_first_then_by_name,
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

contract_tests!(memory, async {
    Some((Stores::from_one(Arc::new(MemoryStore::new())), ()))
});

#[cfg(feature = "testing")]
mod sql_backends {
    use std::{io::Write, sync::Once};

    use conduit_adapters::sql::testing::TestDb;

    use super::*;

    impl Backend for TestDb {
        async fn tear_down(self) {
            self.cleanup().await;
        }
    }

    /// A migrated SQLite database of its own.
    pub(crate) async fn sqlite() -> Option<(Stores, TestDb)> {
        let db = TestDb::sqlite().await;
        Some((Stores::from_one(Arc::new(db.store())), db))
    }

    /// A migrated PostgreSQL database of its own, on the server `TEST_DATABASE_URL`
    /// names. Without that variable the test is skipped with a notice, except under CI,
    /// where a skipped backend would pass unnoticed.
    pub(crate) async fn postgres() -> Option<(Stores, TestDb)> {
        let url = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => url,
            Err(std::env::VarError::NotPresent) if std::env::var_os("CI").is_none() => {
                static NOTICE: Once = Once::new();
                // Written to stderr directly so the notice shows even when the test
                // harness captures output; once, rather than once per test.
                NOTICE.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "TEST_DATABASE_URL is not set: the postgres::* contract tests \
                         were not run (they pass empty)"
                    );
                });
                return None;
            }
            Err(std::env::VarError::NotPresent) => {
                panic!("under CI, TEST_DATABASE_URL must name a PostgreSQL server")
            }
            Err(err) => panic!("TEST_DATABASE_URL is unusable: {err}"),
        };
        let db = TestDb::postgres(&url).await;
        Some((Stores::from_one(Arc::new(db.store())), db))
    }
}

#[cfg(feature = "testing")]
contract_tests!(sqlite, sql_backends::sqlite());

#[cfg(feature = "testing")]
contract_tests!(postgres, sql_backends::postgres());
