//! Comments on articles.

use conduit_app::Conduit;
use conduit_domain::CommentId;
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::{ApiTags, CommentCreated, Deleted};
use crate::{
    dto,
    error::ApiError,
    parse,
    security::{OptionalAuth, TokenAuth},
};

/// Comments on articles.
#[derive(Debug, Clone)]
pub struct CommentsApi {
    /// The application.
    pub app: Conduit,
}

#[OpenApi(tag = "ApiTags::Comments")]
impl CommentsApi {
    /// Get comments for an article
    ///
    /// Oldest first. Authentication is optional; with it, `author.following` is the
    /// caller's view.
    #[oai(
        path = "/articles/:slug/comments",
        method = "get",
        operation_id = "GetArticleComments"
    )]
    async fn list(
        &self,
        auth: OptionalAuth,
        /// Slug of the article.
        slug: Path<String>,
    ) -> Result<Json<dto::MultipleCommentsResponse>, ApiError> {
        let viewer = auth.viewer(&self.app)?;
        let comments = self.app.comments(&slug.0, viewer).await?;
        Ok(Json(dto::MultipleCommentsResponse {
            comments: comments.into_iter().map(Into::into).collect(),
        }))
    }

    /// Create a comment for an article
    ///
    /// Adds a comment by the caller.
    #[oai(
        path = "/articles/:slug/comments",
        method = "post",
        operation_id = "CreateArticleComment"
    )]
    async fn add(
        &self,
        auth: TokenAuth,
        /// Slug of the article.
        slug: Path<String>,
        body: Json<dto::NewCommentRequest>,
    ) -> Result<CommentCreated, ApiError> {
        let user = auth.user(&self.app)?;
        let text = parse::comment(body.0.comment).map_err(conduit_domain::Error::from)?;
        let comment = self.app.add_comment(user, &slug.0, text).await?;
        Ok(CommentCreated::Created(Json(dto::SingleCommentResponse {
            comment: comment.into(),
        })))
    }

    /// Delete a comment for an article
    ///
    /// Only the commenter may.
    #[oai(
        path = "/articles/:slug/comments/:id",
        method = "delete",
        operation_id = "DeleteArticleComment"
    )]
    async fn delete(
        &self,
        auth: TokenAuth,
        /// Slug of the article.
        slug: Path<String>,
        /// Id of the comment.
        id: Path<i64>,
    ) -> Result<Deleted, ApiError> {
        let user = auth.user(&self.app)?;
        self.app
            .delete_comment(user, &slug.0, CommentId(id.0))
            .await?;
        Ok(Deleted::NoContent)
    }
}
