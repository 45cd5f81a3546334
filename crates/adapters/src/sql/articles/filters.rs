//! The list filters and the feed as conditions on `articles`.

use conduit_domain::{
    UserId,
    article::{ArticleFilter, Page},
};
use sea_orm::{
    DatabaseBackend,
    sea_query::{Alias, Condition, Expr, ExprTrait, Func, Order, Query, SelectStatement},
};

use super::super::entity::{article_tags, articles, favorites, follows, tags, users};

/// Articles joined to their authors, everything a summary shows; lists never load the
/// body.
pub(super) fn summaries() -> SelectStatement {
    use articles::Column as A;
    use users::Column as U;
    Query::select()
        .columns(
            [
                A::Id,
                A::Slug,
                A::Title,
                A::Description,
                A::AuthorId,
                A::FavoritesCount,
                A::CreatedAt,
                A::UpdatedAt,
            ]
            .map(|c| (articles::Entity, c)),
        )
        .columns([U::Username, U::Bio, U::Image].map(|c| (users::Entity, c)))
        .from(articles::Entity)
        .inner_join(
            users::Entity,
            Expr::col((users::Entity, U::Id)).equals((articles::Entity, A::AuthorId)),
        )
        .take()
}

/// `SELECT id FROM users WHERE lower(username) = lower(name)`: at most one user, found
/// through `users_username_lower_key`.
pub(super) fn user_named(name: &str) -> SelectStatement {
    Query::select()
        .column((users::Entity, users::Column::Id))
        .from(users::Entity)
        .and_where(
            Func::lower(Expr::col((users::Entity, users::Column::Username)))
                .eq(Func::lower(Expr::val(name))),
        )
        .take()
}

/// `SELECT id FROM tags WHERE name = tag`: at most one tag.
pub(super) fn tag_named(tag: &str) -> SelectStatement {
    Query::select()
        .column((tags::Entity, tags::Column::Id))
        .from(tags::Entity)
        .and_where(Expr::col((tags::Entity, tags::Column::Name)).eq(tag))
        .take()
}

/// `SELECT followee_id FROM follows WHERE follower_id = viewer`.
pub(super) fn followees(viewer: UserId) -> SelectStatement {
    Query::select()
        .column((follows::Entity, follows::Column::FolloweeId))
        .from(follows::Entity)
        .and_where(Expr::col((follows::Entity, follows::Column::FollowerId)).eq(viewer.0))
        .take()
}

/// `(subquery)` as a scalar value.
fn scalar(select: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(select.into()))
}

/// The list filters as one condition on `articles`, for the page `page`.
///
/// A single filter selects the newest `offset + limit` article ids straight from the
/// index that serves it (`article_tags (tag_id, article_id)`, `favorites (user_id,
/// article_id)`, `articles (author_id, id)`): ids grow with time, so the page is among
/// them, and the work does not grow with the number of articles tagged, favorited or
/// written (docs/performance.md: a popular tag took 13 ms at 10,000 articles this way
/// round, 0.3 ms the new way). Filters combined keep the general condition
/// ([`combined_condition`]). An unknown tag or username matches nothing. (Searches have
/// their own conditions: [`super::search`].)
pub(super) fn filter_condition(filter: &ArticleFilter, page: Page) -> Condition {
    use articles::Column as A;
    let newest = page.offset.saturating_add(page.limit);
    let id_in = |ids: SelectStatement| {
        Condition::all().add(Expr::col((articles::Entity, A::Id)).in_subquery(ids))
    };
    match (&filter.tag, &filter.author, &filter.favorited_by) {
        (Some(tag), None, None) => {
            let tag_id = tag_named(tag.as_str());
            id_in(
                Query::select()
                    .column((article_tags::Entity, article_tags::Column::ArticleId))
                    .from(article_tags::Entity)
                    .and_where(
                        Expr::col((article_tags::Entity, article_tags::Column::TagId))
                            .eq(scalar(tag_id)),
                    )
                    .order_by(
                        (article_tags::Entity, article_tags::Column::ArticleId),
                        Order::Desc,
                    )
                    .limit(newest)
                    .take(),
            )
        }
        (None, Some(author), None) => Condition::all().add(
            Expr::col((articles::Entity, A::AuthorId)).eq(scalar(user_named(author.as_str()))),
        ),
        (None, None, Some(fan)) => id_in(
            Query::select()
                .column((favorites::Entity, favorites::Column::ArticleId))
                .from(favorites::Entity)
                .and_where(
                    Expr::col((favorites::Entity, favorites::Column::UserId))
                        .eq(scalar(user_named(fan.as_str()))),
                )
                .order_by(
                    (favorites::Entity, favorites::Column::ArticleId),
                    Order::Desc,
                )
                .limit(newest)
                .take(),
        ),
        _ => combined_condition(filter),
    }
}

