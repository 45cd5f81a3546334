//! Read caching as a decorator around the storage ports.
//!
//! [`cached`] wraps a [`Stores`] so that the reads clients repeat most (article lists,
//! one article, an article's slug lookup, comments, profiles, tags) are answered from a
//! [`Cache`] when possible, and returns the [`CacheInvalidation`] subscriber that keeps
//! the cache true to the database. Writes pass straight through; the use cases announce
//! each write as a [`DomainEvent`], and the subscriber invalidates the affected tags
//! before the use case answers.
//!
//! # What an entry depends on
//!
//! | entry | key | tags |
//! |---|---|---|
//! | article list page | filter, page, viewer | `articles`, `profiles`, `follows:<viewer>` |
//! | tags | limit | `articles` |
//! | one article | id, viewer | `article:<id>`, `profiles`, `follows:<viewer>` |
//! | slug lookup | slug | `slug:<slug>` |
//! | comments of an article | article, viewer | `comments:<article>`, `profiles`, `follows:<viewer>` |
//! | profile | username, viewer | `profiles`, `follows:<viewer>` |
//!
//! Every entry also depends on [`EPOCH_TAG`]. Entries are per viewer (anonymous viewers
//! share one), so `favorited` and `following` are never served to another viewer. The
//! feed is not cached: it changes with every article of every followed author.
//!
//! Nothing is stored for "not found": a name or slug that appears later then needs no
//! invalidation.
//!
//! # When the cache fails
//!
//! A failing or slow cache (each operation is given [`CacheSettings::op_timeout`]) is
//! skipped for [`CacheSettings::retry_after`]: reads go to the database, and the first
//! failure is logged at WARN (again at most once a minute while it lasts). An
//! invalidation that could not be delivered leaves the cache untrusted: before it is
//! used again, the epoch tag is invalidated, which retires every entry.
//!
//! # Metrics
//!
//! Every read-through lookup is counted in `conduit.cache.lookups` (OpenTelemetry API,
//! a no-op unless the binary exports metrics), with `result`: `hit` (served from the
//! cache), `miss` (read from the database and offered to the cache) or `error` (the
//! cache failed, timed out, held an unreadable entry, or is being skipped after a
//! failure: read from the database).

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, CommentId, StoreError, UserId,
    article::{
        ArticleChanges, ArticleFilter, ArticlePage, ArticleRef, ArticleSummary, ArticleView,
        NewArticle, Page, Slug,
    },
    cache::{CacheLookup, CacheTicket, EPOCH_TAG},
    comment::{CommentRef, CommentView, NewComment},
    events::DomainEvent,
    ports::{
        ArticleQueries, ArticleStore, Cache, CommentStore, EventPublisher, ProfileStore, Stores,
    },
    time::Timestamp,
    user::{Profile, Username},
};
use opentelemetry::{KeyValue, metrics::Counter};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

/// How the decorator uses its cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// The longest an entry lives, whatever happens (a backstop; invalidation is the
    /// mechanism).
    pub ttl: Duration,
    /// How long one cache operation may take before the cache counts as failing.
    pub op_timeout: Duration,
    /// How long a failing cache is left alone before it is tried again.
    pub retry_after: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: conduit_domain::cache::DEFAULT_TTL,
            op_timeout: Duration::from_millis(250),
            retry_after: Duration::from_secs(5),
        }
    }
}

/// Wraps `inner`'s profile, article and comment ports with read caching over `cache`.
/// Returns the wrapped ports and the subscriber that must receive every domain event.
pub fn cached(
    inner: Stores,
    cache: Arc<dyn Cache>,
    settings: CacheSettings,
) -> (Stores, Arc<CacheInvalidation>) {
    let guard = Arc::new(Guard::new(cache, settings));
    let reads = Arc::new(CachedStores {
        inner: inner.clone(),
        guard: guard.clone(),
    });
    let stores = Stores {
        users: inner.users,
        profiles: reads.clone(),
        articles: reads.clone(),
        article_queries: reads.clone(),
        comments: reads,
    };
    (stores, Arc::new(CacheInvalidation { guard }))
}

