//! Comments on articles.

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, CommentId, StoreError, UserId,
    comment::{CommentRef, CommentView, NewComment},
    ports::CommentStore,
    time::Timestamp,
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    sea_query::{Condition, Expr, ExprTrait, Order, Query},
};
use time::OffsetDateTime;

use super::{
    SqlStore,
    entity::{comments, users},
    error::store_error,
    routed,
    rows::{Author, followed_among},
};

/// A comment with its author's public columns.
#[derive(Debug, FromQueryResult)]
struct CommentRow {
    id: i64,
    body: String,
    author_id: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    username: String,
    bio: Option<String>,
    image: Option<String>,
}

impl SqlStore {
    /// The comments matching `cond`, oldest first, as `viewer` sees them: two queries
    /// whatever their number.
    async fn comment_views(
        &self,
        cond: Condition,
        viewer: Option<UserId>,
    ) -> Result<Vec<CommentView>, StoreError> {
        use comments::Column as C;
        use users::Column as U;
        let select = Query::select()
            .columns(
                [C::Id, C::Body, C::AuthorId, C::CreatedAt, C::UpdatedAt]
                    .map(|c| (comments::Entity, c)),
            )
            .columns([U::Username, U::Bio, U::Image].map(|c| (users::Entity, c)))
            .from(comments::Entity)
            .inner_join(
                users::Entity,
                Expr::col((users::Entity, U::Id)).equals((comments::Entity, C::AuthorId)),
            )
            .cond_where(cond)
            .order_by((comments::Entity, C::Id), Order::Asc)
            .take();
        let (rows, followed) = routed!(self, |db| async {
            let rows = db
                .query_all(&select)
                .await
                .map_err(store_error)?
                .iter()
                .map(|row| CommentRow::from_query_result(row, ""))
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_error)?;
            let followed = followed_among(db, viewer, rows.iter().map(|r| r.author_id)).await?;
            Ok::<_, StoreError>((rows, followed))
        }
        .await)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let author = Author {
                    id: row.author_id,
                    username: row.username,
                    bio: row.bio,
                    image: row.image,
                };
                CommentView {
                    id: CommentId(row.id),
                    body: row.body,
                    created_at: Timestamp::new(row.created_at),
                    updated_at: Timestamp::new(row.updated_at),
                    author: author.profile(&followed),
                }
            })
            .collect())
    }
}

#[async_trait]
impl CommentStore for SqlStore {
    async fn add(&self, comment: NewComment) -> Result<CommentId, StoreError> {
        let at = comment.created_at.as_offset_date_time();
        let row = comments::ActiveModel {
            id: NotSet,
            article_id: Set(comment.article_id.0),
            author_id: Set(comment.author_id.0),
            body: Set(comment.body.into_inner()),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let inserted = comments::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        self.wrote().await;
        Ok(CommentId(inserted.last_insert_id))
    }

    async fn find(
        &self,
        article: ArticleId,
        id: CommentId,
    ) -> Result<Option<CommentRef>, StoreError> {
        use comments::Column as C;
        let row = comments::Entity::find()
            .select_only()
            .columns([C::Id, C::ArticleId, C::AuthorId])
            .filter(C::Id.eq(id.0))
            .filter(C::ArticleId.eq(article.0))
            .into_tuple::<(i64, i64, i64)>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(|(id, article_id, author_id)| CommentRef {
            id: CommentId(id),
            article_id: ArticleId(article_id),
            author_id: UserId(author_id),
        }))
    }

    async fn delete(&self, id: CommentId) -> Result<bool, StoreError> {
        let deleted = comments::Entity::delete_by_id(id.0)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        self.wrote().await;
        Ok(deleted.rows_affected > 0)
    }

    async fn comment(
        &self,
        id: CommentId,
        viewer: Option<UserId>,
    ) -> Result<Option<CommentView>, StoreError> {
        let cond =
            Condition::all().add(Expr::col((comments::Entity, comments::Column::Id)).eq(id.0));
        Ok(self.comment_views(cond, viewer).await?.pop())
    }

    async fn list(
        &self,
        article: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Vec<CommentView>, StoreError> {
        let cond = Condition::all()
            .add(Expr::col((comments::Entity, comments::Column::ArticleId)).eq(article.0));
        self.comment_views(cond, viewer).await
    }
}
