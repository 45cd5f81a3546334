//! Ports: what the use cases need from the outside world, sized to the use cases. Each
//! has an in-memory adapter and at least one real one in `conduit-adapters`; the storage
//! ports share one contract test suite there.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

use crate::{
    ArticleId, CommentId, StoreError, UserId,
    api_key::{ApiKey, ApiKeyFailure, ApiKeyId, Scope},
    article::{
        ArticleChanges, ArticleFilter, ArticlePage, ArticleRef, ArticleView, NewArticle, Page, Slug,
    },
    cache::{CacheLookup, CacheTicket},
    comment::{CommentRef, CommentView, NewComment},
    error::{AuthFailure, BoxError},
    events::DomainEvent,
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey, StoredResponse},
    identity::{AuthorizationStart, ExternalIdentity, IdentityError, IdentityLink},
    rate_limit::{RateDecision, RatePolicy},
    session::{
        NewSession, RefreshToken, RefreshTokenHash, Rotation, RotationRules, Session, SessionId,
        SessionStatus,
    },
    time::Timestamp,
    user::{Email, NewUser, Password, PasswordHash, Profile, User, UserChanges, Username},
};

/// User accounts.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Stores a new account. `Duplicate(Email | Username)` when either is taken,
    /// without regard to case.
    async fn create(&self, user: NewUser) -> Result<User, StoreError>;
    /// The account with this id.
    async fn by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The account with this email, without regard to case.
    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// Applies `changes` and returns the account as it is now; `None` when the account
    /// does not exist. `Duplicate(Email | Username)` when a new value is taken.
    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: Timestamp,
    ) -> Result<Option<User>, StoreError>;
}

/// Profiles and the follow relation.
#[async_trait]
pub trait ProfileStore: Send + Sync + 'static {
    /// The profile of `username` (without regard to case) as `viewer` sees it.
    async fn profile(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> Result<Option<Profile>, StoreError>;
    /// Makes `follower` follow `followee`; following twice is not an error.
    async fn follow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError>;
    /// Makes `follower` stop following `followee`; unfollowing twice is not an error.
    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError>;
    /// Up to `limit` of the users `follower` follows, in no particular order.
    async fn followees(&self, follower: UserId, limit: u64) -> Result<Vec<UserId>, StoreError>;
}

/// Article writes. Each method is atomic: an article and its tags, or a favorite and the
/// article's favorite count, are written together or not at all.
#[async_trait]
pub trait ArticleStore: Send + Sync + 'static {
    /// Stores a new article with its tags. `Duplicate(Slug)` when the slug is taken.
    async fn create(&self, article: NewArticle) -> Result<ArticleId, StoreError>;
    /// The article with this slug.
    async fn by_slug(&self, slug: &Slug) -> Result<Option<ArticleRef>, StoreError>;
    /// Applies `changes`; `Duplicate(Slug)` when a new slug is taken. Returns whether the
    /// article still existed.
    async fn update(&self, id: ArticleId, changes: ArticleChanges) -> Result<bool, StoreError>;
    /// Deletes the article with its tags links, favorites and comments. Returns whether
    /// it existed.
    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError>;
    /// Records that `user` favorites `article`; favoriting twice is not an error and
    /// counts once.
    async fn favorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError>;
    /// Removes `user`'s favorite of `article`, if any.
    async fn unfavorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError>;
}

