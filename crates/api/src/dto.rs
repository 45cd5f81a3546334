//! Request and response bodies, exactly as the RealWorld contract names them.

use conduit_app::Authenticated;
use conduit_domain::{
    article::{ArticlePage, ArticleSummary, ArticleView},
    comment::CommentView,
    user::Profile as DomainProfile,
};
use poem_openapi::{Object, types::MaybeUndefined};

// ---- users -------------------------------------------------------------------------

/// Credentials for `POST /users/login`.
#[derive(Debug, Object)]
#[oai(rename = "LoginUser")]
pub struct LoginUser {
    /// Email address of the account (any case).
    pub email: String,
    /// Password.
    pub password: String,
}

/// Body of `POST /users/login`.
#[derive(Debug, Object)]
pub struct LoginUserRequest {
    /// The credentials.
    pub user: LoginUser,
}

/// A new account for `POST /users`.
#[derive(Debug, Object)]
pub struct NewUser {
    /// Unique username: 1 to 64 of letters, digits, `_`, `-`, `.`.
    pub username: String,
    /// Unique email address.
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
}

/// Body of `POST /users`.
#[derive(Debug, Object)]
pub struct NewUserRequest {
    /// The new account.
    pub user: NewUser,
}

/// Changes for `PUT /user`. Absent fields stay as they are. `bio` and `image` may be
/// `null` or `""` to clear them; the other fields may not be `null`.
#[derive(Debug, Object)]
pub struct UpdateUser {
    /// New email address.
    pub email: MaybeUndefined<String>,
    /// New password (8 to 128 characters).
    pub password: MaybeUndefined<String>,
    /// New username.
    pub username: MaybeUndefined<String>,
    /// New bio; `null` or `""` clears it.
    #[oai(nullable)]
    pub bio: MaybeUndefined<String>,
    /// New image URL; `null` or `""` clears it.
    #[oai(nullable)]
    pub image: MaybeUndefined<String>,
}

/// Body of `PUT /user`.
#[derive(Debug, Object)]
pub struct UpdateUserRequest {
    /// The changes.
    pub user: UpdateUser,
}

/// The signed-in user.
#[derive(Debug, Object)]
pub struct User {
    /// Email address.
    pub email: String,
    /// Access token: send it as `Authorization: Token <token>`.
    pub token: String,
    /// Username.
    pub username: String,
    /// Bio, or `null`.
    #[oai(nullable)]
    pub bio: Option<String>,
    /// Image URL, or `null`.
    #[oai(nullable)]
    pub image: Option<String>,
}

/// Body of responses carrying the signed-in user.
#[derive(Debug, Object)]
pub struct UserResponse {
    /// The user.
    pub user: User,
}

impl From<Authenticated> for UserResponse {
    fn from(auth: Authenticated) -> Self {
        UserResponse {
            user: User {
                email: auth.user.email,
                token: auth.token,
                username: auth.user.username,
                bio: auth.user.bio,
                image: auth.user.image,
            },
        }
    }
}

// ---- profiles ----------------------------------------------------------------------

/// A user's public profile, as the caller sees it.
#[derive(Debug, Object)]
pub struct Profile {
    /// Username.
    pub username: String,
    /// Bio, or `null`.
    #[oai(nullable)]
    pub bio: Option<String>,
    /// Image URL, or `null`.
    #[oai(nullable)]
    pub image: Option<String>,
    /// Whether the caller follows this user (`false` when anonymous).
    pub following: bool,
}

impl From<DomainProfile> for Profile {
    fn from(p: DomainProfile) -> Self {
        Profile {
            username: p.username,
            bio: p.bio,
            image: p.image,
            following: p.following,
        }
    }
}

/// Body of responses carrying a profile.
#[derive(Debug, Object)]
pub struct ProfileResponse {
    /// The profile.
    pub profile: Profile,
}

// ---- articles ----------------------------------------------------------------------

/// A new article for `POST /articles`.
#[derive(Debug, Object)]
pub struct NewArticle {
    /// Title (1 to 255 characters); the slug is derived from it.
    pub title: String,
    /// One-line summary (1 to 1000 characters).
    pub description: String,
    /// Markdown body (1 to 100,000 characters).
    pub body: String,
    /// Up to 20 tags of 1 to 64 characters; duplicates are dropped, order is kept.
    #[oai(rename = "tagList")]
    pub tag_list: Option<Vec<String>>,
}

/// Body of `POST /articles`.
#[derive(Debug, Object)]
pub struct NewArticleRequest {
    /// The article.
    pub article: NewArticle,
}

