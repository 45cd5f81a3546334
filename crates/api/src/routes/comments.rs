//! Comments on articles.

use conduit_app::Conduit;
use conduit_domain::{CommentId, Resource, api_key::Scope};
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::{
    ApiTags, CommentCreated, Deleted,
    operation::{ErrorCase, Operation},
};
use crate::{
    dto,
    exact::Field,
    parse,
    security::{OptionalAuth, UserAuth},
};

pub(crate) const GET_ARTICLE_COMMENTS: Operation =
    Operation::get("GetArticleComments", "/articles/{slug}/comments")
        .scope(OptionalAuth::SCOPE)
        .errors(super::articles::ARTICLE_READ_ERRORS);
crate::operation_errors!(ListCommentsErrors = GET_ARTICLE_COMMENTS);

pub(crate) const CREATE_ARTICLE_COMMENT: Operation =
    Operation::post("CreateArticleComment", "/articles/{slug}/comments")
        .scope(Scope::CommentsWrite)
        .json_body()
        .errors(&[
            ErrorCase::UNAUTHORIZED,
            ErrorCase::missing_scope(
                "The API key lacks the `comments:write` scope (`insufficient_scope`).",
            ),
            ErrorCase::ARTICLE_NOT_FOUND,
            ErrorCase::invalid(
                "The comment body is missing, blank, too long or not a string \
             (`validation_failed`, key `body`).",
                || parse::comment(Field::new(dto::NewComment { body: "".into() })).err(),
            ),
        ])
        .links(
            &[
                ("slug", "$request.path.slug"),
                ("id", "$response.body#/comment/id"),
            ],
            &[(&DELETE_ARTICLE_COMMENT, "Delete the new comment.")],
        );
crate::operation_errors!(AddCommentErrors = CREATE_ARTICLE_COMMENT);

pub(crate) const DELETE_ARTICLE_COMMENT: Operation =
    Operation::delete("DeleteArticleComment", "/articles/{slug}/comments/{id}")
        .scope(Scope::CommentsWrite)
        .errors(&[
            ErrorCase::UNAUTHORIZED,
            ErrorCase::forbidden(
                Resource::Comment,
                "The comment belongs to another user (`forbidden`, key `comment`), or the API key \
             lacks the `comments:write` scope (`insufficient_scope`).",
            ),
            ErrorCase::not_found(
                Resource::Comment,
                "No article has this slug (key `article`), it has no comment with this id (key \
             `comment`), or the id is not a number (key `resource`); code `not_found`.",
            ),
            ErrorCase::CONTRACT_422,
        ]);
crate::operation_errors!(DeleteCommentErrors = DELETE_ARTICLE_COMMENT);

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
        let user = auth.user(&self.app, CREATE_ARTICLE_COMMENT.scope).await?;
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
        let user = auth.user(&self.app, DELETE_ARTICLE_COMMENT.scope).await?;
        self.app
            .delete_comment(user, &slug.0, CommentId(id.0))
            .await?;
        Ok(Deleted::NoContent)
    }
}