/// Article reads, as one viewer sees them.
#[async_trait]
pub trait ArticleQueries: Send + Sync + 'static {
    /// One whole article.
    async fn article(
        &self,
        id: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Option<ArticleView>, StoreError>;
    /// Articles matching `filter`, most recent first.
    async fn list(
        &self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError>;
    /// Articles by the authors `viewer` follows, most recent first.
    async fn feed(&self, viewer: UserId, page: Page) -> Result<ArticlePage, StoreError>;
    /// Tags carried by at least one article, most used first, at most `limit`.
    async fn tags(&self, limit: u64) -> Result<Vec<String>, StoreError>;
}

/// Comments.
#[async_trait]
pub trait CommentStore: Send + Sync + 'static {
    /// Stores a comment and returns its id.
    async fn add(&self, comment: NewComment) -> Result<CommentId, StoreError>;
    /// The comment `id` of `article`; `None` if it does not exist or belongs to
    /// another article.
    async fn find(
        &self,
        article: ArticleId,
        id: CommentId,
    ) -> Result<Option<CommentRef>, StoreError>;
    /// Deletes a comment; returns whether it existed.
    async fn delete(&self, id: CommentId) -> Result<bool, StoreError>;
    /// One comment as `viewer` sees it.
    async fn comment(
        &self,
        id: CommentId,
        viewer: Option<UserId>,
    ) -> Result<Option<CommentView>, StoreError>;
    /// The comments of `article`, oldest first.
    async fn list(
        &self,
        article: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Vec<CommentView>, StoreError>;
}

/// Sessions and their refresh-token families. Implementations must make `rotate` atomic:
/// of several concurrent rotations of one current token, exactly one sees it current.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session with its first refresh token.
    async fn start(&self, session: NewSession) -> Result<(), StoreError>;
    /// Presents the refresh token `presented`; on success `next` becomes a valid token of
    /// the same session. See [`Rotation`] for the outcomes; `Reused` has already revoked
    /// the session when it is returned.
    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: RefreshTokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, StoreError>;
    /// The active sessions of `user` at `now` (not revoked, not past either lifetime;
    /// idle is measured from `last_used_at`), most recently used first.
    async fn active(
        &self,
        user: UserId,
        now: Timestamp,
        idle: time::Duration,
    ) -> Result<Vec<Session>, StoreError>;
    /// Revokes one session of `user`; `false` when `user` has no such session (another
    /// user's session is "not found", never "forbidden").
    async fn revoke(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError>;
    /// Revokes every session of `user` except `keep`; returns how many were revoked.
    async fn revoke_all(&self, user: UserId, keep: Option<&SessionId>) -> Result<u64, StoreError>;
    /// What checking an access token needs of session `id`: `None` when it is unknown
    /// or revoked. Time limits are the caller's to apply ([`SessionStatus::is_live`]).
    async fn status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError>;
    /// Records a use of session `id` at `at` (an access token was accepted): its last use
    /// becomes `at`, which keeps the idle lifetime from ending a session whose client
    /// only ever sends its access token. Nothing happens to an unknown or revoked session.
    async fn touch(&self, id: &SessionId, at: Timestamp) -> Result<(), StoreError>;
}

/// Refresh-token secrets: generation and one-way hashing.
pub trait RefreshTokens: Send + Sync + 'static {
    /// A new random session id.
    fn new_session_id(&self) -> SessionId;
    /// A new refresh token, at least 256 bits of entropy, and its hash.
    fn generate(&self) -> (RefreshToken, RefreshTokenHash);
    /// The hash a stored token would have.
    fn hash(&self, token: &str) -> RefreshTokenHash;
}

/// API key metadata.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Stores a new key.
    async fn create(&self, key: ApiKey) -> Result<(), StoreError>;
    /// The key with this id, revoked or not.
    async fn get(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError>;
    /// The keys of `user`, revoked ones included, newest first.
    async fn list(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes a key of `user` at `at`; `false` when `user` has no such unrevoked key
    /// (another user's key is "not found").
    async fn revoke(&self, user: UserId, id: &ApiKeyId, at: Timestamp) -> Result<bool, StoreError>;
}

/// What a verified API key token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    /// The key's id (to check it is not revoked).
    pub key: ApiKeyId,
    /// The user it acts as.
    pub user: UserId,
}

