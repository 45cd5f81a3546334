//! Request and response bodies, exactly as the RealWorld contract names them.

use conduit_app::Authenticated;
use conduit_domain::{
    article::{ArticlePage, ArticleSummary, ArticleView},
    comment::CommentView,
    user::Profile as DomainProfile,
};
use poem_openapi::{
    Object,
    types::{Example, MaybeUndefined},
};

use crate::exact::{Field, Text};

// ---- users -------------------------------------------------------------------------

/// Credentials for `POST /users/login`.
#[derive(Debug, Object)]
#[oai(rename = "LoginUser")]
pub struct LoginUser {
    /// Email address of the account (any case).
    pub email: Field<Text>,
    /// Password.
    pub password: Field<Text>,
}

/// Body of `POST /users/login`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LoginUserRequest {
    /// The credentials.
    pub user: Field<LoginUser>,
}

/// A new account for `POST /users`.
#[derive(Debug, Object)]
pub struct NewUser {
    /// Unique username: 1 to 64 of letters, digits, `_`, `-`, `.`.
    pub username: Field<Text>,
    /// Unique email address.
    pub email: Field<Text>,
    /// 8 to 128 characters.
    pub password: Field<Text>,
}

/// Body of `POST /users`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct NewUserRequest {
    /// The new account.
    pub user: Field<NewUser>,
}

/// Changes for `PUT /user`. Absent fields stay as they are. `bio` and `image` may be
/// `null` or `""` to clear them; the other fields may not be `null`.
#[derive(Debug, Object)]
pub struct UpdateUser {
    /// New email address.
    pub email: MaybeUndefined<Field<Text>>,
    /// New password (8 to 128 characters).
    pub password: MaybeUndefined<Field<Text>>,
    /// New username.
    pub username: MaybeUndefined<Field<Text>>,
    /// New bio; `null` or `""` clears it.
    #[oai(nullable)]
    pub bio: MaybeUndefined<Field<Text>>,
    /// New image URL; `null` or `""` clears it.
    #[oai(nullable)]
    pub image: MaybeUndefined<Field<Text>>,
}

/// Body of `PUT /user`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct UpdateUserRequest {
    /// The changes.
    pub user: Field<UpdateUser>,
}

/// The signed-in user.
#[derive(Debug, Object)]
pub struct User {
    /// Email address.
    pub email: String,
    /// Access token (a JWT, valid for 15 minutes by default): send it as
    /// `Authorization: Token <token>`.
    pub token: String,
    /// Username.
    pub username: String,
    /// Bio, or `null`.
    #[oai(nullable)]
    pub bio: Option<String>,
    /// Image URL, or `null`.
    #[oai(nullable)]
    pub image: Option<String>,
    /// Refresh token, only in the answers of registration, login and refresh: exchange it
    /// at `POST /auth/refresh` for new tokens. Single use; keep it secret.
    #[oai(rename = "refreshToken", skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
}

/// Body of responses carrying the signed-in user.
#[derive(Debug, Object)]
#[oai(example)]
pub struct UserResponse {
    /// The user.
    pub user: User,
}

impl UserResponse {
    /// The account as an API key caller sees it: `token` is the key it presented.
    pub fn for_api_key(user: conduit_domain::user::User, key: String) -> Self {
        UserResponse {
            user: User {
                email: user.email,
                token: key,
                username: user.username,
                bio: user.bio,
                image: user.image,
                refresh_token: None,
            },
        }
    }
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
                refresh_token: auth.refresh_token.map(|t| t.expose().to_owned()),
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
#[oai(example)]
pub struct ProfileResponse {
    /// The profile.
    pub profile: Profile,
}

// ---- articles ----------------------------------------------------------------------

/// A new article for `POST /articles`.
#[derive(Debug, Object)]
pub struct NewArticle {
    /// Title (1 to 255 characters); the slug is derived from it.
    pub title: Field<Text>,
    /// One-line summary (1 to 1000 characters).
    pub description: Field<Text>,
    /// Markdown body (1 to 100,000 characters).
    pub body: Field<Text>,
    /// Up to 20 tags of 1 to 64 characters; duplicates are dropped, order is kept.
    /// Absent or `null`: no tags.
    #[oai(rename = "tagList", nullable)]
    pub tag_list: Option<Field<Vec<Text>>>,
}

/// Body of `POST /articles`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct NewArticleRequest {
    /// The article.
    pub article: Field<NewArticle>,
}

/// Changes for `PUT /articles/{slug}`. Absent fields stay as they are; none may be
/// `null`. A new title gives a new slug. `tagList` replaces the tags (`[]` removes all).
#[derive(Debug, Object)]
pub struct UpdateArticle {
    /// New title.
    pub title: MaybeUndefined<Field<Text>>,
    /// New description.
    pub description: MaybeUndefined<Field<Text>>,
    /// New body.
    pub body: MaybeUndefined<Field<Text>>,
    /// New tags.
    #[oai(rename = "tagList")]
    pub tag_list: MaybeUndefined<Field<Vec<Text>>>,
}

