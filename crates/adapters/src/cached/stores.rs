//! The decorated ports: reads through the cache, writes straight to the inner stores.

use std::sync::Arc;

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, CommentId, StoreError, UserId,
    article::{
        ArticleChanges, ArticleFilter, ArticlePage, ArticleRef, ArticleView, NewArticle, Page, Slug,
    },
    comment::{CommentRef, CommentView, NewComment},
    ports::{ArticleQueries, ArticleStore, CommentStore, ProfileStore, Stores},
    user::{Profile, Username},
};

use super::{
    guard::Guard,
    keys::{
        PROFILES, TAGS, article_tag, comments_tag, list_key, list_tags, slug_tag, tags, viewer_key,
    },
    layout::Cached,
};

/// The decorated ports.
pub(super) struct CachedStores {
    pub(super) inner: Stores,
    pub(super) guard: Arc<Guard>,
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
                |found: &Option<Cached<Profile>>| {
                    found.is_some().then(|| tags(&[PROFILES.into()], viewer))
                },
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

    async fn followees(&self, follower: UserId, limit: u64) -> Result<Vec<UserId>, StoreError> {
        self.inner.profiles.followees(follower, limit).await
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
                |found: &Option<Cached<ArticleRef>>| {
                    found
                        .is_some()
                        .then(|| tags(&[slug_tag(slug.as_str())], None))
                },
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
                |found: &Option<Cached<ArticleView>>| {
                    found
                        .is_some()
                        .then(|| tags(&[article_tag(id), PROFILES.into()], viewer))
                },
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
                |found: &Cached<ArticlePage>| {
                    Some(list_tags(
                        filter,
                        viewer,
                        found.0.articles.iter().map(|article| article.id),
                    ))
                },
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

    /// Not cached here: the feed's cache is its rendered page ([`super::RenderedLists`]),
    /// the only way the API reads it. An entry here would be retired by the same tags at
    /// the same moments, so behind the rendered page it could only add two round trips
    /// to the cache to every miss (measured: the feed's p99 in mixed traffic went from 7
    /// to 12 ms with both, docs/performance.md).
    async fn feed(&self, viewer: UserId, page: Page) -> Result<ArticlePage, StoreError> {
        self.inner.article_queries.feed(viewer, page).await
    }

    async fn tags(&self, limit: u64) -> Result<Vec<String>, StoreError> {
        self.guard
            .read_through(
                format!("t:{limit}"),
                |_| Some(tags(&[TAGS.into()], None)),
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
                |_| Some(tags(&[comments_tag(article), PROFILES.into()], viewer)),
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
