//! Writing articles, their tags and favorites, with the counts they change.

use std::collections::HashMap;

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, StoreError, UserId,
    article::{ArticleChanges, ArticleRef, NewArticle, Slug, TagName},
    ports::ArticleStore,
    time::Timestamp,
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use time::OffsetDateTime;

use super::{
    super::{
        SqlStore,
        entity::{article_tags, articles, favorites, tags},
        error::store_error,
        rows::{build_error, now},
    },
    counts::{CountChanges, Counted, count_favorite},
};

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
        self.wrote().await;
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
        self.wrote().await;
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
        self.wrote().await;
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
        txn.commit().await.map_err(store_error)?;
        self.wrote().await;
        Ok(())
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
        txn.commit().await.map_err(store_error)?;
        self.wrote().await;
        Ok(())
    }
}