/// The tags each event invalidates.
pub fn tags_for(event: &DomainEvent) -> Vec<String> {
    match event {
        DomainEvent::ArticlePublished { article, slug, .. } => {
            vec![ARTICLES.into(), article_tag(*article), slug_tag(slug)]
        }
        DomainEvent::ArticleEdited {
            article,
            old_slug,
            new_slug,
        } => {
            let mut tags = vec![ARTICLES.into(), article_tag(*article), slug_tag(old_slug)];
            if new_slug != old_slug {
                tags.push(slug_tag(new_slug));
            }
            tags
        }
        DomainEvent::ArticleDeleted { article, slug } => vec![
            ARTICLES.into(),
            article_tag(*article),
            slug_tag(slug),
            comments_tag(*article),
        ],
        DomainEvent::FavoriteChanged { article, .. } => {
            vec![ARTICLES.into(), article_tag(*article)]
        }
        DomainEvent::FollowChanged { follower, .. } => vec![follows_tag(*follower)],
        DomainEvent::CommentAdded { article, .. } | DomainEvent::CommentDeleted { article, .. } => {
            vec![comments_tag(*article)]
        }
        DomainEvent::ProfileChanged { .. } => vec![PROFILES.into()],
    }
}

/// Keeps the cache true to the database: invalidates what each event affects.
pub struct CacheInvalidation {
    guard: Arc<Guard>,
}

impl CacheInvalidation {
    /// The cache of rendered article lists, under the same guard and invalidation.
    pub fn rendered_lists(&self) -> RenderedLists {
        RenderedLists {
            guard: self.guard.clone(),
        }
    }

    /// Whether the cache is being skipped because it failed (for readiness reports).
    pub fn degraded(&self) -> bool {
        self.guard.degraded()
    }
}

impl std::fmt::Debug for CacheInvalidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheInvalidation")
            .field("degraded", &self.degraded())
            .finish()
    }
}

#[async_trait]
impl EventPublisher for CacheInvalidation {
    async fn publish(&self, event: &DomainEvent) {
        self.guard.invalidate(&tags_for(event)).await;
    }
}

const ARTICLES: &str = "articles";
const PROFILES: &str = "profiles";
/// Bumped when the layout of cached values changes, so that instances of two versions
/// (during a rolling deploy) never read each other's entries.
const FORMAT: &str = "v1";
/// How often a cache that keeps failing is reported.
const WARN_EVERY: Duration = Duration::from_secs(60);

fn article_tag(id: ArticleId) -> String {
    format!("article:{}", id.0)
}

fn slug_tag(slug: &str) -> String {
    format!("slug:{slug}")
}

fn comments_tag(id: ArticleId) -> String {
    format!("comments:{}", id.0)
}

fn follows_tag(user: UserId) -> String {
    format!("follows:{}", user.0)
}

fn viewer_key(viewer: Option<UserId>) -> String {
    viewer.map_or_else(|| "anon".to_owned(), |v| format!("u{}", v.0))
}

/// The tags of an entry seen by `viewer`, after `own`.
fn tags(own: &[String], viewer: Option<UserId>) -> Vec<String> {
    let mut tags = Vec::with_capacity(own.len() + 2);
    tags.push(EPOCH_TAG.to_owned());
    tags.extend_from_slice(own);
    if let Some(viewer) = viewer {
        tags.push(follows_tag(viewer));
    }
    tags
}

/// The name of the lookup counter.
pub const CACHE_LOOKUPS: &str = "conduit.cache.lookups";

/// The outcome of one lookup, as counted in [`CACHE_LOOKUPS`].
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Hit,
    Miss,
    Error,
}

impl Lookup {
    fn name(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Error => "error",
        }
    }
}

/// The cache, with the bookkeeping that lets the API keep serving when it fails.
struct Guard {
    cache: Arc<dyn Cache>,
    settings: CacheSettings,
    state: Mutex<GuardState>,
    lookups: Counter<u64>,
}

#[derive(Default)]
struct GuardState {
    /// While set and in the future, the cache is skipped.
    skip_until: Option<Instant>,
    /// An invalidation was lost: retire every entry before trusting the cache again.
    untrusted: bool,
    /// The last operation failed.
    failing: bool,
    /// When the failure was last logged.
    last_warned: Option<Instant>,
}