/// API key tokens: issued for a stored key, verified for one operation.
pub trait ApiKeyTokens: Send + Sync + 'static {
    /// A new id for a key.
    fn new_key_id(&self) -> ApiKeyId;
    /// The token of `key`: it carries the key id, the owner, the scopes and the expiry,
    /// and is signed by the server.
    fn issue(&self, key: &ApiKey) -> Result<String, BoxError>;
    /// Checks `token` allows `scope` at `now`: our signature, every block's checks
    /// (a holder may have attenuated it: fewer scopes, an earlier expiry), the scope and
    /// the expiry. Revocation is checked by the caller against the store.
    fn verify(
        &self,
        token: &str,
        scope: Scope,
        now: Timestamp,
    ) -> Result<VerifiedKey, ApiKeyFailure>;
}

/// One OAuth 2.0 / OpenID Connect identity provider.
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// Our id for the provider (the `{provider}` in the login URLs).
    fn id(&self) -> &str;
    /// Starts an authorization-code flow with PKCE, `state` and (for OpenID Connect) a
    /// nonce; the provider will send the browser back to `redirect_uri`.
    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationStart, BoxError>;
    /// Exchanges the code for tokens (sending the PKCE verifier), verifies the ID token
    /// (signature, issuer, audience, expiry, `nonce`) or reads the provider's user API,
    /// and describes the person.
    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        redirect_uri: &str,
    ) -> Result<ExternalIdentity, IdentityError>;
}

/// Short-lived, single-use values: pending logins (by `state`) and login codes.
#[async_trait]
pub trait OneTimeStore: Send + Sync + 'static {
    /// Stores `value` under `key` until `expires_at`; replaces any previous value.
    async fn put(&self, key: &str, value: String, expires_at: Timestamp) -> Result<(), StoreError>;
    /// Removes and returns the value under `key` if it has not expired at `now`: a
    /// second `take` of the same key finds nothing, even when two race.
    async fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError>;
}

/// Which account each provider identity signs in to.
#[async_trait]
pub trait IdentityLinks: Send + Sync + 'static {
    /// The account linked to `subject` at `provider`.
    async fn user_for(&self, provider: &str, subject: &str) -> Result<Option<UserId>, StoreError>;
    /// Links `subject` at `provider` to `user`; linking an identity that is already
    /// linked (to anyone) is a no-op that returns the existing link's user.
    async fn link(&self, link: IdentityLink, at: Timestamp) -> Result<UserId, StoreError>;
}

/// Rate limiting, shared by every instance when the adapter is shared (Redis).
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request by `key` (an identity and an endpoint group) under `policy`,
    /// atomically, and says whether it may go ahead.
    async fn check(&self, key: &str, policy: RatePolicy) -> Result<RateDecision, StoreError>;
}

/// Idempotency keys and the answers kept under them (the `Idempotency-Key` header).
///
/// Every record belongs to one `scope` (a caller); the same key in two scopes is two
/// records. Implementations must make [`begin`](IdempotencyStore::begin) atomic: of
/// several concurrent claims of one free key, exactly one gets [`Begin::Claimed`].
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `claim.key` in `claim.scope` when it is free at `claim.now` (unknown, or
    /// its record expired, or its lease lapsed), else reports the record that holds it.
    async fn begin(&self, claim: &IdempotencyClaim) -> Result<Begin, StoreError>;
    /// Stores `response` as the answer of the claim made with `token`, kept until
    /// `expires_at`. `false` (and nothing stored) when that claim no longer holds the
    /// key (its lease lapsed and another request claimed it, or it was released).
    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
        response: StoredResponse,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Gives up the claim made with `token` (the request failed), so that a retry can
    /// run; `false` when that claim no longer holds the key. A completed record is never
    /// released.
    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
    ) -> Result<bool, StoreError>;
}

