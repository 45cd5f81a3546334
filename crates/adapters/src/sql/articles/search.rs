//! Full-text search of articles (`ArticleFilter::search`): PostgreSQL's `search`
//! column (a stored generated `tsvector`, GIN-indexed) and SQLite's FTS5 table
//! `articles_fts` (external content, kept by triggers); both made by the migration
//! `m20261205_000008_article_search`, and described in docs/performance.md.
//!
//! The engines get only the terms of the domain's [`SearchQuery`], each quoted: nothing
//! a client types is read as query syntax, so no input is a syntax error.

use conduit_domain::{
    StoreError,
    article::{ArticleFilter, SearchQuery},
};
use sea_orm::{
    ConnectionTrait, DatabaseBackend,
    sea_query::{Alias, Condition, Expr, ExprTrait, JoinType, Order, Query, SelectStatement},
};

use super::{
    super::{
        entity::{article_tags, articles, favorites},
        error::store_error,
    },
    filters::{tag_named, user_named},
};

/// The text search configuration on PostgreSQL: `simple` lowercases and neither stems
/// nor drops stop words, as SQLite's `unicode61` tokenizer and the in-memory store do,
/// so every backend finds the same articles for the same words, whatever the
/// articles' language.
const PG_MATCH: &str = r#""articles"."search" @@ websearch_to_tsquery('simple', $1)"#;
/// Relevance on PostgreSQL: `ts_rank`'s default weights give the title (label A) 1.0,
/// the description (B) 0.4 and the body (C) 0.2.
const PG_RANK: &str = r#"ts_rank("articles"."search", websearch_to_tsquery('simple', $1))"#;
/// Relevance on SQLite (lower is better): bm25 with the title weighing 10, the
/// description 4 and the body 1.
const SQLITE_RANK: &str = r#"bm25("articles_fts", 10.0, 4.0, 1.0)"#;
/// SQLite's full-text index of articles.
const FTS: &str = "articles_fts";

