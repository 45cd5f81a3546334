//! Articles: writing, reading, listing, favorites and tags.

use conduit_domain::{
    ArticleId, Error, Resource, StoreError, UniqueField, UserId,
    article::{
        ArticleBody, ArticleChanges, ArticleDescription, ArticlePage, ArticleRef, ArticleSelection,
        ArticleTitle, ArticleView, NewArticle, Page, Slug, TagName,
    },
    events::DomainEvent,
};

use crate::Conduit;

/// How many differently-suffixed slugs to try before giving up with a conflict.
const SLUG_ATTEMPTS: usize = 5;
/// Most tags `GET /tags` returns.
const TAGS_LIMIT: u64 = 500;

/// Input of article creation.
#[derive(Debug, Clone)]
pub struct CreateArticle {
    /// Title; the slug is derived from it.
    pub title: ArticleTitle,
    /// Description.
    pub description: ArticleDescription,
    /// Body.
    pub body: ArticleBody,
    /// Tags, in order, without duplicates.
    pub tags: Vec<TagName>,
}

/// Input of an article update; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct UpdateArticle {
    /// New title; a different title gives the article a new slug.
    pub title: Option<ArticleTitle>,
    /// New description.
    pub description: Option<ArticleDescription>,
    /// New body.
    pub body: Option<ArticleBody>,
    /// New tags, replacing the old ones; `Some(vec![])` removes them all.
    pub tags: Option<Vec<TagName>>,
}

impl UpdateArticle {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.body.is_none()
            && self.tags.is_none()
    }
}

impl Conduit {
    /// Publishes an article by `author`. Repeated titles get distinct slugs.
    #[tracing::instrument(skip(self, input))]
    pub async fn create_article(
        &self,
        author: UserId,
        input: CreateArticle,
    ) -> Result<ArticleView, Error> {
        let now = self.ports.clock.now();
        let store = &self.ports.stores.articles;
        let (id, slug) = self
            .with_unique_slug(&input.title, |slug| {
                store.create(NewArticle {
                    author_id: author,
                    slug,
                    title: input.title.clone(),
                    description: input.description.clone(),
                    body: input.body.clone(),
                    tags: input.tags.clone(),
                    created_at: now,
                })
            })
            .await?;
        self.announce(DomainEvent::ArticlePublished {
            article: id,
            author,
            slug: slug.as_str().to_owned(),
            tags: input.tags.iter().map(|t| t.as_str().to_owned()).collect(),
        })
        .await;
        self.article_by_id(id, Some(author)).await
    }

    /// One article as `viewer` sees it.
    #[tracing::instrument(skip(self))]
    pub async fn article(&self, slug: &str, viewer: Option<UserId>) -> Result<ArticleView, Error> {
        let found = self.find_article(slug).await?;
        self.article_by_id(found.id, viewer).await
    }

    /// Changes an article; only its author may.
    #[tracing::instrument(skip(self, input))]
    pub async fn update_article(
        &self,
        user: UserId,
        slug: &str,
        input: UpdateArticle,
    ) -> Result<ArticleView, Error> {
        let current = self.own_article(user, slug).await?;
        if input.is_empty() {
            return self.article_by_id(current.id, Some(user)).await;
        }
        let updated_at = self.ports.clock.now().later_than(current.updated_at);
        let retitled = input
            .title
            .as_ref()
            .filter(|t| t.as_str() != current.title)
            .cloned();
        let tags_changed = input.tags.is_some();
        let changes = ArticleChanges {
            slug: None,
            title: input.title,
            description: input.description,
            body: input.body,
            tags: input.tags,
            updated_at,
        };
        let store = &self.ports.stores.articles;
        let (existed, new_slug) = match retitled {
            Some(title) => {
                let (existed, slug) = self
                    .with_unique_slug(&title, |slug| {
                        store.update(
                            current.id,
                            ArticleChanges {
                                slug: Some(slug),
                                ..changes.clone()
                            },
                        )
                    })
                    .await?;
                (existed, slug.as_str().to_owned())
            }
            None => (
                store.update(current.id, changes).await?,
                current.slug.clone(),
            ),
        };
        if !existed {
            return Err(Error::NotFound(Resource::Article));
        }
        self.announce(DomainEvent::ArticleEdited {
            article: current.id,
            old_slug: current.slug,
            new_slug,
            tags_changed,
        })
        .await;
        self.article_by_id(current.id, Some(user)).await
    }