/// Body of `PUT /articles/{slug}`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct UpdateArticleRequest {
    /// The changes.
    pub article: Field<UpdateArticle>,
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
#[oai(example)]
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
#[oai(example, rename_all = "camelCase")]
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
#[oai(example)]
pub struct TagsResponse {
    /// Tags in use, most used first.
    pub tags: Vec<String>,
}

// ---- comments ----------------------------------------------------------------------

/// A new comment.
#[derive(Debug, Object)]
pub struct NewComment {
    /// Text (1 to 10,000 characters).
    pub body: Field<Text>,
}

/// Body of `POST /articles/{slug}/comments`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct NewCommentRequest {
    /// The comment.
    pub comment: Field<NewComment>,
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
#[oai(example)]
pub struct SingleCommentResponse {
    /// The comment.
    pub comment: Comment,
}

/// Body of `GET /articles/{slug}/comments`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct MultipleCommentsResponse {
    /// The comments, oldest first.
    pub comments: Vec<Comment>,
}

// ---- sessions ----------------------------------------------------------------------

/// Body of `POST /auth/refresh`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct RefreshRequest {
    /// The refresh token from registration, login or the previous refresh. Leave it out
    /// (or send `null`) when the server keeps it in the `conduit_refresh` cookie.
    #[oai(rename = "refreshToken", nullable)]
    pub refresh_token: Option<Field<Text>>,
}

/// One sign-in of the caller.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct SessionDto {
    /// Id, used to end it.
    pub id: String,
    /// Sign-in time.
    pub created_at: String,
    /// Last refresh (or the sign-in).
    pub last_used_at: String,
    /// The session ends at this time whatever happens.
    pub expires_at: String,
    /// The `User-Agent` of the client that signed in, or `null`.
    #[oai(nullable)]
    pub user_agent: Option<String>,
    /// Whether the caller's access token belongs to this session.
    pub current: bool,
}

impl From<conduit_app::SessionView> for SessionDto {
    fn from(view: conduit_app::SessionView) -> Self {
        let s = view.session;
        SessionDto {
            id: s.id.0,
            created_at: s.created_at.to_rfc3339_millis(),
            last_used_at: s.last_used_at.to_rfc3339_millis(),
            expires_at: s.expires_at.to_rfc3339_millis(),
            user_agent: s.user_agent,
            current: view.current,
        }
    }
}

/// Body of `GET /auth/sessions`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SessionsResponse {
    /// The caller's active sessions, most recently used first.
    pub sessions: Vec<SessionDto>,
}

/// Body of `POST /auth/oauth/exchange`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LoginCodeRequest {
    /// The `code` from the fragment of the frontend URL the sign-in ended on.
    pub code: Field<Text>,
}

/// Body of `POST /auth/oauth/{provider}/link`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LinkRequest {
    /// The frontend page to come back to; must start with an allowed address (as
    /// `returnTo` of the sign-in start).
    #[oai(rename = "returnTo")]
    pub return_to: Field<Text>,
}

impl Example for LinkRequest {
    fn example() -> Self {
        LinkRequest {
            return_to: "https://app.example.com/settings".into(),
        }
    }
}

/// Answer of `POST /auth/oauth/{provider}/link`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LinkStarted {
    /// The provider's authorization page: navigate the browser to it.
    pub url: String,
}

impl Example for LinkStarted {
    fn example() -> Self {
        LinkStarted {
            url: "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.8a61f9b3a7aba766&state=Zk9pQ2xVb7LmN4pR8sT1uW&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri=https%3A%2F%2Fapi.example.com%2Fapi%2Fauth%2Foauth%2Fgithub%2Fcallback".into(),
        }
    }
}

/// Body of `POST /auth/oauth/link/confirm`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LinkCodeRequest {
    /// The `linkCode` from the fragment of the frontend URL the link flow ended on.
    pub code: Field<Text>,
}

impl Example for LinkCodeRequest {
    fn example() -> Self {
        LinkCodeRequest {
            code: "rt_4fT7uW1yZ3aC5dE8gH0jK2lM6nP9qR3sV5xB7cD1eF".into(),
        }
    }
}

/// Answer of `POST /auth/oauth/link/confirm`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LinkConfirmed {
    /// The identity now linked to the caller's account.
    pub linked: LinkedIdentity,
}

/// A provider identity linked to an account.
#[derive(Debug, Object)]
pub struct LinkedIdentity {
    /// The provider's id, as configured; signing in with it reaches this account.
    pub provider: String,
}