impl Guard {
    fn new(cache: Arc<dyn Cache>, settings: CacheSettings) -> Self {
        Guard {
            cache,
            settings,
            state: Mutex::new(GuardState::default()),
            // From the meter provider installed at start-up (made after it, never before).
            lookups: opentelemetry::global::meter("conduit-adapters")
                .u64_counter(CACHE_LOOKUPS)
                .with_unit("{lookup}")
                .with_description("Read-through cache lookups, by result.")
                .build(),
        }
    }

    fn count(&self, lookup: Lookup) {
        self.lookups
            .add(1, &[KeyValue::new("result", lookup.name())]);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GuardState> {
        // The state is a few flags, always left consistent: a panic elsewhere while the
        // lock was held cannot have broken it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn degraded(&self) -> bool {
        self.state().failing
    }

    /// Runs one cache operation under the time limit, recording its outcome.
    async fn run<T>(
        &self,
        what: &'static str,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Option<T> {
        let outcome = match tokio::time::timeout(self.settings.op_timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.settings.op_timeout)),
        };
        match outcome {
            Ok(value) => {
                self.succeeded();
                Some(value)
            }
            Err(reason) => {
                self.failed(what, &reason);
                None
            }
        }
    }

    fn succeeded(&self) {
        let mut state = self.state();
        if state.failing {
            state.failing = false;
            state.last_warned = None;
            tracing::info!(target: "cache", "the cache answers again; using it");
        }
    }

    fn failed(&self, what: &str, reason: &str) {
        let now = Instant::now();
        let mut state = self.state();
        state.failing = true;
        state.skip_until = Some(now + self.settings.retry_after);
        if state
            .last_warned
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY)
        {
            state.last_warned = Some(now);
            tracing::warn!(target: "cache", operation = what, error = reason,
                retry_in_seconds = self.settings.retry_after.as_secs(),
                "cache unavailable: reading from the database (logged once a minute while it lasts)");
        }
    }

    /// Whether the cache may be used now; retires every entry first if an invalidation
    /// was lost.
    async fn usable(&self) -> bool {
        let untrusted = {
            let state = self.state();
            if state.skip_until.is_some_and(|until| Instant::now() < until) {
                return false;
            }
            state.untrusted
        };
        if !untrusted {
            return true;
        }
        let epoch = [EPOCH_TAG.to_owned()];
        if self
            .run("invalidate", self.cache.invalidate(&epoch))
            .await
            .is_some()
        {
            self.state().untrusted = false;
            tracing::info!(target: "cache", "retired every cache entry after lost invalidations");
            true
        } else {
            false
        }
    }

    async fn invalidate(&self, tags: &[String]) {
        let delivered = self.usable().await
            && self
                .run("invalidate", self.cache.invalidate(tags))
                .await
                .is_some();
        if !delivered {
            self.state().untrusted = true;
        }
    }

    /// Looks `key` up: the bytes on a hit; on a miss, the ticket to store a fresh value
    /// with (none when the cache is failing or skipped: then nothing is stored).
    async fn lookup(&self, key: &str, tags: &[String]) -> Result<Vec<u8>, Option<CacheTicket>> {
        if !self.usable().await {
            self.count(Lookup::Error);
            return Err(None);
        }
        match self.run("get", self.cache.get(key, tags)).await {
            Some(CacheLookup::Hit(bytes)) => Ok(bytes),
            Some(CacheLookup::Miss(ticket)) => {
                self.count(Lookup::Miss);
                Err(Some(ticket))
            }
            None => {
                self.count(Lookup::Error);
                Err(None)
            }
        }
    }

    /// Offers `bytes` to the cache under the ticket of the miss that preceded its load.
    async fn store(&self, key: &str, tags: &[String], bytes: &[u8], ticket: &CacheTicket) {
        let ttl = self.settings.ttl;
        self.run("put", self.cache.put(key, tags, bytes, ticket, ttl))
            .await;
    }

    /// The value under `key` from the cache, or from `load` (then stored when `keep`
    /// says so).
    async fn read_through<T, F, Fut>(
        &self,
        key: String,
        tags: Vec<String>,
        keep: impl FnOnce(&T) -> bool,
        load: F,
    ) -> Result<T, StoreError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let key = format!("{FORMAT}:{key}");
        let ticket = match self.lookup(&key, &tags).await {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(value) => {
                    self.count(Lookup::Hit);
                    return Ok(value);
                }
                Err(err) => {
                    tracing::debug!(target: "cache", %key, error = %err, "unreadable entry, reloading");
                    self.count(Lookup::Error);
                    None
                }
            },
            Err(ticket) => ticket,
        };
        let value = load().await?;
        if let Some(ticket) = ticket
            && keep(&value)
            && let Ok(bytes) = serde_json::to_vec(&value)
        {
            self.store(&key, &tags, &bytes, &ticket).await;
        }
        Ok(value)
    }
}