    /// Deletes an article with its comments and favorites; only its author may.
    #[tracing::instrument(skip(self))]
    pub async fn delete_article(&self, user: UserId, slug: &str) -> Result<(), Error> {
        let current = self.own_article(user, slug).await?;
        if self.ports.stores.articles.delete(current.id).await? {
            self.announce(DomainEvent::ArticleDeleted {
                article: current.id,
                slug: current.slug,
            })
            .await;
            Ok(())
        } else {
            Err(Error::NotFound(Resource::Article))
        }
    }

    /// Marks the article as a favorite of `user`; idempotent.
    #[tracing::instrument(skip(self))]
    pub async fn favorite(&self, user: UserId, slug: &str) -> Result<ArticleView, Error> {
        let found = self.find_article(slug).await?;
        self.ports.stores.articles.favorite(user, found.id).await?;
        self.announce(DomainEvent::FavoriteChanged {
            article: found.id,
            user,
            favorited: true,
        })
        .await;
        self.article_by_id(found.id, Some(user)).await
    }

    /// Removes the article from `user`'s favorites; idempotent.
    #[tracing::instrument(skip(self))]
    pub async fn unfavorite(&self, user: UserId, slug: &str) -> Result<ArticleView, Error> {
        let found = self.find_article(slug).await?;
        self.ports
            .stores
            .articles
            .unfavorite(user, found.id)
            .await?;
        self.announce(DomainEvent::FavoriteChanged {
            article: found.id,
            user,
            favorited: false,
        })
        .await;
        self.article_by_id(found.id, Some(user)).await
    }

