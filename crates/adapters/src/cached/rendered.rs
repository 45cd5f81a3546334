//! Rendered article-list pages, cached next to the decorator's entries.

use std::{future::Future, sync::Arc};

use conduit_domain::{
    UserId,
    article::{ArticleSelection, Page},
};

use super::{
    guard::{Guard, Lookup},
    keys::{FORMAT, feed_key, list_key, list_tags},
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
}

impl std::fmt::Debug for RenderedLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedLists").finish_non_exhaustive()
    }
}

impl RenderedLists {
    /// The rendered page of `selection` and `page` as `viewer` sees it, from the cache or
    /// from `render` (then stored). A selection that matches nothing is rendered, never
    /// cached: it reads no database, and its values would only fill the cache. `representation` names the rendering (media type and
    /// its version): a change of the response body's shape must change it, so that
    /// instances of two versions never serve each other's bodies.
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
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        let ArticleSelection::Filtered(filter) = selection else {
            return render().await;
        };
        let key = format!(
            "{FORMAT}:r:{representation}:{}",
            list_key(filter, page, viewer)
        );
        self.cached(key, list_tags(viewer), render).await
    }

    /// The rendered page of `viewer`'s feed, from the cache or from `render` (then
    /// stored): the feed's only cache entry, retired by what retires `viewer`'s list
    /// pages (see `keys::feed_key`).
    pub async fn read_through_feed<E, F, Fut>(
        &self,
        representation: &str,
        viewer: UserId,
        page: Page,
        render: F,
    ) -> Result<Vec<u8>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        let key = format!("{FORMAT}:r:{representation}:{}", feed_key(viewer, page));
        self.cached(key, list_tags(Some(viewer)), render).await
    }

    async fn cached<E, F, Fut>(
        &self,
        key: String,
        tags: Vec<String>,
        render: F,
    ) -> Result<Vec<u8>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        // `_flight` is held until the page is stored: concurrent misses wait for it.
        let (ticket, _flight) = match self.guard.lookup_coalesced(&key, &tags).await {
            Ok(bytes) => {
                self.guard.count(Lookup::Hit);
                return Ok(bytes);
            }
            Err(miss) => miss,
        };
        let bytes = render().await?;
        if let Some(ticket) = ticket {
            self.guard.store(&key, &tags, &bytes, &ticket).await;
        }
        Ok(bytes)
    }
}