/// The search as the engines' query text: every term quoted (a quote inside doubled,
/// though terms have none), separated by spaces, which both engines read as "and".
fn engine_text(search: &SearchQuery) -> String {
    search
        .terms()
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The search's other filters as a condition on `articles`, with the tag's and the
/// users' ids looked up first and written as values. Planned for its values (see
/// `SqlStore::search`), a condition that names the tag's id lets PostgreSQL see how
/// many articles the tag has; behind a subquery it assumed an average tag, and a word
/// within the most used tag took 2 s instead of 10 ms at a million articles
/// (docs/performance.md). `None` when a name belongs to no tag or user: nothing matches.
pub(super) async fn resolved_filters(
    conn: &impl ConnectionTrait,
    filter: &ArticleFilter,
) -> Result<Option<Condition>, StoreError> {
    use articles::Column as A;
    let mut cond = Condition::all();
    if let Some(tag) = &filter.tag {
        let Some(tag) = id_of(conn, tag_named(tag.as_str())).await? else {
            return Ok(None);
        };
        use article_tags::Column as T;
        let tagged = Query::select()
            .column((article_tags::Entity, T::ArticleId))
            .from(article_tags::Entity)
            .and_where(Expr::col((article_tags::Entity, T::TagId)).eq(tag))
            .take();
        cond = cond.add(Expr::col((articles::Entity, A::Id)).in_subquery(tagged));
    }
    if let Some(author) = &filter.author {
        let Some(author) = id_of(conn, user_named(author.as_str())).await? else {
            return Ok(None);
        };
        cond = cond.add(Expr::col((articles::Entity, A::AuthorId)).eq(author));
    }
    if let Some(fan) = &filter.favorited_by {
        let Some(fan) = id_of(conn, user_named(fan.as_str())).await? else {
            return Ok(None);
        };
        use favorites::Column as F;
        let favorited = Query::select()
            .column((favorites::Entity, F::ArticleId))
            .from(favorites::Entity)
            .and_where(Expr::col((favorites::Entity, F::UserId)).eq(fan))
            .take();
        cond = cond.add(Expr::col((articles::Entity, A::Id)).in_subquery(favorited));
    }
    Ok(Some(cond))
}

/// The `id` that `select` finds, if any.
async fn id_of(
    conn: &impl ConnectionTrait,
    select: SelectStatement,
) -> Result<Option<i64>, StoreError> {
    conn.query_one(&select)
        .await
        .map_err(store_error)?
        .map(|row| row.try_get::<i64>("", "id"))
        .transpose()
        .map_err(store_error)
}

/// The articles a search considers: of those matching `cond` and `search`, the newest
/// [`SearchQuery::WINDOW`] (newest is the highest id, as in every list: ids grow with
/// time), with their relevance as `score` when `scored`.
///
/// Walking newest first and stopping at the window is what bounds a frequent word: the
/// engine reads about `WINDOW` rows divided by the word's share of the articles, and
/// ranks `WINDOW` at most; a rare word is still found through the index and sorted. On
/// SQLite the order is FTS5's own rowid (the article's id), which it returns in order
/// without sorting.
fn window(
    cond: Condition,
    search: &SearchQuery,
    backend: DatabaseBackend,
    scored: bool,
) -> SelectStatement {
    let text = engine_text(search);
    let mut select = Query::select()
        .column((articles::Entity, articles::Column::Id))
        .take();
    let newest = if backend == DatabaseBackend::Postgres {
        select
            .from(articles::Entity)
            .and_where(Expr::cust_with_values(PG_MATCH, [text.clone()]));
        if scored {
            select.expr_as(Expr::cust_with_values(PG_RANK, [text]), Alias::new(SCORE));
        }
        Expr::col((articles::Entity, articles::Column::Id))
    } else {
        // FTS5 drives, newest first: `CROSS JOIN` is SQLite's way to fix the join
        // order. Left to choose, SQLite 3.51 put FTS5 inside, one MATCH per article of
        // the tag: 20 s for a word within the most used tag at a million articles,
        // 74 ms this way round (docs/performance.md).
        select
            .from(Alias::new(FTS))
            .cross_join(articles::Entity)
            .and_where(Expr::cust(r#""articles_fts"."rowid" = "articles"."id""#))
            .and_where(Expr::cust_with_values(r#""articles_fts" MATCH ?"#, [text]));
        if scored {
            select.expr_as(Expr::cust(SQLITE_RANK), Alias::new(SCORE));
        }
        Expr::cust(r#""articles_fts"."rowid""#)
    };
    select.cond_where(cond);
    select
        .order_by_expr(newest, Order::Desc)
        .limit(SearchQuery::WINDOW);
    select
}

/// The name of the search window in the statements below, and of its relevance column.
const HITS: &str = "hits";
const SCORE: &str = "score";

/// `select`, a query of `articles` (a page of summaries), restricted to the search's
/// window (see [`window`]) and ordered by relevance, then newest first.
pub(super) fn ranked(
    select: &mut SelectStatement,
    cond: Condition,
    search: &SearchQuery,
    backend: DatabaseBackend,
) {
    let hits = Alias::new(HITS);
    select.join_subquery(
        JoinType::InnerJoin,
        window(cond, search, backend, true),
        hits.clone(),
        Expr::col((hits.clone(), Alias::new("id")))
            .equals((articles::Entity, articles::Column::Id)),
    );
    // ts_rank grows with relevance; bm25 is lower for better matches.
    let best_first = if backend == DatabaseBackend::Postgres {
        Order::Desc
    } else {
        Order::Asc
    };
    select
        .order_by((hits, Alias::new(SCORE)), best_first)
        .order_by((articles::Entity, articles::Column::Id), Order::Desc);
}

/// The number of articles the search considers (at most [`SearchQuery::WINDOW`]), as
/// `total`.
pub(super) fn counted(
    cond: Condition,
    search: &SearchQuery,
    backend: DatabaseBackend,
) -> SelectStatement {
    Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("total"))
        .from_subquery(window(cond, search, backend, false), Alias::new(HITS))
        .take()
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};

    use super::*;

    fn search(text: &str) -> SearchQuery {
        SearchQuery::parse(text).expect("valid").expect("has words")
    }

    #[test]
    fn terms_are_quoted_so_nothing_is_syntax() {
        assert_eq!(
            engine_text(&search(r#"rust OR -"async" NEAR(a*)"#)),
            r#""rust" "or" "async" "near" "a""#
        );
    }

    /// A page of article ids, searching "Rust", as `backend` runs it.
    fn ranked_sql(backend: DatabaseBackend) -> String {
        let mut select = Query::select()
            .column((articles::Entity, articles::Column::Id))
            .from(articles::Entity)
            .take();
        ranked(&mut select, Condition::all(), &search("Rust"), backend);
        match backend {
            DatabaseBackend::Postgres => select.to_string(PostgresQueryBuilder),
            _ => select.to_string(SqliteQueryBuilder),
        }
    }

    #[test]
    fn each_backend_matches_and_ranks_with_its_own_index() {
        let pg = ranked_sql(DatabaseBackend::Postgres);
        assert!(
            pg.contains(r#""articles"."search" @@ websearch_to_tsquery('simple', '"rust"')"#),
            "{pg}"
        );
        assert!(pg.contains(r#"ts_rank("articles"."search""#), "{pg}");
        assert!(pg.contains(r#"ORDER BY "hits"."score" DESC"#), "{pg}");
        let sqlite = ranked_sql(DatabaseBackend::Sqlite);
        assert!(
            sqlite.contains(r#""articles_fts" MATCH '"rust"'"#),
            "{sqlite}"
        );
        assert!(sqlite.contains("bm25("), "{sqlite}");
        assert!(
            sqlite.contains(r#"ORDER BY "hits"."score" ASC"#),
            "{sqlite}"
        );
    }

    /// Both the page and the count read the newest `WINDOW` matches only, walking
    /// newest first: the bound on what a frequent word costs.
    #[test]
    fn the_page_and_the_count_read_the_window_only() {
        let limit = format!("LIMIT {}", SearchQuery::WINDOW);
        for (backend, newest) in [
            (
                DatabaseBackend::Postgres,
                r#"ORDER BY "articles"."id" DESC"#,
            ),
            (
                DatabaseBackend::Sqlite,
                r#"ORDER BY "articles_fts"."rowid" DESC"#,
            ),
        ] {
            let page = ranked_sql(backend);
            let count = counted(Condition::all(), &search("Rust"), backend);
            let count = match backend {
                DatabaseBackend::Postgres => count.to_string(PostgresQueryBuilder),
                _ => count.to_string(SqliteQueryBuilder),
            };
            for sql in [page, count] {
                assert!(sql.contains(&format!("{newest} {limit}")), "{sql}");
            }
        }
    }
}
