//! Articles, the feed, and favorites.

use conduit_app::Conduit;
use conduit_domain::api_key::Scope;
use conduit_domain::article::{ArticleSelection, SentFilters};
use conduit_domain::cache::RenderedPage;
use conduit_domain::{Error, Invalid, Resource, UniqueField, ValidationErrors};
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    ApiTags, ArticleCreated, Deleted,
    operation::{ErrorCase, Operation},
    page,
};
use crate::{
    dto,
    exact::{Field, Mismatch},
    parse,
    rendered::{RenderedJson, RenderedListCache},
    security::{OptionalAuth, UserAuth},
};

/// 422 for paging out of range.
const PAGING_REFUSED: ErrorCase = ErrorCase::invalid(
    "`limit` or `offset` is out of range or not a number (`validation_failed`).",
    || super::paging(Some(0), None).err(),
);

/// 422 for the list: paging out of range, or a search text too long.
const LIST_REFUSED: ErrorCase = ErrorCase::invalid(
    "`limit` or `offset` is out of range or not a number, or `q` is longer than 200 \
     characters (`validation_failed`).",
    || super::paging(Some(0), None).err(),
);

/// 403 on changing or deleting an article.
const NOT_THE_AUTHOR: ErrorCase = ErrorCase::forbidden(
    Resource::Article,
    "The article belongs to another user (`forbidden`, key `article`), or the API key lacks \
     the `articles:write` scope (`insufficient_scope`).",
);

pub(crate) const GET_ARTICLES: Operation = Operation::get("GetArticles", "/articles")
    .scope(OptionalAuth::SCOPE)
    .errors(&[
        ErrorCase::UNAUTHORIZED_OPTIONAL,
        ErrorCase::FORBIDDEN_OPTIONAL,
        LIST_REFUSED,
    ]);
crate::operation_errors!(ListArticlesErrors = GET_ARTICLES);

pub(crate) const GET_ARTICLES_FEED: Operation = Operation::get("GetArticlesFeed", "/articles/feed")
    .scope(Scope::UserRead)
    .errors(&[
        ErrorCase::UNAUTHORIZED,
        ErrorCase::MISSING_USER_READ,
        PAGING_REFUSED,
    ]);
crate::operation_errors!(FeedErrors = GET_ARTICLES_FEED);

pub(crate) const CREATE_ARTICLE: Operation = Operation::post("CreateArticle", "/articles")
    .scope(Scope::ArticlesWrite)
    .json_body()
    .errors(&[
        ErrorCase::UNAUTHORIZED,
        ErrorCase::missing_scope(
            "The API key lacks the `articles:write` scope (`insufficient_scope`).",
        ),
        ErrorCase::taken(
            UniqueField::Slug,
            "No free slug could be found for this title after several attempts (`conflict`, \
             key `slug`); retry.",
        ),
        ErrorCase::invalid(
            "A field is missing, blank, too long or not of its documented JSON type, or the \
             tag list is too long (`validation_failed`).",
            || {
                parse::create_article(Field::new(dto::NewArticle {
                    title: "".into(),
                    description: "Ever wonder how?".into(),
                    body: Field::refused(Mismatch::Type("a string")),
                    tag_list: None,
                }))
                .err()
            },
        ),
    ])
    // Not to `UpdateArticle`: a new title gives a new slug, so later links would name
    // nothing.
    .links(
        &[("slug", "$response.body#/article/slug")],
        &[
            (&GET_ARTICLE, "Read the new article."),
            (&DELETE_ARTICLE, "Delete the new article."),
            (&CREATE_ARTICLE_FAVORITE, "Favorite the new article."),
            (&DELETE_ARTICLE_FAVORITE, "Unfavorite the new article."),
            (
                &super::comments::GET_ARTICLE_COMMENTS,
                "List the new article's comments.",
            ),
            (
                &super::comments::CREATE_ARTICLE_COMMENT,
                "Comment on the new article.",
            ),
        ],
    );
crate::operation_errors!(CreateArticleErrors = CREATE_ARTICLE);

/// The errors of reading an article or its comments.
pub(super) const ARTICLE_READ_ERRORS: &[ErrorCase] = &[
    ErrorCase::UNAUTHORIZED_OPTIONAL,
    ErrorCase::FORBIDDEN_OPTIONAL,
    ErrorCase::ARTICLE_NOT_FOUND,
    ErrorCase::CONTRACT_422,
];

pub(crate) const GET_ARTICLE: Operation = Operation::get("GetArticle", "/articles/{slug}")
    .scope(OptionalAuth::SCOPE)
    .errors(ARTICLE_READ_ERRORS);
crate::operation_errors!(GetArticleErrors = GET_ARTICLE);

pub(crate) const UPDATE_ARTICLE: Operation = Operation::put("UpdateArticle", "/articles/{slug}")
    .scope(Scope::ArticlesWrite)
    .json_body()
    .errors(&[
        ErrorCase::UNAUTHORIZED,
        NOT_THE_AUTHOR,
        ErrorCase::ARTICLE_NOT_FOUND,
        ErrorCase::taken(
            UniqueField::Slug,
            "No free slug could be found for the new title (`conflict`, key `slug`); retry.",
        ),
        ErrorCase::invalid(
            "A field is blank, null, too long or not of its documented JSON type \
             (`validation_failed`).",
            || Some(ValidationErrors::single("tagList", Invalid::Null)),
        ),
    ]);