    /// Articles matching `selection`, most recent first; none when it matches nothing.
    #[tracing::instrument(skip(self))]
    pub async fn list_articles(
        &self,
        selection: ArticleSelection,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, Error> {
        let ArticleSelection::Filtered(filter) = selection else {
            return Ok(ArticlePage::default());
        };
        Ok(self
            .ports
            .stores
            .article_queries
            .list(&filter, page, viewer)
            .await?)
    }

    /// Articles by the authors `viewer` follows, most recent first.
    #[tracing::instrument(skip(self))]
    pub async fn feed(&self, viewer: UserId, page: Page) -> Result<ArticlePage, Error> {
        Ok(self.ports.stores.article_queries.feed(viewer, page).await?)
    }

    /// Tags in use, most used first.
    #[tracing::instrument(skip(self))]
    pub async fn tags(&self) -> Result<Vec<String>, Error> {
        Ok(self.ports.stores.article_queries.tags(TAGS_LIMIT).await?)
    }

    /// The article with this slug, or `NotFound(Article)`. A string that cannot be a
    /// slug is simply not found.
    pub(crate) async fn find_article(&self, slug: &str) -> Result<ArticleRef, Error> {
        let slug = Slug::parse(slug).map_err(|_| Error::NotFound(Resource::Article))?;
        self.ports
            .stores
            .articles
            .by_slug(&slug)
            .await?
            .ok_or(Error::NotFound(Resource::Article))
    }

    async fn own_article(&self, user: UserId, slug: &str) -> Result<ArticleRef, Error> {
        let found = self.find_article(slug).await?;
        if found.author_id != user {
            return Err(Error::Forbidden(Resource::Article));
        }
        Ok(found)
    }

    async fn article_by_id(
        &self,
        id: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<ArticleView, Error> {
        self.ports
            .stores
            .article_queries
            .article(id, viewer)
            .await?
            .ok_or(Error::NotFound(Resource::Article))
    }

    /// Runs `write` with the title's plain slug, then with random suffixes while the
    /// slug is taken. The unique index decides, so concurrent writers never share a slug.
    /// Returns what `write` returned and the slug it was given.
    async fn with_unique_slug<T, F, Fut>(
        &self,
        title: &ArticleTitle,
        mut write: F,
    ) -> Result<(T, Slug), Error>
    where
        F: FnMut(Slug) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut suffix = None;
        for _ in 0..SLUG_ATTEMPTS {
            let slug = Slug::from_title(title, suffix.as_deref());
            match write(slug.clone()).await {
                Err(StoreError::Duplicate(UniqueField::Slug)) => {
                    suffix = Some(self.ports.slugs.next_suffix());
                }
                other => return Ok((other?, slug)),
            }
        }
        Err(Error::Conflict(UniqueField::Slug))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{conduit, user};

    fn draft(title: &str, tags: &[&str]) -> CreateArticle {
        CreateArticle {
            title: ArticleTitle::parse(title).expect("title"),
            description: ArticleDescription::parse("desc").expect("description"),
            body: ArticleBody::parse("body").expect("body"),
            tags: TagName::parse_list(tags).expect("tags"),
        }
    }

    #[tokio::test]
    async fn repeated_titles_get_distinct_slugs() {
        let app = conduit();
        let me = user(&app, "writer").await;
        let first = app
            .create_article(me, draft("Same Title", &[]))
            .await
            .expect("created");
        let second = app
            .create_article(me, draft("Same Title", &[]))
            .await
            .expect("created");
        assert_eq!(first.summary.slug, "same-title");
        assert_ne!(first.summary.slug, second.summary.slug);
        assert!(second.summary.slug.starts_with("same-title-"));
    }

    #[tokio::test]
    async fn only_the_author_edits_or_deletes() {
        let app = conduit();
        let author = user(&app, "author").await;
        let other = user(&app, "other").await;
        let slug = app
            .create_article(author, draft("Mine", &["a"]))
            .await
            .expect("created")
            .summary
            .slug;
        let edit = UpdateArticle {
            body: Some(ArticleBody::parse("hijacked").expect("body")),
            ..UpdateArticle::default()
        };
        assert!(matches!(
            app.update_article(other, &slug, edit).await,
            Err(Error::Forbidden(Resource::Article))
        ));
        assert!(matches!(
            app.delete_article(other, &slug).await,
            Err(Error::Forbidden(Resource::Article))
        ));
        assert_eq!(
            app.article(&slug, None).await.expect("still there").body,
            "body"
        );
        app.delete_article(author, &slug).await.expect("deleted");
        assert!(matches!(
            app.article(&slug, None).await,
            Err(Error::NotFound(Resource::Article))
        ));
    }

    #[tokio::test]
    async fn retitling_changes_the_slug_and_moves_updated_at() {
        let app = conduit();
        let me = user(&app, "editor").await;
        let created = app
            .create_article(me, draft("Old Title", &["x", "y"]))
            .await
            .expect("created");
        let input = UpdateArticle {
            title: Some(ArticleTitle::parse("New Title").expect("title")),
            ..UpdateArticle::default()
        };
        let updated = app
            .update_article(me, &created.summary.slug, input)
            .await
            .expect("updated");
        assert_eq!(updated.summary.slug, "new-title");
        assert_eq!(updated.summary.tags, ["x", "y"]);
        assert!(updated.summary.updated_at > created.summary.updated_at);
        assert_eq!(updated.summary.created_at, created.summary.created_at);
        assert!(app.article("old-title", None).await.is_err());
    }

    #[tokio::test]
    async fn favorites_count_once_per_user() {
        let app = conduit();
        let author = user(&app, "fav_author").await;
        let fan = user(&app, "fav_fan").await;
        let slug = app
            .create_article(author, draft("Fav", &[]))
            .await
            .expect("created")
            .summary
            .slug;
        app.favorite(fan, &slug).await.expect("favorited");
        let twice = app.favorite(fan, &slug).await.expect("favorited twice");
        assert!(twice.summary.favorited);
        assert_eq!(twice.summary.favorites_count, 1);
        let seen_by_author = app.article(&slug, Some(author)).await.expect("read");
        assert!(!seen_by_author.summary.favorited);
        let undone = app.unfavorite(fan, &slug).await.expect("unfavorited");
        assert_eq!(
            (undone.summary.favorited, undone.summary.favorites_count),
            (false, 0)
        );
    }

    #[tokio::test]
    async fn malformed_slugs_are_not_found() {
        let app = conduit();
        let me = user(&app, "prober").await;
        assert!(matches!(
            app.article("../etc/passwd", None).await,
            Err(Error::NotFound(Resource::Article))
        ));
        assert!(matches!(
            app.favorite(me, "NOPE").await,
            Err(Error::NotFound(Resource::Article))
        ));
    }
}
