//! Rendered article-list pages, cached next to the decorator's entries.

use std::{future::Future, sync::Arc};

use conduit_domain::{
    UserId,
    article::{ArticleSelection, Page},
    cache::{CacheTicket, RenderedPage},
    ports::ProfileStore,
};

use super::{
    guard::{Flight, Guard, Lookup},
    keys::{FOLLOWEES_TRACKED, FORMAT, feed_key, feed_tags, list_key, list_tags},
};

/// Article-list pages as the HTTP layer renders them, cached next to the decorator's
/// entries: the same key parts and the same tags as the list entry of the decorator, so
/// the same events retire them, under the same guard (time limits, skipping a failing
/// cache, retiring everything after a lost invalidation).
///
/// The decorator saves the database read; this saves the rest of a hit's work too
/// (decoding the entry, converting it to the response types, encoding the JSON), which
/// is most of the CPU a cached list costs (docs/performance.md, ADR 0019). The global
/// list, its filters and the feed use it: they are the hottest reads.
#[derive(Clone)]
pub struct RenderedLists {
    pub(super) guard: Arc<Guard>,
    /// Whom a reader follows, read on a miss of their feed: its page is retired by those
    /// authors' new articles.
    pub(super) profiles: Arc<dyn ProfileStore>,
}

impl std::fmt::Debug for RenderedLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedLists").finish_non_exhaustive()
    }
}

impl RenderedLists {
    /// The rendered page of `selection` and `page` as `viewer` sees it, from the cache or
    /// from `render` (then stored under the tags of the list and of the articles it
    /// shows). A selection that matches nothing is rendered, never cached: it reads no
    /// database, and its values would only fill the cache. `representation` names the
    /// rendering (media type and its version): a change of the response body's shape must
    /// change it, so that instances of two versions never serve each other's bodies.
    pub async fn read_through<E, F, Fut>(
        &self,
        representation: &str,
        selection: &ArticleSelection,
        page: Page,
        viewer: Option<UserId>,
        render: F,
    ) -> Result<Vec<u8>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<RenderedPage, E>>,
    {
        let ArticleSelection::Filtered(filter) = selection else {
            return Ok(render().await?.bytes);
        };
        let key = format!(
            "{FORMAT}:r:{representation}:{}",
            list_key(filter, page, viewer)
        );
        let (ticket, _flight) = match self.lookup(&key).await {
            Ok(bytes) => return Ok(bytes),
            Err(miss) => miss,
        };
        let rendered = render().await?;
        if let Some(ticket) = ticket {
            let tags = list_tags(filter, viewer, rendered.shows.iter().copied());
            self.guard
                .store(&key, &tags, &rendered.bytes, &ticket)
                .await;
        }
        Ok(rendered.bytes)
    }

    /// The rendered page of `viewer`'s feed, from the cache or from `render` (then
    /// stored under [`feed_tags`](super::keys::feed_tags): retired by the new articles
    /// of the authors `viewer` follows, changes of the articles it shows, profile
    /// changes and `viewer`'s own follows).
    pub async fn read_through_feed<E, F, Fut>(
        &self,
        representation: &str,
        viewer: UserId,
        page: Page,
        render: F,
    ) -> Result<Vec<u8>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<RenderedPage, E>>,
    {
        let key = format!("{FORMAT}:r:{representation}:{}", feed_key(viewer, page));
        let (ticket, _flight) = match self.lookup(&key).await {
            Ok(bytes) => return Ok(bytes),
            Err(miss) => miss,
        };
        // Read after the ticket was taken, like the page: a follow in between retires
        // `follows:<viewer>` and the page is not stored.
        let followees = match ticket {
            Some(_) => self
                .profiles
                .followees(viewer, FOLLOWEES_TRACKED + 1)
                .await
                .inspect_err(|err| {
                    tracing::debug!(target: "cache", error = %err, "whom the reader follows is unknown: the feed page is not stored");
                })
                .ok(),
            None => None,
        };
        let rendered = render().await?;
        if let (Some(ticket), Some(followees)) = (ticket, followees) {
            let tags = feed_tags(viewer, &followees, rendered.shows.iter().copied());
            self.guard
                .store(&key, &tags, &rendered.bytes, &ticket)
                .await;
        }
        Ok(rendered.bytes)
    }

    /// Looks `key` up, counting a hit; on a miss, the ticket and the key's flight, held
    /// until the page is stored (concurrent misses wait for it).
    async fn lookup(
        &self,
        key: &str,
    ) -> Result<Vec<u8>, (Option<CacheTicket>, Option<Flight<'_>>)> {
        let found = self.guard.lookup_coalesced(key).await;
        if found.is_ok() {
            self.guard.count(Lookup::Hit);
        }
        found
    }
}
