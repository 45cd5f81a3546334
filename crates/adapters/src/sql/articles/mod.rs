//! Articles, their tags and favorites, and the lists that show them.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, StoreError, UserId,
    article::{
        ArticleChanges, ArticleFilter, ArticlePage, ArticleRef, ArticleSummary, ArticleView,
        NewArticle, Page, Slug, TagName,
    },
    ports::{ArticleQueries, ArticleStore},
    time::Timestamp,
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{
        Alias, Condition, Expr, ExprTrait, Func, OnConflict, Order, Query, SelectStatement,
    },
};
use time::OffsetDateTime;

use super::{
    SqlStore,
    entity::{article_counts, article_tags, articles, favorites, follows, tags, users},
    error::store_error,
    rows::{Author, build_error, count, followed_among, now},
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

/// Articles joined to their authors, everything a summary shows; lists never load the
/// body.
fn summaries() -> SelectStatement {
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
fn user_named(name: &str) -> SelectStatement {
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
fn tag_named(tag: &str) -> SelectStatement {
    Query::select()
        .column((tags::Entity, tags::Column::Id))
        .from(tags::Entity)
        .and_where(Expr::col((tags::Entity, tags::Column::Name)).eq(tag))
        .take()
}

/// `SELECT followee_id FROM follows WHERE follower_id = viewer`.
fn followees(viewer: UserId) -> SelectStatement {
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
/// ([`combined_condition`]). An unknown tag or username matches nothing.
fn filter_condition(filter: &ArticleFilter, page: Page) -> Condition {
    use articles::Column as A;
    let newest = page.offset.saturating_add(page.limit);
    let id_in = |ids: SelectStatement| {
        Condition::all().add(Expr::col((articles::Entity, A::Id)).in_subquery(ids))
    };
    match (&filter.tag, &filter.author, &filter.favorited_by) {
        (Some(tag), None, None) => {
            let tag_id = tag_named(tag);
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
        (None, Some(author), None) => Condition::all()
            .add(Expr::col((articles::Entity, A::AuthorId)).eq(scalar(user_named(author)))),
        (None, None, Some(fan)) => id_in(
            Query::select()
                .column((favorites::Entity, favorites::Column::ArticleId))
                .from(favorites::Entity)
                .and_where(
                    Expr::col((favorites::Entity, favorites::Column::UserId))
                        .eq(scalar(user_named(fan))),
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

/// The list filters as one condition on `articles`, whatever the page. An unknown tag or
/// username makes its subquery empty, so nothing matches.
fn combined_condition(filter: &ArticleFilter) -> Condition {
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
                .in_subquery(user_named(author)),
        );
    }
    if let Some(fan) = &filter.favorited_by {
        let favorited = Query::select()
            .column((favorites::Entity, favorites::Column::ArticleId))
            .from(favorites::Entity)
            .and_where(
                Expr::col((favorites::Entity, favorites::Column::UserId))
                    .in_subquery(user_named(fan)),
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
fn feed_condition(viewer: UserId, page: Page, backend: DatabaseBackend) -> Condition {
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

/// The sets `article_counts` counts (its `kind` column; ADR 0020).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Counted {
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
enum Total {
    /// The sum of the stored counts of `kind` whose key the subquery selects (one set for
    /// a filter, the followed authors' for the feed).
    Stored(Counted, Box<SelectStatement>),
    /// Counting the matching rows (filters combined).
    Rows(Condition),
}

impl Total {
    fn of_filter(filter: &ArticleFilter) -> Total {
        match (&filter.tag, &filter.author, &filter.favorited_by) {
            (None, None, None) => Total::Stored(
                Counted::All,
                Box::new(Query::select().expr(Expr::val(0_i64)).take()),
            ),
            (Some(tag), None, None) => Total::Stored(Counted::Tag, Box::new(tag_named(tag))),
            (None, Some(author), None) => {
                Total::Stored(Counted::Author, Box::new(user_named(author)))
            }
            (None, None, Some(fan)) => {
                Total::Stored(Counted::FavoritedBy, Box::new(user_named(fan)))
            }
            _ => Total::Rows(combined_condition(filter)),
        }
    }

    fn of_feed(viewer: UserId) -> Total {
        Total::Stored(Counted::Author, Box::new(followees(viewer)))
    }

    fn query(self) -> SelectStatement {
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
struct CountChanges(std::collections::BTreeMap<(Counted, i64), i64>);

impl CountChanges {
    fn add(&mut self, kind: Counted, key: i64, delta: i64) -> &mut Self {
        *self.0.entry((kind, key)).or_default() += delta;
        self
    }

    /// Applies the changes in one statement, in key order (so that two transactions
    /// changing overlapping sets take their row locks in the same order and cannot
    /// deadlock), creating the rows of sets counted for the first time.
    async fn apply(&mut self, txn: &DatabaseTransaction) -> Result<(), StoreError> {
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

impl SqlStore {
    /// One page of the articles matching `cond`, newest first, with the total.
    async fn page(
        &self,
        cond: Condition,
        total: Total,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        let select = summaries()
            .cond_where(cond.clone())
            .order_by((articles::Entity, articles::Column::Id), Order::Desc)
            .limit(page.limit)
            .offset(page.offset)
            .take();
        let rows = self.db.query_all(&select).await.map_err(store_error)?;
        let rows = rows
            .iter()
            .map(|row| SummaryRow::from_query_result(row, ""))
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?;

        let total = self
            .db
            .query_one(&total.query())
            .await
            .map_err(store_error)?
            .map(|row| row.try_get::<i64>("", "total"))
            .transpose()
            .map_err(store_error)?
            .unwrap_or(0);

        Ok(ArticlePage {
            articles: hydrate(&self.db, rows, viewer).await?,
            total: count(total)?,
        })
    }
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

/// Links `tags` to `article` in the given order, creating the tags that do not exist yet.
/// Returns the ids of the tags linked (each once).
async fn link_tags(
    txn: &DatabaseTransaction,
    article: i64,
    tags: &[TagName],
) -> Result<Vec<i64>, StoreError> {
    let mut names: Vec<&str> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !names.contains(&tag.as_str()) {
            names.push(tag.as_str());
        }
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }

    // Inserted in sorted order so that two transactions creating overlapping tag sets
    // wait on each other's new tags in the same order instead of deadlocking.
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut upsert = Query::insert();
    upsert
        .into_table(tags::Entity)
        .columns([tags::Column::Name])
        .on_conflict(
            OnConflict::column(tags::Column::Name)
                .do_nothing()
                .to_owned(),
        );
    for name in &sorted {
        upsert.values([(*name).into()]).map_err(build_error)?;
    }
    txn.execute(&upsert).await.map_err(store_error)?;

    let ids: HashMap<String, i64> = tags::Entity::find()
        .select_only()
        .column(tags::Column::Name)
        .column(tags::Column::Id)
        .filter(tags::Column::Name.is_in(sorted))
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect();

    let mut link = Query::insert();
    link.into_table(article_tags::Entity).columns([
        article_tags::Column::ArticleId,
        article_tags::Column::TagId,
        article_tags::Column::Position,
    ]);
    let mut linked = Vec::with_capacity(names.len());
    for (position, name) in names.iter().enumerate() {
        let tag = ids.get(*name).copied().ok_or_else(|| {
            StoreError::Unexpected(format!("tag {name:?} missing right after its upsert").into())
        })?;
        let position = i32::try_from(position).map_err(|e| StoreError::Unexpected(Box::new(e)))?;
        link.values([article.into(), tag.into(), position.into()])
            .map_err(build_error)?;
        linked.push(tag);
    }
    txn.execute(&link).await.map_err(store_error)?;
    Ok(linked)
}

/// Deletes the rows of `table` whose `column` is `article`, returning `returned` of each.
async fn delete_returning(
    txn: &DatabaseTransaction,
    table: impl sea_orm::sea_query::IntoTableRef,
    column: impl sea_orm::sea_query::IntoColumnRef,
    article: i64,
    returned: impl sea_orm::sea_query::IntoColumnRef + Clone,
) -> Result<Vec<i64>, StoreError> {
    let delete = Query::delete()
        .from_table(table)
        .and_where(Expr::col(column).eq(article))
        .returning_col(returned)
        .to_owned();
    txn.query_all(&delete)
        .await
        .map_err(store_error)?
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0).map_err(store_error))
        .collect()
}

#[async_trait]
impl ArticleStore for SqlStore {
    async fn create(&self, article: NewArticle) -> Result<ArticleId, StoreError> {
        let at = article.created_at.as_offset_date_time();
        let row = articles::ActiveModel {
            id: NotSet,
            slug: Set(article.slug.into_inner()),
            title: Set(article.title.into_inner()),
            description: Set(article.description.into_inner()),
            body: Set(article.body.into_inner()),
            author_id: Set(article.author_id.0),
            favorites_count: Set(0),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let txn = self.db.begin().await.map_err(store_error)?;
        let id = articles::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(store_error)?
            .last_insert_id;
        let mut counts = CountChanges::default();
        counts
            .add(Counted::All, 0, 1)
            .add(Counted::Author, article.author_id.0, 1);
        for tag in link_tags(&txn, id, &article.tags).await? {
            counts.add(Counted::Tag, tag, 1);
        }
        counts.apply(&txn).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(ArticleId(id))
    }

    async fn by_slug(&self, slug: &Slug) -> Result<Option<ArticleRef>, StoreError> {
        use articles::Column as A;
        let row = articles::Entity::find()
            .select_only()
            .columns([A::Id, A::Slug, A::Title, A::AuthorId, A::UpdatedAt])
            .filter(A::Slug.eq(slug.as_str()))
            .into_tuple::<(i64, String, String, i64, OffsetDateTime)>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(
            row.map(|(id, slug, title, author_id, updated_at)| ArticleRef {
                id: ArticleId(id),
                slug,
                title,
                author_id: UserId(author_id),
                updated_at: Timestamp::new(updated_at),
            }),
        )
    }

    async fn update(&self, id: ArticleId, changes: ArticleChanges) -> Result<bool, StoreError> {
        use articles::Column as A;
        let mut update = Query::update();
        update
            .table(articles::Entity)
            .value(A::UpdatedAt, changes.updated_at.as_offset_date_time())
            .and_where(Expr::col(A::Id).eq(id.0));
        if let Some(slug) = changes.slug {
            update.value(A::Slug, slug.into_inner());
        }
        if let Some(title) = changes.title {
            update.value(A::Title, title.into_inner());
        }
        if let Some(description) = changes.description {
            update.value(A::Description, description.into_inner());
        }
        if let Some(body) = changes.body {
            update.value(A::Body, body.into_inner());
        }

        let txn = self.db.begin().await.map_err(store_error)?;
        let updated = txn.execute(&update).await.map_err(store_error)?;
        if updated.rows_affected() == 0 {
            txn.rollback().await.map_err(store_error)?;
            return Ok(false);
        }
        if let Some(tags) = changes.tags {
            let mut counts = CountChanges::default();
            let unlinked = delete_returning(
                &txn,
                article_tags::Entity,
                article_tags::Column::ArticleId,
                id.0,
                article_tags::Column::TagId,
            )
            .await?;
            for tag in unlinked {
                counts.add(Counted::Tag, tag, -1);
            }
            for tag in link_tags(&txn, id.0, &tags).await? {
                counts.add(Counted::Tag, tag, 1);
            }
            counts.apply(&txn).await?;
        }
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            // Lock the article first: a favorite racing with the delete then waits (its
            // foreign key check) and fails, instead of adding a favorite the counts below
            // would miss. SQLite runs one writing transaction at a time anyway.
            let lock = Query::select()
                .column(articles::Column::Id)
                .from(articles::Entity)
                .and_where(Expr::col(articles::Column::Id).eq(id.0))
                .lock(sea_orm::sea_query::LockType::Update)
                .to_owned();
            txn.query_one(&lock).await.map_err(store_error)?;
        }
        // Favorites and tag links are deleted here rather than by ON DELETE CASCADE, so
        // that the counts know whose they were; comments go by the cascade.
        let fans = delete_returning(
            &txn,
            favorites::Entity,
            favorites::Column::ArticleId,
            id.0,
            favorites::Column::UserId,
        )
        .await?;
        let tags = delete_returning(
            &txn,
            article_tags::Entity,
            article_tags::Column::ArticleId,
            id.0,
            article_tags::Column::TagId,
        )
        .await?;
        let authors = delete_returning(
            &txn,
            articles::Entity,
            articles::Column::Id,
            id.0,
            articles::Column::AuthorId,
        )
        .await?;
        let Some(&author) = authors.first() else {
            txn.rollback().await.map_err(store_error)?;
            return Ok(false);
        };
        let mut counts = CountChanges::default();
        counts
            .add(Counted::All, 0, -1)
            .add(Counted::Author, author, -1);
        for fan in fans {
            counts.add(Counted::FavoritedBy, fan, -1);
        }
        for tag in tags {
            counts.add(Counted::Tag, tag, -1);
        }
        counts.apply(&txn).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn favorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError> {
        use favorites::Column as F;
        let insert = Query::insert()
            .into_table(favorites::Entity)
            .columns([F::UserId, F::ArticleId, F::CreatedAt])
            .values([user.0.into(), article.0.into(), now().into()])
            .map_err(build_error)?
            .on_conflict(
                OnConflict::columns([F::UserId, F::ArticleId])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        let txn = self.db.begin().await.map_err(store_error)?;
        let inserted = txn.execute(&insert).await.map_err(store_error)?;
        // Counting only a row this transaction really inserted is what keeps concurrent
        // favorites of the same pair from counting twice.
        if inserted.rows_affected() > 0 {
            count_favorite(&txn, user, article, 1).await?;
        }
        txn.commit().await.map_err(store_error)
    }

    async fn unfavorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let deleted = favorites::Entity::delete_many()
            .filter(favorites::Column::UserId.eq(user.0))
            .filter(favorites::Column::ArticleId.eq(article.0))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if deleted.rows_affected > 0 {
            count_favorite(&txn, user, article, -1).await?;
        }
        txn.commit().await.map_err(store_error)
    }
}

/// Counts a favorite of `article` by `user` that was just inserted (`delta` 1) or
/// deleted (−1): the article's `favorites_count`, added to in the database itself
/// (`favorites_count = favorites_count + delta`, so concurrent changes never overwrite
/// each other), and the user's favorited-articles count (ADR 0020).
async fn count_favorite(
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
        let Some(row) = self.db.query_one(&select).await.map_err(store_error)? else {
            return Ok(None);
        };
        let body: String = row.try_get("", "body").map_err(store_error)?;
        let summary = SummaryRow::from_query_result(&row, "").map_err(store_error)?;
        let summary = hydrate(&self.db, vec![summary], viewer).await?.pop();
        Ok(summary.map(|summary| ArticleView { summary, body }))
    }

    async fn list(
        &self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
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
        self.db
            .query_all(&select)
            .await
            .map_err(store_error)?
            .iter()
            .map(|row| row.try_get::<String>("", "name").map_err(store_error))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    use super::*;

    fn filter() -> ArticleFilter {
        ArticleFilter {
            tag: Some("rust".into()),
            author: Some("Jake".into()),
            favorited_by: Some("Ann".into()),
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
            tag: tag.map(str::to_owned),
            author: author.map(str::to_owned),
            favorited_by: fan.map(str::to_owned),
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
