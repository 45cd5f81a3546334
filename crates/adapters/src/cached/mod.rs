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
//! An entry's tags are decided when it is stored, from its key and from what was read:
//! a list page depends on the articles it shows, known only after reading it (the
//! [`Cache`] protocol allows that).
//!
//! | entry | key | tags |
//! |---|---|---|
//! | article list page | filter (search terms included), page, viewer | `lists`, `profiles`, `follows:<viewer>`, the list's own (below), `article:<id>` of each article shown |
//! | feed page (rendered only, [`RenderedLists`]) | viewer, page | `lists`, `profiles`, `follows:<viewer>`, `posts:<author>` of each author followed (or `posts` beyond 100), `article:<id>` of each article shown |
//! | tags | limit | `tags` |
//! | one article | id, viewer | `article:<id>`, `profiles`, `follows:<viewer>` |
//! | slug lookup | slug | `slug:<slug>` |
//! | comments of an article | article, viewer | `comments:<article>`, `profiles`, `follows:<viewer>` |
//! | profile | username, viewer | `profiles`, `follows:<viewer>` |
//!
//! A list's own tags say which articles can join or leave it: `list:all` (no filter),
//! `list:tags` and `list:tag:<tag>` (a tag filter), `list:authors` (an author filter),
//! `list:favorites` (a favoriter filter), `list:search` (a search); a list with several
//! filters has each one's.
//!
//! | event | retires |
//! |---|---|
//! | article published | `list:all`, `list:tag:<t>` of each of its tags, `list:authors`, `list:search`, `posts:<author>`, `posts`, `tags`, its `article:`/`slug:` |
//! | article edited | `article:<id>`, `list:search`, its slugs; with its tags replaced, `list:tags` and `tags` |
//! | article deleted | `lists` (it leaves every list, and later pages move up), `tags`, its `article:`/`slug:`/`comments:` |
//! | favorite changed | `article:<id>` (its count, the `favorited` flag), `list:favorites` |
//! | follow changed | `follows:<follower>` |
//! | comment added or deleted | `comments:<article>` |
//! | profile changed | `profiles` |
//!
//! So a favorite retires only the pages that show the article (and favoriter lists), a
//! new article only the lists it joins and its author's followers' feeds, and nothing
//! but the reader's own follows retires their feed's authors.
//!
//! Every entry also depends on [`EPOCH_TAG`](conduit_domain::cache::EPOCH_TAG). Entries are per viewer (anonymous viewers
//! share one), so `favorited` and `following` are never served to another viewer.
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
use keys::{
    LIST_ALL, LIST_AUTHORS, LIST_FAVORITES, LIST_SEARCH, LIST_TAGS, LISTS, POSTS, PROFILES, TAGS,
    article_tag, comments_tag, follows_tag, list_tag_tag, posts_tag, slug_tag,
};
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
    let invalidation = Arc::new(CacheInvalidation {
        guard,
        profiles: inner.profiles.clone(),
    });
    let stores = Stores {
        users: inner.users,
        profiles: reads.clone(),
        articles: reads.clone(),
        article_queries: reads.clone(),
        comments: reads,
    };
    (stores, invalidation)
}

/// The tags each event invalidates.
pub fn tags_for(event: &DomainEvent) -> Vec<String> {
    match event {
        DomainEvent::ArticlePublished {
            article,
            author,
            slug,
            tags,
        } => {
            let mut retired: Vec<String> = [TAGS, LIST_ALL, LIST_AUTHORS, LIST_SEARCH, POSTS]
                .map(String::from)
                .into();
            retired.extend([article_tag(*article), slug_tag(slug), posts_tag(*author)]);
            retired.extend(tags.iter().map(|tag| list_tag_tag(tag)));
            retired
        }
        DomainEvent::ArticleEdited {
            article,
            old_slug,
            new_slug,
            tags_changed,
        } => {
            let mut retired = vec![
                LIST_SEARCH.into(),
                article_tag(*article),
                slug_tag(old_slug),
            ];
            if new_slug != old_slug {
                retired.push(slug_tag(new_slug));
            }
            if *tags_changed {
                retired.extend([TAGS.into(), LIST_TAGS.into()]);
            }
            retired
        }
        DomainEvent::ArticleDeleted { article, slug } => vec![
            LISTS.into(),
            TAGS.into(),
            article_tag(*article),
            slug_tag(slug),
            comments_tag(*article),
        ],
        DomainEvent::FavoriteChanged { article, .. } => {
            vec![LIST_FAVORITES.into(), article_tag(*article)]
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
    profiles: Arc<dyn conduit_domain::ports::ProfileStore>,
}

impl CacheInvalidation {
    /// The cache of rendered article lists, under the same guard and invalidation.
    pub fn rendered_lists(&self) -> RenderedLists {
        RenderedLists {
            guard: self.guard.clone(),
            profiles: self.profiles.clone(),
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