/// Every storage port, as one adapter (or a set of decorators) provides them.
#[derive(Clone)]
pub struct Stores {
    /// Accounts.
    pub users: Arc<dyn UserStore>,
    /// Profiles and follows.
    pub profiles: Arc<dyn ProfileStore>,
    /// Article writes.
    pub articles: Arc<dyn ArticleStore>,
    /// Article reads.
    pub article_queries: Arc<dyn ArticleQueries>,
    /// Comments.
    pub comments: Arc<dyn CommentStore>,
}

impl Stores {
    /// All ports served by one adapter.
    pub fn from_one<S>(store: Arc<S>) -> Self
    where
        S: UserStore + ProfileStore + ArticleStore + ArticleQueries + CommentStore,
    {
        Stores {
            users: store.clone(),
            profiles: store.clone(),
            articles: store.clone(),
            article_queries: store.clone(),
            comments: store,
        }
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

/// Password hashing. Implementations must not block the async executor.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a new password with a fresh salt.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, BoxError>;
    /// Whether `password` matches `hash`. With `hash: None` (no such account) it does the
    /// same amount of work and answers `false`, so timing does not reveal which emails
    /// are registered.
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, BoxError>;
}

/// Who an access token speaks for, as its signature vouches. Whether its session is
/// still alive is the session store's to say (see `Conduit::authenticate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user.
    pub user: UserId,
    /// The session (sign-in) the token belongs to.
    pub session: SessionId,
    /// When the token was issued (whole seconds).
    pub issued_at: Timestamp,
    /// Until when the token is accepted even after its session was refreshed: a refresh
    /// supersedes the access tokens issued before it once this time has passed.
    pub fresh_until: Timestamp,
    /// The end of the session's absolute lifetime, which is the token's `exp`.
    pub session_ends: Timestamp,
}

/// Access tokens, bound to a session.
pub trait TokenService: Send + Sync + 'static {
    /// A signed access token for `user` in `session`, which ends at `session_ends`.
    fn issue(
        &self,
        user: UserId,
        session: &SessionId,
        session_ends: Timestamp,
    ) -> Result<String, BoxError>;
    /// The claims of an access token that is well formed, signed with one of the
    /// verification keys, not past its session's end, and meant for us; otherwise
    /// [`AuthFailure::TokenInvalid`].
    fn verify(&self, token: &str) -> Result<AccessClaims, AuthFailure>;
}

/// The current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, truncated to milliseconds.
    fn now(&self) -> Timestamp;
}

/// Short random strings that tell apart slugs of articles with the same title.
pub trait SlugSuffixes: Send + Sync + 'static {
    /// A short, lowercase, alphanumeric, hard-to-guess string.
    fn next_suffix(&self) -> String;
}

/// A shared cache of serialized read results, invalidated by tags (see
/// [`crate::cache`] for the protocol). Implementations must make `get` and `put` each
/// atomic with respect to `invalidate`.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The entry under `key` if none of the tags it was stored with has been invalidated
    /// since; otherwise a ticket to store a fresh value with.
    async fn get(&self, key: &str) -> Result<CacheLookup, StoreError>;
    /// Stores `value` under `key` with `tags` for at most `ttl`, unless one of `tags` has
    /// been invalidated since the ticket was taken. `tags` are everything the value was
    /// read from, known before the read (a list's filter) or learned by it (the articles
    /// the page shows): the ticket covers both.
    async fn put(
        &self,
        key: &str,
        tags: &[String],
        value: &[u8],
        ticket: &CacheTicket,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Invalidates every entry stored under any of `tags`.
    async fn invalidate(&self, tags: &[String]) -> Result<(), StoreError>;
}

/// Where use cases announce what they changed, after the change is durable. Subscribers
/// (cache invalidation, say) do their work before `publish` returns, so it is done
/// before the use case answers. Publishing cannot fail: a subscriber that cannot do its
/// work deals with that itself.
#[async_trait]
pub trait EventPublisher: Send + Sync + 'static {
    /// Delivers `event` to every subscriber.
    async fn publish(&self, event: &DomainEvent);
}
