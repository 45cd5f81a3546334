//! Reading articles: pages of summaries (lists and the feed), one article, the tag
//! cloud.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, StoreError, UserId,
    article::{ArticleFilter, ArticlePage, ArticleSummary, ArticleView, Page, SearchQuery},
    ports::ArticleQueries,
    time::Timestamp,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Condition, Expr, ExprTrait, Order, Query, SelectStatement},
};
use time::OffsetDateTime;

use super::{
    super::{
        SqlStore,
        entity::{article_counts, article_tags, articles, favorites, tags},
        error::store_error,
        routed,
        rows::{Author, count, followed_among},
    },
    counts::{Counted, Total},
    filters::{feed_condition, filter_condition, summaries},
    search::{counted, ranked, resolved_filters},
};

/// One article of a list, with its author's public columns.
#[derive(Debug, FromQueryResult)]
struct SummaryRow {
    id: i64,
    slug: String,
    title: String,
    description: String,
    author_id: i64,
    favorites_count: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    username: String,
    bio: Option<String>,
    image: Option<String>,
}

#[derive(Debug, FromQueryResult)]
struct TagRow {
    article_id: i64,
    name: String,
}

impl SqlStore {
    /// One page of the articles matching `cond`, newest first, with the total; on a
    /// replica when one is fresh enough (ADR 0032).
    async fn page(
        &self,
        cond: Condition,
        total: Total,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        let mut select = summaries()
            .cond_where(cond)
            .order_by((articles::Entity, articles::Column::Id), Order::Desc)
            .take();
        select.limit(page.limit).offset(page.offset);
        let total = total.query();
        routed!(self, |db| async {
            let (rows, total) = rows_and_total(db, &select, &total).await?;
            Ok::<_, StoreError>(ArticlePage {
                articles: hydrate(db, rows, viewer).await?,
                total: count(total)?,
            })
        }
        .await)
    }

    /// One page of a search (see [`super::search`]), most relevant first, with the
    /// number of articles it considers.
    async fn search(
        &self,
        filter: &ArticleFilter,
        search: &SearchQuery,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        routed!(self, |db| search_on(db, filter, search, page, viewer).await)
    }
}

/// [`SqlStore::search`] on the connection `db`.
async fn search_on(
    db: &DatabaseConnection,
    filter: &ArticleFilter,
    search: &SearchQuery,
    page: Page,
    viewer: Option<UserId>,
) -> Result<ArticlePage, StoreError> {
    let backend = db.get_database_backend();
    let txn = db.begin().await.map_err(store_error)?;
    if backend == DatabaseBackend::Postgres {
        // A search's plan depends on its values: how common its words are (walk the
        // newest articles for a frequent word, the GIN index for a rare one) and how
        // large its tag is. A generic plan, which PostgreSQL may switch a prepared
        // statement to, knows neither, so searches are planned for their values.
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await
            .map_err(store_error)?;
    }
    let Some(cond) = resolved_filters(&txn, filter).await? else {
        txn.commit().await.map_err(store_error)?;
        return Ok(ArticlePage::default());
    };
    let mut select = summaries();
    ranked(&mut select, cond.clone(), search, backend);
    select.limit(page.limit).offset(page.offset);
    let total = counted(cond, search, backend);
    let (rows, total) = rows_and_total(&txn, &select, &total).await?;
    txn.commit().await.map_err(store_error)?;
    Ok(ArticlePage {
        articles: hydrate(db, rows, viewer).await?,
        total: count(total)?,
    })
}

/// The rows of a page and its total.
async fn rows_and_total(
    conn: &impl ConnectionTrait,
    select: &SelectStatement,
    total: &SelectStatement,
) -> Result<(Vec<SummaryRow>, i64), StoreError> {
    let rows = conn
        .query_all(select)
        .await
        .map_err(store_error)?
        .iter()
        .map(|row| SummaryRow::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_error)?;
    let total = conn
        .query_one(total)
        .await
        .map_err(store_error)?
        .map(|row| row.try_get::<i64>("", "total"))
        .transpose()
        .map_err(store_error)?
        .unwrap_or(0);
    Ok((rows, total))
}

