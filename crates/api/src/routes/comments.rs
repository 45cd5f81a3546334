//! Comments on articles.

use conduit_app::Conduit;
use conduit_domain::CommentId;
use conduit_domain::api_key::Scope;
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::{ApiTags, CommentCreated, Deleted};
use crate::{
    dto, parse,
    security::{OptionalAuth, UserAuth},
};

crate::operation_errors!(
    /// Errors of `GET /articles/{slug}/comments`.
    ListCommentsErrors {
        Unauthorized = 401: "Credentials were sent and are invalid (`token_invalid`, `api_key_invalid`); send none for the anonymous view.",
        Forbidden = 403: "An API key without the `user:read` scope (`insufficient_scope`); send none for the anonymous view.",
        NotFound = 404: "No article has this slug (`not_found`, key `article`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

crate::operation_errors!(
    /// Errors of `POST /articles/{slug}/comments`.
    AddCommentErrors with_body {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The API key lacks the `comments:write` scope (`insufficient_scope`).",
        NotFound = 404: "No article has this slug (`not_found`, key `article`).",
        Unprocessable = 422: "The comment body is missing, blank, too long or not a string (`validation_failed`, key `body`).",
    }
);

crate::operation_errors!(
    /// Errors of `DELETE /articles/{slug}/comments/{id}`.
    DeleteCommentErrors {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The comment belongs to another user (`forbidden`, key `comment`), or the API key lacks the `comments:write` scope (`insufficient_scope`).",
        NotFound = 404: "No article has this slug (key `article`), it has no comment with this id (key `comment`), or the id is not a number (key `resource`); code `not_found`.",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

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
    ) -> Result<Json<dto::MultipleCommentsResponse>, ListCommentsErrors> {
        let viewer = auth.viewer(&self.app).await?;
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
        auth: UserAuth,
        /// Slug of the article.
        slug: Path<String>,
        body: Json<dto::NewCommentRequest>,
    ) -> Result<CommentCreated, AddCommentErrors> {
        let user = auth.user(&self.app, Scope::CommentsWrite).await?;
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
        auth: UserAuth,
        /// Slug of the article.
        slug: Path<String>,
        /// Id of the comment.
        id: Path<i64>,
    ) -> Result<Deleted, DeleteCommentErrors> {
        let user = auth.user(&self.app, Scope::CommentsWrite).await?;
        self.app
            .delete_comment(user, &slug.0, CommentId(id.0))
            .await?;
        Ok(Deleted::NoContent)
    }
}
