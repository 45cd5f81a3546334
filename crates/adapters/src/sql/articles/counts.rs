//! The kept article counts (ADR 0020): how list totals are found, and how writes keep
//! the counts.

use conduit_domain::{ArticleId, StoreError, UserId, article::ArticleFilter};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction,
    sea_query::{Alias, Condition, Expr, ExprTrait, OnConflict, Query, SelectStatement},
};

use super::{
    super::{
        entity::{article_counts, articles},
        error::store_error,
        rows::build_error,
    },
    filters::{combined_condition, followees, tag_named, user_named},
};

/// The sets `article_counts` counts (its `kind` column; ADR 0020).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Counted {
    /// Every article (key 0).
    All = 0,
    /// The articles with a tag (key: the tag's id).
    Tag = 1,
    /// The articles by a user (key: the user's id).
    Author = 2,
    /// The articles a user favorited (key: the user's id).
    FavoritedBy = 3,
}

/// How a list's total is found.
pub(super) enum Total {
    /// The sum of the stored counts of `kind` whose key the subquery selects (one set for
    /// a filter, the followed authors' for the feed).
    Stored(Counted, Box<SelectStatement>),
    /// Counting the matching rows (filters combined).
    Rows(Condition),
}

impl Total {
    pub(super) fn of_filter(filter: &ArticleFilter) -> Total {
        match (&filter.tag, &filter.author, &filter.favorited_by) {
            (None, None, None) => Total::Stored(
                Counted::All,
                Box::new(Query::select().expr(Expr::val(0_i64)).take()),
            ),
            (Some(tag), None, None) => {
                Total::Stored(Counted::Tag, Box::new(tag_named(tag.as_str())))
            }
            (None, Some(author), None) => {
                Total::Stored(Counted::Author, Box::new(user_named(author.as_str())))
            }
            (None, None, Some(fan)) => {
                Total::Stored(Counted::FavoritedBy, Box::new(user_named(fan.as_str())))
            }
            _ => Total::Rows(combined_condition(filter)),
        }
    }

    pub(super) fn of_feed(viewer: UserId) -> Total {
        Total::Stored(Counted::Author, Box::new(followees(viewer)))
    }

    pub(super) fn query(self) -> SelectStatement {
        match self {
            Total::Stored(kind, keys) => {
                use article_counts::Column as C;
                Query::select()
                    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast it back.
                    .expr_as(
                        Expr::cust("CAST(COALESCE(SUM(article_counts.articles), 0) AS BIGINT)"),
                        Alias::new("total"),
                    )
                    .from(article_counts::Entity)
                    .and_where(Expr::col((article_counts::Entity, C::Kind)).eq(kind as i16))
                    .and_where(Expr::col((article_counts::Entity, C::Key)).in_subquery(*keys))
                    .take()
            }
            Total::Rows(cond) => Query::select()
                .expr_as(
                    Expr::col((articles::Entity, articles::Column::Id)).count(),
                    Alias::new("total"),
                )
                .from(articles::Entity)
                .cond_where(cond)
                .take(),
        }
    }
}

/// Changes of article counts, merged per set.
#[derive(Debug, Default)]
pub(super) struct CountChanges(std::collections::BTreeMap<(Counted, i64), i64>);

impl CountChanges {
    pub(super) fn add(&mut self, kind: Counted, key: i64, delta: i64) -> &mut Self {
        *self.0.entry((kind, key)).or_default() += delta;
        self
    }

    /// Applies the changes in one statement, in key order (so that two transactions
    /// changing overlapping sets take their row locks in the same order and cannot
    /// deadlock), creating the rows of sets counted for the first time.
    pub(super) async fn apply(&mut self, txn: &DatabaseTransaction) -> Result<(), StoreError> {
        use article_counts::Column as C;
        let mut upsert = Query::insert();
        upsert
            .into_table(article_counts::Entity)
            .columns([C::Kind, C::Key, C::Articles])
            .on_conflict(
                OnConflict::columns([C::Kind, C::Key])
                    .value(
                        C::Articles,
                        Expr::cust("article_counts.articles + excluded.articles"),
                    )
                    .to_owned(),
            );
        let mut any = false;
        for ((kind, key), delta) in std::mem::take(&mut self.0) {
            if delta != 0 {
                any = true;
                upsert
                    .values([(kind as i16).into(), key.into(), delta.into()])
                    .map_err(build_error)?;
            }
        }
        if any {
            txn.execute(&upsert).await.map_err(store_error)?;
        }
        Ok(())
    }
}

/// Recounts every set of `article_counts` from the rows (after bulk loads that bypass
/// the adapter, such as `conduit seed`).
pub(crate) async fn recount(txn: &DatabaseTransaction) -> Result<(), StoreError> {
    const RECOUNT: [&str; 5] = [
        "DELETE FROM article_counts",
        "INSERT INTO article_counts (kind, key, articles) SELECT 0, 0, COUNT(*) FROM articles",
        "INSERT INTO article_counts (kind, key, articles) \
         SELECT 1, tag_id, COUNT(*) FROM article_tags GROUP BY tag_id",
        "INSERT INTO article_counts (kind, key, articles) \
         SELECT 2, author_id, COUNT(*) FROM articles GROUP BY author_id",
        "INSERT INTO article_counts (kind, key, articles) \
         SELECT 3, user_id, COUNT(*) FROM favorites GROUP BY user_id",
    ];
    for statement in RECOUNT {
        txn.execute_unprepared(statement)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

/// Counts a favorite of `article` by `user` that was just inserted (`delta` 1) or
/// deleted (−1): the article's `favorites_count`, added to in the database itself
/// (`favorites_count = favorites_count + delta`, so concurrent changes never overwrite
/// each other), and the user's favorited-articles count (ADR 0020).
pub(super) async fn count_favorite(
    txn: &DatabaseTransaction,
    user: UserId,
    article: ArticleId,
    delta: i64,
) -> Result<(), StoreError> {
    let update = Query::update()
        .table(articles::Entity)
        .value(
            articles::Column::FavoritesCount,
            Expr::col(articles::Column::FavoritesCount).add(delta),
        )
        .and_where(Expr::col(articles::Column::Id).eq(article.0))
        .to_owned();
    txn.execute(&update).await.map_err(store_error)?;
    CountChanges::default()
        .add(Counted::FavoritedBy, user.0, delta)
        .apply(txn)
        .await
}
