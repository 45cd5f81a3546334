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
//! | article list page | filter (search terms included), page, viewer | `articles`, `profiles`, `follows:<viewer>` |
//! | feed page (rendered only, [`RenderedLists`]) | viewer, page | `articles`, `profiles`, `follows:<viewer>` |
//! | tags | limit | `articles` |
//! | one article | id, viewer | `article:<id>`, `profiles`, `follows:<viewer>` |
//! | slug lookup | slug | `slug:<slug>` |
//! | comments of an article | article, viewer | `comments:<article>`, `profiles`, `follows:<viewer>` |
//! | profile | username, viewer | `profiles`, `follows:<viewer>` |
//!
//! Every entry also depends on [`EPOCH_TAG`]. Entries are per viewer (anonymous viewers
//! share one), so `favorited` and `following` are never served to another viewer. A
//! feed page is retired by what retires its viewer's list pages: any article write or
//! favorite (`articles`: a followed author's new, edited or deleted article, and every
//! count), any profile change (`profiles`) and the viewer's own follows and unfollows
//! (`follows:<viewer>`).
//!
//! Nothing is stored for "not found": a name or slug that appears later then needs no
//! invalidation.
//!
//! # Concurrent misses
//!
//! Misses of one key while its load is in flight in this process wait for that load and
//! look again, instead of each reading the database (a write retires a popular page and
//! every request for it misses at once). A load overtaken by an invalidation is refused
//! by the cache's ticket, as always, and its waiters then load again, so coalescing
//! never serves what a miss alone would not. Each instance coalesces its own misses.
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

mod guard;
mod keys;
mod layout;
mod rendered;
mod stores;
#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use conduit_domain::{
    events::DomainEvent,
    ports::{Cache, EventPublisher, Stores},
};

pub use guard::CACHE_LOOKUPS;
use guard::Guard;
use keys::{ARTICLES, PROFILES, article_tag, comments_tag, follows_tag, slug_tag};
pub use rendered::RenderedLists;
use stores::CachedStores;

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