impl Example for LinkConfirmed {
    fn example() -> Self {
        LinkConfirmed {
            linked: LinkedIdentity {
                provider: "github".into(),
            },
        }
    }
}

impl Example for LoginCodeRequest {
    fn example() -> Self {
        LoginCodeRequest {
            code: "rt_9kQ2xVb7LmN4pR8sT1uW3yZ5aC6dE0fGhJ2kL4mN6pQ".into(),
        }
    }
}

impl Example for RefreshRequest {
    fn example() -> Self {
        RefreshRequest {
            refresh_token: Some(EXAMPLE_REFRESH.into()),
        }
    }
}

impl Example for SessionDto {
    fn example() -> Self {
        SessionDto {
            id: "k3J9vXq2TnWb8sLp0aZr1g".into(),
            created_at: EXAMPLE_TIME.into(),
            last_used_at: EXAMPLE_LATER.into(),
            expires_at: "2016-04-18T03:22:56.637Z".into(),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
            current: true,
        }
    }
}

impl Example for SessionsResponse {
    fn example() -> Self {
        SessionsResponse {
            sessions: vec![SessionDto::example()],
        }
    }
}

// ---- API keys ----------------------------------------------------------------------

/// A new API key.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewApiKey {
    /// Your name for the key (1 to 100 characters), shown in the list.
    pub name: Field<Text>,
    /// What the key may do: any of `articles:write`, `comments:write`,
    /// `favorites:write`, `follows:write`, `user:read`, `user:write`.
    pub scopes: Field<Vec<Text>>,
    /// When the key stops working (RFC 3339, in the future); absent or `null`: never.
    #[oai(nullable)]
    pub expires_at: Option<Field<Text>>,
}

/// Body of `POST /api-keys`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct NewApiKeyRequest {
    /// The key.
    pub api_key: Field<NewApiKey>,
}

/// An API key's metadata.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyDto {
    /// Id, used to revoke it.
    pub id: String,
    /// Your name for it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: String,
    /// When it stops working, or `null`.
    #[oai(nullable)]
    pub expires_at: Option<String>,
    /// When it was revoked, or `null`.
    #[oai(nullable)]
    pub revoked_at: Option<String>,
    /// The key itself, to send as `X-API-Key`: only in the answer that creates it.
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<String>,
}

impl From<conduit_domain::api_key::ApiKey> for ApiKeyDto {
    fn from(key: conduit_domain::api_key::ApiKey) -> Self {
        ApiKeyDto {
            id: key.id.0,
            name: key.name,
            scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: key.created_at.to_rfc3339_millis(),
            expires_at: key.expires_at.map(|t| t.to_rfc3339_millis()),
            revoked_at: key.revoked_at.map(|t| t.to_rfc3339_millis()),
            token: None,
        }
    }
}

/// Body of the answer to `POST /api-keys`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ApiKeyResponse {
    /// The new key, with its token (shown this once).
    pub api_key: ApiKeyDto,
}

/// Body of `GET /api-keys`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ApiKeysResponse {
    /// The caller's keys, revoked ones included, newest first.
    pub api_keys: Vec<ApiKeyDto>,
}

fn example_api_key(token: bool) -> ApiKeyDto {
    ApiKeyDto {
        id: "ak_q2Vd7xLk0PzR5mNw8sTf1A".into(),
        name: "deploy bot".into(),
        scopes: vec!["articles:write".into(), "comments:write".into()],
        created_at: EXAMPLE_TIME.into(),
        expires_at: Some(EXAMPLE_KEY_EXPIRY.into()),
        revoked_at: None,
        token: token.then(|| "En0KEwoEdXNlchgDIgkKBwgEEgMYgAgSJAgAEiD...".into()),
    }
}

impl Example for NewApiKeyRequest {
    fn example() -> Self {
        NewApiKeyRequest {
            api_key: Field::new(NewApiKey {
                name: "deploy bot".into(),
                scopes: ["articles:write", "comments:write"].into_iter().collect(),
                expires_at: Some(EXAMPLE_KEY_EXPIRY.into()),
            }),
        }
    }
}

impl Example for ApiKeyResponse {
    fn example() -> Self {
        ApiKeyResponse {
            api_key: example_api_key(true),
        }
    }
}

impl Example for ApiKeysResponse {
    fn example() -> Self {
        ApiKeysResponse {
            api_keys: vec![example_api_key(false)],
        }
    }
}

// ---- examples shown in the OpenAPI document ----------------------------------------

const EXAMPLE_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.signature";
const EXAMPLE_REFRESH: &str = "rt_p8Yy2u7R1Vbq4dI0m3XkzQ9wE5sTfGhJ6aLcNvBo0xM";
const EXAMPLE_TIME: &str = "2016-02-18T03:22:56.637Z";
const EXAMPLE_LATER: &str = "2016-02-18T03:48:35.824Z";
/// An expiry a new key may have: it must be in the future when the example is sent.
const EXAMPLE_KEY_EXPIRY: &str = "2099-01-01T00:00:00Z";