crate::operation_errors!(UpdateArticleErrors = UPDATE_ARTICLE);

pub(crate) const DELETE_ARTICLE: Operation = Operation::delete("DeleteArticle", "/articles/{slug}")
    .scope(Scope::ArticlesWrite)
    .errors(&[
        ErrorCase::UNAUTHORIZED,
        NOT_THE_AUTHOR,
        ErrorCase::ARTICLE_NOT_FOUND,
        ErrorCase::CONTRACT_422,
    ]);
crate::operation_errors!(DeleteArticleErrors = DELETE_ARTICLE);

/// The errors of favoriting and unfavoriting.
const FAVORITE_ERRORS: &[ErrorCase] = &[
    ErrorCase::UNAUTHORIZED,
    ErrorCase::missing_scope(
        "The API key lacks the `favorites:write` scope (`insufficient_scope`).",
    ),
    ErrorCase::ARTICLE_NOT_FOUND,
    ErrorCase::CONTRACT_422,
];

pub(crate) const CREATE_ARTICLE_FAVORITE: Operation =
    Operation::post("CreateArticleFavorite", "/articles/{slug}/favorite")
        .scope(Scope::FavoritesWrite)
        .errors(FAVORITE_ERRORS);
crate::operation_errors!(FavoriteErrors = CREATE_ARTICLE_FAVORITE);

pub(crate) const DELETE_ARTICLE_FAVORITE: Operation =
    Operation::delete("DeleteArticleFavorite", "/articles/{slug}/favorite")
        .scope(Scope::FavoritesWrite)
        .errors(FAVORITE_ERRORS);
crate::operation_errors!(UnfavoriteErrors = DELETE_ARTICLE_FAVORITE);

/// Articles, the feed, and favorites.
#[derive(Debug, Clone)]
pub struct ArticlesApi {
    /// The application.
    pub app: Conduit,
    /// Rendered list pages, when the read cache is on (ADR 0019).
    pub rendered: Option<std::sync::Arc<dyn RenderedListCache>>,
}

/// Names the JSON of `GET /articles` and `GET /articles/feed` (one shape) in the
/// rendered-list cache: change it whenever that body's shape changes (with the package version, so a release that changes it
/// never reads an older release's pages).
const LIST_REPRESENTATION: &str = concat!("json1-", env!("CARGO_PKG_VERSION"));

/// A list page as the rendered-list cache keeps it: the encoded body and the articles
/// it shows.
fn rendered_page(found: conduit_domain::article::ArticlePage) -> RenderedPage {
    let shows = found.articles.iter().map(|article| article.id).collect();
    RenderedPage {
        bytes: RenderedJson::encode(&dto::MultipleArticlesResponse::from(found)),
        shows,
    }
}

fn single(view: conduit_domain::article::ArticleView) -> Json<dto::SingleArticleResponse> {
    Json(view.into())
}

#[OpenApi]
impl ArticlesApi {
    /// Get recent articles globally
    ///
    /// Most recent first; with `q`, most relevant first. Filters combine: `tag`,
    /// `author` (username), `favorited` (username of a user who favorited them) and `q`;
    /// unknown values match nothing.
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
        /// Full-text search over title, description and body, at most 200 characters:
        /// whole words, case-insensitive, every word required; punctuation and operators
        /// only separate words. Ranked by relevance (title above description above body),
        /// then newest first. A search considers the newest 1,000 matching articles:
        /// `articlesCount` is then at most 1,000 and pages past it are empty; more words
        /// or another filter reach older articles.
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
            Ok::<_, conduit_domain::Error>(rendered_page(found))
        };
        let bytes = match &self.rendered {
            Some(rendered) => {
                rendered
                    .read_through(
                        LIST_REPRESENTATION,
                        &filter,
                        page,
                        viewer,
                        Box::pin(render()),
                    )
                    .await?
            }
            None => render().await?.bytes,
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
    ) -> Result<RenderedJson<dto::MultipleArticlesResponse>, FeedErrors> {
        let user = auth.user(&self.app, GET_ARTICLES_FEED.scope).await?;
        let page = page(limit.0, offset.0)?;
        let render = || async {
            let found = self.app.feed(user, page).await?;
            Ok::<_, conduit_domain::Error>(rendered_page(found))
        };
        let bytes = match &self.rendered {
            Some(rendered) => {
                rendered
                    .read_through_feed(LIST_REPRESENTATION, user, page, Box::pin(render()))
                    .await?
            }
            None => render().await?.bytes,
        };
        Ok(RenderedJson::from_encoded(bytes))
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
        let user = auth.user(&self.app, CREATE_ARTICLE.scope).await?;
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
        let user = auth.user(&self.app, UPDATE_ARTICLE.scope).await?;
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
        let user = auth.user(&self.app, DELETE_ARTICLE.scope).await?;
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
        let user = auth.user(&self.app, CREATE_ARTICLE_FAVORITE.scope).await?;
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
    ) -> Result<Json<dto::SingleArticleResponse>, UnfavoriteErrors> {
        let user = auth.user(&self.app, DELETE_ARTICLE_FAVORITE.scope).await?;
        Ok(single(self.app.unfavorite(user, &slug.0).await?))
    }
}