/// Completes summary rows with their tags, the viewer's favorites and the viewer's
/// follows of the authors: three queries for the whole batch.
async fn hydrate(
    conn: &impl ConnectionTrait,
    rows: Vec<SummaryRow>,
    viewer: Option<UserId>,
) -> Result<Vec<ArticleSummary>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();

    let tag_rows = Query::select()
        .column((article_tags::Entity, article_tags::Column::ArticleId))
        .column((tags::Entity, tags::Column::Name))
        .from(article_tags::Entity)
        .inner_join(
            tags::Entity,
            Expr::col((tags::Entity, tags::Column::Id))
                .equals((article_tags::Entity, article_tags::Column::TagId)),
        )
        .and_where(
            Expr::col((article_tags::Entity, article_tags::Column::ArticleId)).is_in(ids.clone()),
        )
        .order_by(
            (article_tags::Entity, article_tags::Column::ArticleId),
            Order::Asc,
        )
        .order_by(
            (article_tags::Entity, article_tags::Column::Position),
            Order::Asc,
        )
        .take();
    let mut tags_of: HashMap<i64, Vec<String>> = HashMap::new();
    for row in conn.query_all(&tag_rows).await.map_err(store_error)? {
        let row = TagRow::from_query_result(&row, "").map_err(store_error)?;
        tags_of.entry(row.article_id).or_default().push(row.name);
    }

    let favorited: HashSet<i64> = match viewer {
        None => HashSet::new(),
        Some(viewer) => favorites::Entity::find()
            .select_only()
            .column(favorites::Column::ArticleId)
            .filter(favorites::Column::UserId.eq(viewer.0))
            .filter(favorites::Column::ArticleId.is_in(ids))
            .into_tuple::<i64>()
            .all(conn)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect(),
    };

    let followed = followed_among(conn, viewer, rows.iter().map(|r| r.author_id)).await?;

    rows.into_iter()
        .map(|row| {
            let author = Author {
                id: row.author_id,
                username: row.username,
                bio: row.bio,
                image: row.image,
            };
            Ok(ArticleSummary {
                id: ArticleId(row.id),
                slug: row.slug,
                title: row.title,
                description: row.description,
                tags: tags_of.remove(&row.id).unwrap_or_default(),
                created_at: Timestamp::new(row.created_at),
                updated_at: Timestamp::new(row.updated_at),
                favorited: favorited.contains(&row.id),
                favorites_count: count(row.favorites_count)?,
                author: author.profile(&followed),
            })
        })
        .collect()
}

#[async_trait]
impl ArticleQueries for SqlStore {
    async fn article(
        &self,
        id: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Option<ArticleView>, StoreError> {
        let select = summaries()
            .column((articles::Entity, articles::Column::Body))
            .and_where(Expr::col((articles::Entity, articles::Column::Id)).eq(id.0))
            .take();
        routed!(self, |db| async {
            let Some(row) = db.query_one(&select).await.map_err(store_error)? else {
                return Ok::<_, StoreError>(None);
            };
            let body: String = row.try_get("", "body").map_err(store_error)?;
            let summary = SummaryRow::from_query_result(&row, "").map_err(store_error)?;
            let summary = hydrate(db, vec![summary], viewer).await?.pop();
            Ok(summary.map(|summary| ArticleView { summary, body }))
        }
        .await)
    }

    async fn list(
        &self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        if let Some(search) = &filter.search {
            return self.search(filter, search, page, viewer).await;
        }
        self.page(
            filter_condition(filter, page),
            Total::of_filter(filter),
            page,
            viewer,
        )
        .await
    }

    async fn feed(&self, viewer: UserId, page: Page) -> Result<ArticlePage, StoreError> {
        self.page(
            feed_condition(viewer, page, self.db.get_database_backend()),
            Total::of_feed(viewer),
            page,
            Some(viewer),
        )
        .await
    }

    async fn tags(&self, limit: u64) -> Result<Vec<String>, StoreError> {
        // Ties are broken by byte order of the name, as SQLite compares by default; on
        // PostgreSQL that takes the "C" collation, whatever the database's own is.
        let by_name = match self.db.get_database_backend() {
            DatabaseBackend::Postgres => Expr::cust(r#""tags"."name" COLLATE "C""#),
            _ => Expr::col((tags::Entity, tags::Column::Name)),
        };
        // From the kept counts (ADR 0020): no scan of the tag links however many there are.
        use article_counts::Column as C;
        let select = Query::select()
            .column((tags::Entity, tags::Column::Name))
            .from(tags::Entity)
            .inner_join(
                article_counts::Entity,
                Expr::col((article_counts::Entity, C::Key))
                    .equals((tags::Entity, tags::Column::Id))
                    .and(Expr::col((article_counts::Entity, C::Kind)).eq(Counted::Tag as i16)),
            )
            .and_where(Expr::col((article_counts::Entity, C::Articles)).gt(0))
            .order_by((article_counts::Entity, C::Articles), Order::Desc)
            .order_by_expr(by_name, Order::Asc)
            .limit(limit)
            .take();
        routed!(self, |db| async {
            db.query_all(&select)
                .await
                .map_err(store_error)?
                .iter()
                .map(|row| row.try_get::<String>("", "name").map_err(store_error))
                .collect::<Result<Vec<_>, StoreError>>()
        }
        .await)
    }
}