fn example_profile(following: bool) -> Profile {
    Profile {
        username: "jake".into(),
        bio: Some("I work at statefarm".into()),
        image: Some("https://i.stack.imgur.com/xHWG8.jpg".into()),
        following,
    }
}

fn example_article() -> Article {
    Article {
        slug: "how-to-train-your-dragon".into(),
        title: "How to train your dragon".into(),
        description: "Ever wonder how?".into(),
        body: "It takes a Jacobian".into(),
        tag_list: vec!["dragons".into(), "training".into()],
        created_at: EXAMPLE_TIME.into(),
        updated_at: EXAMPLE_LATER.into(),
        favorited: false,
        favorites_count: 0,
        author: example_profile(false),
    }
}

fn example_comment() -> Comment {
    Comment {
        id: 1,
        created_at: EXAMPLE_TIME.into(),
        updated_at: EXAMPLE_TIME.into(),
        body: "It takes a Jacobian".into(),
        author: example_profile(false),
    }
}

impl Example for LoginUserRequest {
    fn example() -> Self {
        LoginUserRequest {
            user: Field::new(LoginUser {
                email: "jake@jake.jake".into(),
                password: "jakejake".into(),
            }),
        }
    }
}

impl Example for NewUserRequest {
    fn example() -> Self {
        NewUserRequest {
            user: Field::new(NewUser {
                username: "jake".into(),
                email: "jake@jake.jake".into(),
                password: "jakejake".into(),
            }),
        }
    }
}

impl Example for UpdateUserRequest {
    fn example() -> Self {
        UpdateUserRequest {
            user: Field::new(UpdateUser {
                email: MaybeUndefined::Value("jake@jake.jake".into()),
                password: MaybeUndefined::Undefined,
                username: MaybeUndefined::Undefined,
                bio: MaybeUndefined::Value("I like to skateboard".into()),
                image: MaybeUndefined::Value("https://i.stack.imgur.com/xHWG8.jpg".into()),
            }),
        }
    }
}

impl Example for UserResponse {
    fn example() -> Self {
        UserResponse {
            user: User {
                email: "jake@jake.jake".into(),
                token: EXAMPLE_TOKEN.into(),
                username: "jake".into(),
                bio: None,
                image: None,
                refresh_token: Some(EXAMPLE_REFRESH.into()),
            },
        }
    }
}

impl Example for ProfileResponse {
    fn example() -> Self {
        ProfileResponse {
            profile: example_profile(true),
        }
    }
}

impl Example for NewArticleRequest {
    fn example() -> Self {
        NewArticleRequest {
            article: Field::new(NewArticle {
                title: "How to train your dragon".into(),
                description: "Ever wonder how?".into(),
                body: "You have to believe".into(),
                tag_list: Some(["reactjs", "angularjs", "dragons"].into_iter().collect()),
            }),
        }
    }
}

impl Example for UpdateArticleRequest {
    fn example() -> Self {
        UpdateArticleRequest {
            article: Field::new(UpdateArticle {
                title: MaybeUndefined::Value("Did you train your dragon?".into()),
                description: MaybeUndefined::Undefined,
                body: MaybeUndefined::Undefined,
                tag_list: MaybeUndefined::Undefined,
            }),
        }
    }
}

impl Example for SingleArticleResponse {
    fn example() -> Self {
        SingleArticleResponse {
            article: example_article(),
        }
    }
}

impl Example for MultipleArticlesResponse {
    fn example() -> Self {
        let a = example_article();
        MultipleArticlesResponse {
            articles: vec![ArticleListItem {
                slug: a.slug,
                title: a.title,
                description: a.description,
                tag_list: a.tag_list,
                created_at: a.created_at,
                updated_at: a.updated_at,
                favorited: a.favorited,
                favorites_count: a.favorites_count,
                author: a.author,
            }],
            articles_count: 1,
        }
    }
}

impl Example for TagsResponse {
    fn example() -> Self {
        TagsResponse {
            tags: vec!["reactjs".into(), "angularjs".into()],
        }
    }
}

impl Example for NewCommentRequest {
    fn example() -> Self {
        NewCommentRequest {
            comment: Field::new(NewComment {
                body: "His name was my name too.".into(),
            }),
        }
    }
}

impl Example for SingleCommentResponse {
    fn example() -> Self {
        SingleCommentResponse {
            comment: example_comment(),
        }
    }
}

impl Example for MultipleCommentsResponse {
    fn example() -> Self {
        MultipleCommentsResponse {
            comments: vec![example_comment()],
        }
    }
}