/// Changes for `PUT /articles/{slug}`. Absent fields stay as they are; none may be
/// `null`. A new title gives a new slug. `tagList` replaces the tags (`[]` removes all).
#[derive(Debug, Object)]
pub struct UpdateArticle {
    /// New title.
    pub title: MaybeUndefined<String>,
    /// New description.
    pub description: MaybeUndefined<String>,
    /// New body.
    pub body: MaybeUndefined<String>,
    /// New tags.
    #[oai(rename = "tagList")]
    pub tag_list: MaybeUndefined<Vec<String>>,
}

/// Body of `PUT /articles/{slug}`.
#[derive(Debug, Object)]
pub struct UpdateArticleRequest {
    /// The changes.
    pub article: UpdateArticle,
}

/// A whole article.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Article {
    /// URL identifier.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub description: String,
    /// Markdown body.
    pub body: String,
    /// Tags, in the author's order.
    pub tag_list: Vec<String>,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change, RFC 3339 UTC with milliseconds.
    pub updated_at: String,
    /// Whether the caller has favorited it.
    pub favorited: bool,
    /// How many users have favorited it.
    pub favorites_count: u64,
    /// The author, as the caller sees them.
    pub author: Profile,
}

/// An article in a list: everything but the body.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ArticleListItem {
    /// URL identifier.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub description: String,
    /// Tags, in the author's order.
    pub tag_list: Vec<String>,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change, RFC 3339 UTC with milliseconds.
    pub updated_at: String,
    /// Whether the caller has favorited it.
    pub favorited: bool,
    /// How many users have favorited it.
    pub favorites_count: u64,
    /// The author, as the caller sees them.
    pub author: Profile,
}

impl From<ArticleSummary> for ArticleListItem {
    fn from(a: ArticleSummary) -> Self {
        ArticleListItem {
            slug: a.slug,
            title: a.title,
            description: a.description,
            tag_list: a.tags,
            created_at: a.created_at.to_rfc3339_millis(),
            updated_at: a.updated_at.to_rfc3339_millis(),
            favorited: a.favorited,
            favorites_count: a.favorites_count,
            author: a.author.into(),
        }
    }
}

impl From<ArticleView> for Article {
    fn from(view: ArticleView) -> Self {
        let item = ArticleListItem::from(view.summary);
        Article {
            slug: item.slug,
            title: item.title,
            description: item.description,
            body: view.body,
            tag_list: item.tag_list,
            created_at: item.created_at,
            updated_at: item.updated_at,
            favorited: item.favorited,
            favorites_count: item.favorites_count,
            author: item.author,
        }
    }
}

/// Body of responses carrying one article.
#[derive(Debug, Object)]
pub struct SingleArticleResponse {
    /// The article.
    pub article: Article,
}

impl From<ArticleView> for SingleArticleResponse {
    fn from(view: ArticleView) -> Self {
        SingleArticleResponse {
            article: view.into(),
        }
    }
}

/// A page of articles.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct MultipleArticlesResponse {
    /// The page, most recent first.
    pub articles: Vec<ArticleListItem>,
    /// How many articles match, across all pages.
    pub articles_count: u64,
}

impl From<ArticlePage> for MultipleArticlesResponse {
    fn from(page: ArticlePage) -> Self {
        MultipleArticlesResponse {
            articles: page.articles.into_iter().map(Into::into).collect(),
            articles_count: page.total,
        }
    }
}

/// Body of `GET /tags`.
#[derive(Debug, Object)]
pub struct TagsResponse {
    /// Tags in use, most used first.
    pub tags: Vec<String>,
}

// ---- comments ----------------------------------------------------------------------

/// A new comment.
#[derive(Debug, Object)]
pub struct NewComment {
    /// Text (1 to 10,000 characters).
    pub body: String,
}

/// Body of `POST /articles/{slug}/comments`.
#[derive(Debug, Object)]
pub struct NewCommentRequest {
    /// The comment.
    pub comment: NewComment,
}

/// A comment.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Comment {
    /// Id, used to delete it.
    pub id: i64,
    /// Creation time, RFC 3339 UTC with milliseconds.
    pub created_at: String,
    /// Last change, RFC 3339 UTC with milliseconds.
    pub updated_at: String,
    /// Text.
    pub body: String,
    /// The commenter, as the caller sees them.
    pub author: Profile,
}

impl From<CommentView> for Comment {
    fn from(c: CommentView) -> Self {
        Comment {
            id: c.id.0,
            created_at: c.created_at.to_rfc3339_millis(),
            updated_at: c.updated_at.to_rfc3339_millis(),
            body: c.body,
            author: c.author.into(),
        }
    }
}

/// Body of responses carrying one comment.
#[derive(Debug, Object)]
pub struct SingleCommentResponse {
    /// The comment.
    pub comment: Comment,
}

/// Body of `GET /articles/{slug}/comments`.
#[derive(Debug, Object)]
pub struct MultipleCommentsResponse {
    /// The comments, oldest first.
    pub comments: Vec<Comment>,
}
