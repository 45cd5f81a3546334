//! Full-text search of articles (`ArticleFilter::search`): PostgreSQL's `search`
//! column (a stored generated `tsvector`, GIN-indexed) and SQLite's FTS5 table
//! `articles_fts` (external content, kept by triggers); both made by the migration
//! `m20261205_000008_article_search`, and described in docs/performance.md.
//!
//! The engines get only the terms of the domain's [`SearchQuery`], each quoted: nothing
//! a client types is read as query syntax, so no input is a syntax error.

use conduit_domain::article::SearchQuery;
use sea_orm::{
    DatabaseBackend,
    sea_query::{Alias, Expr, Order, SelectStatement},
};

use super::super::entity::articles;

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

/// Restricts `select`, a query of `articles`, to the articles that match `search`.
pub(super) fn matching(
    select: &mut SelectStatement,
    search: &SearchQuery,
    backend: DatabaseBackend,
) {
    let text = engine_text(search);
    if backend == DatabaseBackend::Postgres {
        select.and_where(Expr::cust_with_values(PG_MATCH, [text]));
    } else {
        select
            .inner_join(
                Alias::new("articles_fts"),
                Expr::cust(r#""articles_fts"."rowid" = "articles"."id""#),
            )
            .and_where(Expr::cust_with_values(r#""articles_fts" MATCH ?"#, [text]));
    }
}

/// [`matching`], ordered by relevance, then newest first. Newest is the highest id, as
/// in every list (ids grow with time): SQLite keeps timestamps as text whose order is
/// not always time's, and the id is unique, so the order is stable too.
pub(super) fn ranked(select: &mut SelectStatement, search: &SearchQuery, backend: DatabaseBackend) {
    matching(select, search, backend);
    if backend == DatabaseBackend::Postgres {
        select.order_by_expr(
            Expr::cust_with_values(PG_RANK, [engine_text(search)]),
            Order::Desc,
        );
    } else {
        select.order_by_expr(Expr::cust(SQLITE_RANK), Order::Asc);
    }
    select.order_by((articles::Entity, articles::Column::Id), Order::Desc);
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

    /// `SELECT id FROM articles`, searching "Rust", as `backend` runs it.
    fn ranked_sql(backend: DatabaseBackend) -> String {
        let mut select = Query::select()
            .column((articles::Entity, articles::Column::Id))
            .from(articles::Entity)
            .take();
        ranked(&mut select, &search("Rust"), backend);
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
        assert!(pg.contains("ORDER BY ts_rank("), "{pg}");
        let sqlite = ranked_sql(DatabaseBackend::Sqlite);
        assert!(
            sqlite.contains(r#""articles_fts" MATCH '"rust"'"#),
            "{sqlite}"
        );
        assert!(sqlite.contains("ORDER BY bm25("), "{sqlite}");
    }
}