/// Article-list pages as the HTTP layer renders them, cached next to the decorator's
/// entries: the same key parts and the same tags as the list entry of the decorator, so
/// the same events retire them, under the same guard (time limits, skipping a failing
/// cache, retiring everything after a lost invalidation).
///
/// The decorator saves the database read; this saves the rest of a hit's work too
/// (decoding the entry, converting it to the response types, encoding the JSON), which
/// is most of the CPU a cached list costs (docs/performance.md, ADR 0019). Only the
/// global list and its filters use it: they are the hottest reads.
#[derive(Clone)]
pub struct RenderedLists {
    guard: Arc<Guard>,
}

impl std::fmt::Debug for RenderedLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedLists").finish_non_exhaustive()
    }
}

impl RenderedLists {
    /// The rendered page of `filter` and `page` as `viewer` sees it, from the cache or
    /// from `render` (then stored). `representation` names the rendering (media type and
    /// its version): a change of the response body's shape must change it, so that
    /// instances of two versions never serve each other's bodies.
    pub async fn read_through<E, F, Fut>(
        &self,
        representation: &str,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<UserId>,
        render: F,
    ) -> Result<Vec<u8>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        let key = format!(
            "{FORMAT}:r:{representation}:{}",
            list_key(filter, page, viewer)
        );
        let tags = list_tags(viewer);
        let ticket = match self.guard.lookup(&key, &tags).await {
            Ok(bytes) => {
                self.guard.count(Lookup::Hit);
                return Ok(bytes);
            }
            Err(ticket) => ticket,
        };
        let bytes = render().await?;
        if let Some(ticket) = ticket {
            self.guard.store(&key, &tags, &bytes, &ticket).await;
        }
        Ok(bytes)
    }
}

/// The key of a list page (without the format prefix).
fn list_key(filter: &ArticleFilter, page: Page, viewer: Option<UserId>) -> String {
    // JSON keeps the parts apart whatever characters the filter values hold.
    let shape = serde_json::json!([
        filter.tag,
        filter.author,
        filter.favorited_by,
        page.limit,
        page.offset
    ]);
    format!("l:{}:{shape}", viewer_key(viewer))
}

/// The tags of a list page.
fn list_tags(viewer: Option<UserId>) -> Vec<String> {
    tags(&[ARTICLES.into(), PROFILES.into()], viewer)
}

/// The decorated ports.
struct CachedStores {
    inner: Stores,
    guard: Arc<Guard>,
}