/// The list filters but the search as one condition on `articles`, whatever the page. An
/// unknown tag or username makes its subquery empty, so nothing matches.
pub(super) fn combined_condition(filter: &ArticleFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(tag) = &filter.tag {
        let tagged = Query::select()
            .column((article_tags::Entity, article_tags::Column::ArticleId))
            .from(article_tags::Entity)
            .inner_join(
                tags::Entity,
                Expr::col((tags::Entity, tags::Column::Id))
                    .equals((article_tags::Entity, article_tags::Column::TagId)),
            )
            .and_where(Expr::col((tags::Entity, tags::Column::Name)).eq(tag.as_str()))
            .take();
        cond = cond.add(Expr::col((articles::Entity, articles::Column::Id)).in_subquery(tagged));
    }
    if let Some(author) = &filter.author {
        cond = cond.add(
            Expr::col((articles::Entity, articles::Column::AuthorId))
                .in_subquery(user_named(author.as_str())),
        );
    }
    if let Some(fan) = &filter.favorited_by {
        let favorited = Query::select()
            .column((favorites::Entity, favorites::Column::ArticleId))
            .from(favorites::Entity)
            .and_where(
                Expr::col((favorites::Entity, favorites::Column::UserId))
                    .in_subquery(user_named(fan.as_str())),
            )
            .take();
        cond = cond.add(Expr::col((articles::Entity, articles::Column::Id)).in_subquery(favorited));
    }
    cond
}

/// The feed as one condition on `articles`.
///
/// On PostgreSQL, the candidates are each followed author's newest `offset + limit`
/// articles (a `LATERAL` join walking `articles_author_id_id_idx` once per author), of
/// which the newest `offset + limit` overall: the page is among them, and the work no
/// longer grows with the number of articles in the database. Without it the planner
/// walks all articles newest first until it has found a page by followed authors, which
/// took 150 ms at a million articles for a reader of rarely writing authors
/// (docs/performance.md). SQLite has no `LATERAL`; it keeps the
/// plain condition (the embedded set-up is not the one that holds millions of rows).
pub(super) fn feed_condition(viewer: UserId, page: Page, backend: DatabaseBackend) -> Condition {
    use articles::Column as A;
    if backend != DatabaseBackend::Postgres {
        return Condition::all()
            .add(Expr::col((articles::Entity, A::AuthorId)).in_subquery(followees(viewer)));
    }
    let newest = page.offset.saturating_add(page.limit);
    let recent = Alias::new("recent");
    let newest_of_author = Query::select()
        .column((articles::Entity, A::Id))
        .from(articles::Entity)
        .and_where(
            Expr::col((articles::Entity, A::AuthorId))
                .equals((follows::Entity, follows::Column::FolloweeId)),
        )
        .order_by((articles::Entity, A::Id), Order::Desc)
        .limit(newest)
        .take();
    // Only the newest `offset + limit` of all candidates reach the outer query.
    let candidates = Query::select()
        .column((recent.clone(), A::Id))
        .from(follows::Entity)
        .join_lateral(
            sea_orm::sea_query::JoinType::InnerJoin,
            newest_of_author,
            recent.clone(),
            Expr::val(true),
        )
        .and_where(Expr::col((follows::Entity, follows::Column::FollowerId)).eq(viewer.0))
        .order_by((recent, A::Id), Order::Desc)
        .limit(newest)
        .take();
    Condition::all().add(Expr::col((articles::Entity, A::Id)).in_subquery(candidates))
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    use conduit_domain::{article::TagName, user::Username};

    use super::*;

    fn tag(name: &str) -> TagName {
        TagName::parse(name).expect("tag")
    }

    fn user(name: &str) -> Username {
        Username::parse(name).expect("username")
    }

    fn filter() -> ArticleFilter {
        ArticleFilter {
            tag: Some(tag("rust")),
            author: Some(user("Jake")),
            favorited_by: Some(user("Ann")),
            search: None,
        }
    }

    #[test]
    fn lists_never_load_the_body() {
        let select = summaries()
            .cond_where(filter_condition(&filter(), Page::default()))
            .take();
        for sql in [
            select.to_string(PostgresQueryBuilder),
            select.to_string(SqliteQueryBuilder),
        ] {
            assert!(!sql.contains("body"), "{sql}");
        }
    }

    #[test]
    fn usernames_are_matched_through_the_lower_expression_index() {
        let sql = summaries()
            .cond_where(filter_condition(&filter(), Page::default()))
            .take()
            .to_string(PostgresQueryBuilder);
        assert!(
            sql.contains(r#"LOWER("users"."username") = LOWER('Jake')"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"LOWER("users"."username") = LOWER('Ann')"#),
            "{sql}"
        );
        assert!(sql.contains(r#""tags"."name" = 'rust'"#), "{sql}");
    }

    /// One filter alone reads only the newest `offset + limit` ids from its index.
    #[test]
    fn single_filters_take_the_newest_ids_from_their_index() {
        let page = Page {
            limit: 20,
            offset: 40,
        };
        let by = |tag: Option<&str>, author: Option<&str>, fan: Option<&str>| ArticleFilter {
            tag: tag.map(self::tag),
            author: author.map(user),
            favorited_by: fan.map(user),
            search: None,
        };
        for (filter, index_order) in [
            (
                by(Some("rust"), None, None),
                r#"ORDER BY "article_tags"."article_id" DESC LIMIT 60"#,
            ),
            (
                by(None, None, Some("Ann")),
                r#"ORDER BY "favorites"."article_id" DESC LIMIT 60"#,
            ),
        ] {
            let sql = summaries()
                .cond_where(filter_condition(&filter, page))
                .take()
                .to_string(PostgresQueryBuilder);
            assert!(sql.contains(index_order), "{sql}");
            assert!(sql.contains("= (SELECT"), "{sql}");
        }
        let sql = summaries()
            .cond_where(filter_condition(&by(None, Some("Jake"), None), page))
            .take()
            .to_string(PostgresQueryBuilder);
        assert!(sql.contains(r#""articles"."author_id" = (SELECT"#), "{sql}");
    }
}
