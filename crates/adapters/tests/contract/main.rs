//! The storage contract (`suite.rs`) run once per backend.
//!
//! Each backend becomes a module of tests named after the suite's functions, so
//! `cargo test --test contract memory::` runs the in-memory store alone. The SQL
//! backends need the `testing` feature; PostgreSQL also needs `TEST_DATABASE_URL`
//! (an admin URL such as `postgres://postgres@127.0.0.1:5432/test`).

mod suite;
#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;

use conduit_adapters::memory::MemoryStore;
#[cfg(feature = "testing")]
use conduit_adapters::sql::testing::TestDb;
use conduit_domain::ports::Stores;

/// The suite's name in messages.
const SUITE: &str = "contract";

/// Declares, in a module named `$backend`, one `#[tokio::test]` per suite test, each
/// running on the stores that `$setup` (an expression giving a future of
/// `Option<(Stores, impl support::Backend)>`) provides. Every `pub async fn` of `suite.rs`
/// must be listed here; one that is not is dead code, which the lints refuse.
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
            list_totals_follow_every_write,
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
            search_finds_every_word_in_any_field_ranked_by_field,
            search_ties_are_newest_first,
            search_considers_the_newest_window_of_matches,
            search_combines_with_filters_and_pages,
            search_input_never_errors,
            search_follows_edits_and_deletes,
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

contract_tests!(memory, async {
    Some((Stores::from_one(Arc::new(MemoryStore::new())), ()))
});

/// The stores of a SQL backend's database.
#[cfg(feature = "testing")]
fn sql_stores(db: &TestDb) -> Stores {
    Stores::from_one(Arc::new(db.store()))
}

#[cfg(feature = "testing")]
contract_tests!(sqlite, support::sqlite(sql_stores));

#[cfg(feature = "testing")]
contract_tests!(postgres, support::postgres(SUITE, sql_stores));