#[async_trait]
impl ProfileStore for CachedStores {
    async fn profile(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> Result<Option<Profile>, StoreError> {
        let key = format!(
            "p:{}:{}",
            viewer_key(viewer),
            username.as_str().to_lowercase()
        );
        let found: Option<Cached<Profile>> = self
            .guard
            .read_through(
                key,
                tags(&[PROFILES.into()], viewer),
                Option::is_some,
                || async {
                    Ok(self
                        .inner
                        .profiles
                        .profile(username, viewer)
                        .await?
                        .map(Cached))
                },
            )
            .await?;
        Ok(found.map(|c| c.0))
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError> {
        self.inner.profiles.follow(follower, followee).await
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError> {
        self.inner.profiles.unfollow(follower, followee).await
    }
}

#[async_trait]
impl ArticleStore for CachedStores {
    async fn create(&self, article: NewArticle) -> Result<ArticleId, StoreError> {
        self.inner.articles.create(article).await
    }

    async fn by_slug(&self, slug: &Slug) -> Result<Option<ArticleRef>, StoreError> {
        let found: Option<Cached<ArticleRef>> = self
            .guard
            .read_through(
                format!("s:{}", slug.as_str()),
                tags(&[slug_tag(slug.as_str())], None),
                Option::is_some,
                || async { Ok(self.inner.articles.by_slug(slug).await?.map(Cached)) },
            )
            .await?;
        Ok(found.map(|c| c.0))
    }

    async fn update(&self, id: ArticleId, changes: ArticleChanges) -> Result<bool, StoreError> {
        self.inner.articles.update(id, changes).await
    }

    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError> {
        self.inner.articles.delete(id).await
    }

    async fn favorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError> {
        self.inner.articles.favorite(user, article).await
    }

    async fn unfavorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError> {
        self.inner.articles.unfavorite(user, article).await
    }
}

#[async_trait]
impl ArticleQueries for CachedStores {
    async fn article(
        &self,
        id: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Option<ArticleView>, StoreError> {
        let found: Option<Cached<ArticleView>> = self
            .guard
            .read_through(
                format!("a:{}:{}", viewer_key(viewer), id.0),
                tags(&[article_tag(id), PROFILES.into()], viewer),
                Option::is_some,
                || async {
                    Ok(self
                        .inner
                        .article_queries
                        .article(id, viewer)
                        .await?
                        .map(Cached))
                },
            )
            .await?;
        Ok(found.map(|c| c.0))
    }

    async fn list(
        &self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        let found: Cached<ArticlePage> = self
            .guard
            .read_through(
                list_key(filter, page, viewer),
                list_tags(viewer),
                |_| true,
                || async {
                    Ok(Cached(
                        self.inner
                            .article_queries
                            .list(filter, page, viewer)
                            .await?,
                    ))
                },
            )
            .await?;
        Ok(found.0)
    }

    async fn feed(&self, viewer: UserId, page: Page) -> Result<ArticlePage, StoreError> {
        self.inner.article_queries.feed(viewer, page).await
    }

    async fn tags(&self, limit: u64) -> Result<Vec<String>, StoreError> {
        self.guard
            .read_through(
                format!("t:{limit}"),
                tags(&[ARTICLES.into()], None),
                |_| true,
                || self.inner.article_queries.tags(limit),
            )
            .await
    }
}

#[async_trait]
impl CommentStore for CachedStores {
    async fn add(&self, comment: NewComment) -> Result<CommentId, StoreError> {
        self.inner.comments.add(comment).await
    }

    async fn find(
        &self,
        article: ArticleId,
        id: CommentId,
    ) -> Result<Option<CommentRef>, StoreError> {
        self.inner.comments.find(article, id).await
    }

    async fn delete(&self, id: CommentId) -> Result<bool, StoreError> {
        self.inner.comments.delete(id).await
    }

    async fn comment(
        &self,
        id: CommentId,
        viewer: Option<UserId>,
    ) -> Result<Option<CommentView>, StoreError> {
        self.inner.comments.comment(id, viewer).await
    }

    async fn list(
        &self,
        article: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Vec<CommentView>, StoreError> {
        let found: Vec<Cached<CommentView>> = self
            .guard
            .read_through(
                format!("c:{}:{}", viewer_key(viewer), article.0),
                tags(&[comments_tag(article), PROFILES.into()], viewer),
                |_| true,
                || async {
                    Ok(self
                        .inner
                        .comments
                        .list(article, viewer)
                        .await?
                        .into_iter()
                        .map(Cached)
                        .collect())
                },
            )
            .await?;
        Ok(found.into_iter().map(|c| c.0).collect())
    }
}

/// A domain value in its cached form. The domain types stay free of serialization;
/// the layout lives here, with [`FORMAT`] naming its version.
struct Cached<T>(T);

/// The cached layout of each type: a serializable mirror and the conversions.
trait Layout: Sized {
    type Stored: Serialize + DeserializeOwned;
    fn store(&self) -> Self::Stored;
    fn restore(stored: Self::Stored) -> Result<Self, String>;
}

impl<T: Layout> Serialize for Cached<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.store().serialize(serializer)
    }
}

impl<'de, T: Layout> Deserialize<'de> for Cached<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = T::Stored::deserialize(deserializer)?;
        T::restore(stored)
            .map(Cached)
            .map_err(serde::de::Error::custom)
    }
}

fn nanos(at: Timestamp) -> i128 {
    at.as_offset_date_time().unix_timestamp_nanos()
}

fn from_nanos(nanos: i128) -> Result<Timestamp, String> {
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(Timestamp::new)
        .map_err(|e| e.to_string())
}

#[derive(Serialize, Deserialize)]
struct StoredProfile {
    id: i64,
    username: String,
    bio: Option<String>,
    image: Option<String>,
    following: bool,
}

impl Layout for Profile {
    type Stored = StoredProfile;
    fn store(&self) -> StoredProfile {
        StoredProfile {
            id: self.user_id.0,
            username: self.username.clone(),
            bio: self.bio.clone(),
            image: self.image.clone(),
            following: self.following,
        }
    }
    fn restore(s: StoredProfile) -> Result<Self, String> {
        Ok(Profile {
            user_id: UserId(s.id),
            username: s.username,
            bio: s.bio,
            image: s.image,
            following: s.following,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSummary {
    id: i64,
    slug: String,
    title: String,
    description: String,
    tags: Vec<String>,
    created_at: i128,
    updated_at: i128,
    favorited: bool,
    favorites_count: u64,
    author: StoredProfile,
}

impl Layout for ArticleSummary {
    type Stored = StoredSummary;
    fn store(&self) -> StoredSummary {
        StoredSummary {
            id: self.id.0,
            slug: self.slug.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            created_at: nanos(self.created_at),
            updated_at: nanos(self.updated_at),
            favorited: self.favorited,
            favorites_count: self.favorites_count,
            author: self.author.store(),
        }
    }
    fn restore(s: StoredSummary) -> Result<Self, String> {
        Ok(ArticleSummary {
            id: ArticleId(s.id),
            slug: s.slug,
            title: s.title,
            description: s.description,
            tags: s.tags,
            created_at: from_nanos(s.created_at)?,
            updated_at: from_nanos(s.updated_at)?,
            favorited: s.favorited,
            favorites_count: s.favorites_count,
            author: Profile::restore(s.author)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredView {
    summary: StoredSummary,
    body: String,
}

impl Layout for ArticleView {
    type Stored = StoredView;
    fn store(&self) -> StoredView {
        StoredView {
            summary: self.summary.store(),
            body: self.body.clone(),
        }
    }
    fn restore(s: StoredView) -> Result<Self, String> {
        Ok(ArticleView {
            summary: ArticleSummary::restore(s.summary)?,
            body: s.body,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPage {
    articles: Vec<StoredSummary>,
    total: u64,
}

impl Layout for ArticlePage {
    type Stored = StoredPage;
    fn store(&self) -> StoredPage {
        StoredPage {
            articles: self.articles.iter().map(Layout::store).collect(),
            total: self.total,
        }
    }
    fn restore(s: StoredPage) -> Result<Self, String> {
        Ok(ArticlePage {
            articles: s
                .articles
                .into_iter()
                .map(ArticleSummary::restore)
                .collect::<Result<_, _>>()?,
            total: s.total,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredRef {
    id: i64,
    slug: String,
    title: String,
    author_id: i64,
    updated_at: i128,
}

impl Layout for ArticleRef {
    type Stored = StoredRef;
    fn store(&self) -> StoredRef {
        StoredRef {
            id: self.id.0,
            slug: self.slug.clone(),
            title: self.title.clone(),
            author_id: self.author_id.0,
            updated_at: nanos(self.updated_at),
        }
    }
    fn restore(s: StoredRef) -> Result<Self, String> {
        Ok(ArticleRef {
            id: ArticleId(s.id),
            slug: s.slug,
            title: s.title,
            author_id: UserId(s.author_id),
            updated_at: from_nanos(s.updated_at)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredComment {
    id: i64,
    body: String,
    created_at: i128,
    updated_at: i128,
    author: StoredProfile,
}

impl Layout for CommentView {
    type Stored = StoredComment;
    fn store(&self) -> StoredComment {
        StoredComment {
            id: self.id.0,
            body: self.body.clone(),
            created_at: nanos(self.created_at),
            updated_at: nanos(self.updated_at),
            author: self.author.store(),
        }
    }
    fn restore(s: StoredComment) -> Result<Self, String> {
        Ok(CommentView {
            id: CommentId(s.id),
            body: s.body,
            created_at: from_nanos(s.created_at)?,
            updated_at: from_nanos(s.updated_at)?,
            author: Profile::restore(s.author)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use conduit_domain::{
        cache::CacheTicket,
        ports::UserStore,
        user::{Email, NewUser, PasswordHash, UserChanges},
    };

    use super::*;
    use crate::{memory::MemoryStore, memory::cache::MemoryCache};

    /// A working cache that can be switched off (every call then fails as Redis
    /// would when unreachable).
    struct Switchable {
        inner: MemoryCache,
        down: AtomicBool,
    }

    impl Switchable {
        fn check(&self) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("switched off".into()))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl Cache for Switchable {
        async fn get(&self, key: &str, tags: &[String]) -> Result<CacheLookup, StoreError> {
            self.check()?;
            self.inner.get(key, tags).await
        }
        async fn put(
            &self,
            key: &str,
            tags: &[String],
            value: &[u8],
            ticket: &CacheTicket,
            ttl: Duration,
        ) -> Result<(), StoreError> {
            self.check()?;
            self.inner.put(key, tags, value, ticket, ttl).await
        }
        async fn invalidate(&self, tags: &[String]) -> Result<(), StoreError> {
            self.check()?;
            self.inner.invalidate(tags).await
        }
    }

    fn now() -> Timestamp {
        Timestamp::new(OffsetDateTime::now_utc())
    }

    async fn setup() -> (
        Stores,
        Arc<CacheInvalidation>,
        Arc<Switchable>,
        Arc<MemoryStore>,
        UserId,
    ) {
        let store = Arc::new(MemoryStore::new());
        let cache = Arc::new(Switchable {
            inner: MemoryCache::new(100),
            down: AtomicBool::new(false),
        });
        let settings = CacheSettings {
            retry_after: Duration::ZERO,
            ..CacheSettings::default()
        };
        let (stores, invalidation) =
            cached(Stores::from_one(store.clone()), cache.clone(), settings);
        let user = UserStore::create(
            &*store,
            NewUser {
                username: Username::parse("cached").expect("username"),
                email: Email::parse("cached@example.com").expect("email"),
                password_hash: PasswordHash::new("not-a-real-hash".into()),
                created_at: now(),
            },
        )
        .await
        .expect("user")
        .id;
        (stores, invalidation, cache, store, user)
    }

    async fn bio(stores: &Stores) -> Option<String> {
        stores
            .profiles
            .profile(&Username::parse("cached").expect("username"), None)
            .await
            .expect("read")
            .expect("found")
            .bio
    }

    async fn set_bio(store: &MemoryStore, user: UserId, bio: &str) {
        let changes = UserChanges {
            bio: Some(conduit_domain::user::Bio::parse(bio).expect("bio")),
            ..UserChanges::default()
        };
        UserStore::update(store, user, changes, now())
            .await
            .expect("updated");
    }

    #[tokio::test]
    async fn a_failing_cache_is_skipped_and_reported() {
        let (stores, invalidation, cache, store, user) = setup().await;
        assert_eq!(bio(&stores).await, None);
        cache.down.store(true, Ordering::SeqCst);
        set_bio(&store, user, "fresh").await;
        invalidation
            .publish(&DomainEvent::ProfileChanged { user })
            .await;
        // Read from the database, not failed.
        assert_eq!(bio(&stores).await.as_deref(), Some("fresh"));
        assert!(invalidation.degraded());
    }

    #[tokio::test]
    async fn entries_from_before_a_lost_invalidation_are_never_served() {
        let (stores, invalidation, cache, store, user) = setup().await;
        assert_eq!(bio(&stores).await, None); // cached
        cache.down.store(true, Ordering::SeqCst);
        set_bio(&store, user, "changed while down").await;
        // The invalidation is lost: the cache does not answer.
        invalidation
            .publish(&DomainEvent::ProfileChanged { user })
            .await;
        cache.down.store(false, Ordering::SeqCst);
        // The cache is back and still holds the old entry under current tags; the
        // decorator must retire it before using the cache again.
        assert_eq!(bio(&stores).await.as_deref(), Some("changed while down"));
        assert!(!invalidation.degraded());
        // And it is used again: a change behind its back is not seen.
        set_bio(&store, user, "unannounced").await;
        assert_eq!(bio(&stores).await.as_deref(), Some("changed while down"));
    }
}
