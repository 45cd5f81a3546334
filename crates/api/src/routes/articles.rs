//! Articles, the feed, and favorites.

use conduit_app::Conduit;
use conduit_domain::api_key::Scope;
use conduit_domain::article::{ArticleSelection, SentFilters};
use conduit_domain::{Error, ValidationErrors};
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};

use conduit_adapters::cached::RenderedLists;

use super::{ApiTags, ArticleCreated, Deleted, page};
use crate::{
    dto, parse,
    rendered::RenderedJson,
    security::{OptionalAuth, UserAuth},
};

crate::operation_errors!(
    /// Errors of `GET /articles`.
    ListArticlesErrors {
        Unauthorized = 401: "Credentials were sent and are invalid (`token_invalid`, `api_key_invalid`); send none for the anonymous view.",
        Forbidden = 403: "An API key without the `user:read` scope (`insufficient_scope`); send none for the anonymous view.",
        Unprocessable = 422: "`limit` or `offset` is out of range or not a number (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `GET /articles/feed`.
    FeedErrors {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The API key lacks the `user:read` scope (`insufficient_scope`).",
        Unprocessable = 422: "`limit` or `offset` is out of range or not a number (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `POST /articles`.
    CreateArticleErrors with_body {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The API key lacks the `articles:write` scope (`insufficient_scope`).",
        Conflict = 409: "No free slug could be found for this title after several attempts (`conflict`, key `slug`); retry.",
        Unprocessable = 422: "A field is missing, blank, too long or not of its documented JSON type, or the tag list is too long (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `GET /articles/{slug}`.
    GetArticleErrors {
        Unauthorized = 401: "Credentials were sent and are invalid (`token_invalid`, `api_key_invalid`); send none for the anonymous view.",
        Forbidden = 403: "An API key without the `user:read` scope (`insufficient_scope`); send none for the anonymous view.",
        NotFound = 404: "No article has this slug (`not_found`, key `article`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

crate::operation_errors!(
    /// Errors of `PUT /articles/{slug}`.
    UpdateArticleErrors with_body {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The article belongs to another user (`forbidden`, key `article`), or the API key lacks the `articles:write` scope (`insufficient_scope`).",
        NotFound = 404: "No article has this slug (`not_found`, key `article`).",
        Conflict = 409: "No free slug could be found for the new title (`conflict`, key `slug`); retry.",
        Unprocessable = 422: "A field is blank, null, too long or not of its documented JSON type (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `DELETE /articles/{slug}`.
    DeleteArticleErrors {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The article belongs to another user (`forbidden`, key `article`), or the API key lacks the `articles:write` scope (`insufficient_scope`).",
        NotFound = 404: "No article has this slug (`not_found`, key `article`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

crate::operation_errors!(
    /// Errors of favoriting and unfavoriting.
    FavoriteErrors {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The API key lacks the `favorites:write` scope (`insufficient_scope`).",
        NotFound = 404: "No article has this slug (`not_found`, key `article`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

/// Articles, the feed, and favorites.
#[derive(Debug, Clone)]
pub struct ArticlesApi {
    /// The application.
    pub app: Conduit,
    /// Rendered list pages, when the read cache is on (ADR 0019).
    pub rendered: Option<RenderedLists>,
}

/// Names the JSON of `GET /articles` in the rendered-list cache: change it whenever
/// that body's shape changes (with the package version, so a release that changes it
/// never reads an older release's pages).
const LIST_REPRESENTATION: &str = concat!("json1-", env!("CARGO_PKG_VERSION"));

fn single(view: conduit_domain::article::ArticleView) -> Json<dto::SingleArticleResponse> {
    Json(view.into())
}

#[OpenApi]
impl ArticlesApi {
    /// Get recent articles globally
    ///
    /// Most recent first. Filters combine: `tag`, `author` (username) and `favorited`
    /// (username of a user who favorited them); unknown values match nothing.
    /// Authentication is optional; with it, `favorited` and `author.following` are the
    /// caller's view. List items carry no `body`.
    #[oai(
        path = "/articles",
        method = "get",
        operation_id = "GetArticles",
        tag = "ApiTags::Articles"
    )]
    // poem-openapi takes each query parameter as an argument of its own.
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: OptionalAuth,
        /// Filter by tag.
        tag: Query<Option<String>>,
        /// Filter by author (username).
        author: Query<Option<String>>,
        /// Filter by favorites of a user (username).
        favorited: Query<Option<String>>,
        /// Full-text search over title, description and body; results ranked by relevance.
        q: Query<Option<String>>,
        /// The number of items to skip (0 to 1,000,000; default 0).
        offset: Query<Option<i64>>,
        /// The number of items to return (1 to 100; default 20).
        limit: Query<Option<i64>>,
    ) -> Result<RenderedJson<dto::MultipleArticlesResponse>, ListArticlesErrors> {
        let viewer = auth.viewer(&self.app).await?;
        let page = page(limit.0, offset.0)?;
        let filter = ArticleSelection::from_sent(SentFilters {
            tag: tag.0.as_deref(),
            author: author.0.as_deref(),
            favorited_by: favorited.0.as_deref(),
            search: q.0.as_deref(),
        })
        .map_err(|invalid| Error::Validation(ValidationErrors::single("q", invalid)))?;
        let render = || async {
            let found = self.app.list_articles(filter.clone(), page, viewer).await?;
            Ok::<_, conduit_domain::Error>(RenderedJson::encode(
                &dto::MultipleArticlesResponse::from(found),
            ))
        };
        let bytes = match &self.rendered {
            Some(rendered) => {
                rendered
                    .read_through(LIST_REPRESENTATION, &filter, page, viewer, render)
                    .await?
            }
            None => render().await?,
        };
        Ok(RenderedJson::from_encoded(bytes))
    }

    /// Get recent articles from users you follow
    ///
    /// Articles by the users the caller follows, most recent first.
    #[oai(
        path = "/articles/feed",
        method = "get",
        operation_id = "GetArticlesFeed",
        tag = "ApiTags::Articles"
    )]
    async fn feed(
        &self,
        auth: UserAuth,
        /// The number of items to skip (0 to 1,000,000; default 0).
        offset: Query<Option<i64>>,
        /// The number of items to return (1 to 100; default 20).
        limit: Query<Option<i64>>,
    ) -> Result<Json<dto::MultipleArticlesResponse>, FeedErrors> {
        let user = auth.user(&self.app, Scope::UserRead).await?;
        let page = page(limit.0, offset.0)?;
        Ok(Json(self.app.feed(user, page).await?.into()))
    }

    /// Create an article
    ///
    /// Publishes an article by the caller. The slug is derived from the title; a title
    /// already used gets a slug with a random suffix.
    #[oai(
        path = "/articles",
        method = "post",
        operation_id = "CreateArticle",
        tag = "ApiTags::Articles"
    )]
    async fn create(
        &self,
        auth: UserAuth,
        body: Json<dto::NewArticleRequest>,
    ) -> Result<ArticleCreated, CreateArticleErrors> {
        let user = auth.user(&self.app, Scope::ArticlesWrite).await?;
        let input = parse::create_article(body.0.article).map_err(conduit_domain::Error::from)?;
        let view = self.app.create_article(user, input).await?;
        Ok(ArticleCreated::Created(single(view)))
    }

    /// Get an article
    ///
    /// One whole article. Authentication is optional; with it, `favorited` and
    /// `author.following` are the caller's view.
    #[oai(
        path = "/articles/:slug",
        method = "get",
        operation_id = "GetArticle",
        tag = "ApiTags::Articles"
    )]
    async fn get(
        &self,
        auth: OptionalAuth,
        /// Slug of the article.
        slug: Path<String>,
    ) -> Result<Json<dto::SingleArticleResponse>, GetArticleErrors> {
        let viewer = auth.viewer(&self.app).await?;
        Ok(single(self.app.article(&slug.0, viewer).await?))
    }

    /// Update an article
    ///
    /// Only the author may. Absent fields stay as they are; a new title gives a new slug;
    /// `tagList` replaces the tags (`[]` removes them all, `null` is refused).
    #[oai(
        path = "/articles/:slug",
        method = "put",
        operation_id = "UpdateArticle",
        tag = "ApiTags::Articles"
    )]
    async fn update(
        &self,
        auth: UserAuth,
        /// Slug of the article.
        slug: Path<String>,
        body: Json<dto::UpdateArticleRequest>,
    ) -> Result<Json<dto::SingleArticleResponse>, UpdateArticleErrors> {
        let user = auth.user(&self.app, Scope::ArticlesWrite).await?;
        let input = parse::update_article(body.0.article).map_err(conduit_domain::Error::from)?;
        Ok(single(self.app.update_article(user, &slug.0, input).await?))
    }

    /// Delete an article
    ///
    /// Only the author may. Its comments and favorites go with it.
    #[oai(
        path = "/articles/:slug",
        method = "delete",
        operation_id = "DeleteArticle",
        tag = "ApiTags::Articles"
    )]
    async fn delete(
        &self,
        auth: UserAuth,
        /// Slug of the article.
        slug: Path<String>,
    ) -> Result<Deleted, DeleteArticleErrors> {
        let user = auth.user(&self.app, Scope::ArticlesWrite).await?;
        self.app.delete_article(user, &slug.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Favorite an article
    ///
    /// Idempotent: favoriting twice counts once.
    #[oai(
        path = "/articles/:slug/favorite",
        method = "post",
        operation_id = "CreateArticleFavorite",
        tag = "ApiTags::Favorites"
    )]
    async fn favorite(
        &self,
        auth: UserAuth,
        /// Slug of the article.
        slug: Path<String>,
    ) -> Result<Json<dto::SingleArticleResponse>, FavoriteErrors> {
        let user = auth.user(&self.app, Scope::FavoritesWrite).await?;
        Ok(single(self.app.favorite(user, &slug.0).await?))
    }

    /// Unfavorite an article
    ///
    /// Idempotent: unfavoriting an article not favorited is not an error.
    #[oai(
        path = "/articles/:slug/favorite",
        method = "delete",
        operation_id = "DeleteArticleFavorite",
        tag = "ApiTags::Favorites"
    )]
    async fn unfavorite(
        &self,
        auth: UserAuth,
        /// Slug of the article.
        slug: Path<String>,
    ) -> Result<Json<dto::SingleArticleResponse>, FavoriteErrors> {
        let user = auth.user(&self.app, Scope::FavoritesWrite).await?;
        Ok(single(self.app.unfavorite(user, &slug.0).await?))
    }
}
