//! The decorator when its cache fails.

use std::sync::atomic::{AtomicBool, Ordering};

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    cache::{CacheLookup, CacheTicket},
    events::DomainEvent,
    ports::{ArticleQueries, Cache, EventPublisher, Stores, UserStore},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, UserChanges, Username},
};
use time::OffsetDateTime;

use super::{CacheInvalidation, CacheSettings, cached};
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
    async fn get(&self, key: &str) -> Result<CacheLookup, StoreError> {
        self.check()?;
        self.inner.get(key).await
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
    let (stores, invalidation) = cached(Stores::from_one(store.clone()), cache.clone(), settings);
    let user = registered(&store, "cached").await;
    (stores, invalidation, cache, store, user)
}

/// A user named `name` in `store`.
async fn registered(store: &MemoryStore, name: &str) -> UserId {
    UserStore::create(
        store,
        NewUser {
            username: Username::parse(name).expect("username"),
            email: Email::parse(&format!("{name}@example.com")).expect("email"),
            password_hash: PasswordHash::new("not-a-real-hash".into()),
            created_at: now(),
        },
    )
    .await
    .expect("user")
    .id
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
        bio: conduit_domain::user::Bio::parse(bio).expect("bio").into(),
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

/// `user` publishes an article titled `title` straight into `store` (no event).
async fn publish(store: &MemoryStore, user: UserId, title: &str) -> conduit_domain::ArticleId {
    publish_tagged(store, user, title, &[]).await
}

/// `user` publishes an article titled `title` with `tags` straight into `store` (no
/// event).
async fn publish_tagged(
    store: &MemoryStore,
    user: UserId,
    title: &str,
    tags: &[&str],
) -> conduit_domain::ArticleId {
    use conduit_domain::article::{
        ArticleBody, ArticleDescription, ArticleTitle, NewArticle, Slug, TagName,
    };
    conduit_domain::ports::ArticleStore::create(
        store,
        NewArticle {
            author_id: user,
            slug: Slug::parse(&title.to_lowercase().replace(' ', "-")).expect("slug"),
            title: ArticleTitle::parse(title).expect("title"),
            description: ArticleDescription::parse("d").expect("description"),
            body: ArticleBody::parse("b").expect("body"),
            tags: TagName::parse_list(tags).expect("tags"),
            created_at: now(),
        },
    )
    .await
    .expect("article")
}

/// A page rendered as its titles.
fn titles_page(found: conduit_domain::article::ArticlePage) -> conduit_domain::cache::RenderedPage {
    let shows = found.articles.iter().map(|a| a.id).collect();
    let titles: Vec<String> = found.articles.into_iter().map(|a| a.title).collect();
    conduit_domain::cache::RenderedPage {
        bytes: serde_json::to_vec(&titles).expect("json"),
        shows,
    }
}

/// `viewer`'s feed page through the rendered-page cache, rendered as its titles.
async fn feed_titles(
    rendered: &super::RenderedLists,
    store: &MemoryStore,
    viewer: UserId,
) -> Vec<String> {
    let page = conduit_domain::article::Page::default();
    let bytes = rendered
        .read_through_feed("titles", viewer, page, || async {
            let found = ArticleQueries::feed(store, viewer, page).await?;
            Ok::<_, StoreError>(titles_page(found))
        })
        .await
        .expect("feed");
    serde_json::from_slice(&bytes).expect("titles")
}

/// The feed's rendered page is served from the cache (a change no event announced is
/// not seen), and the events that can change it retire it: the reader's follow, the
/// followed author's article. Another reader's follow does not.
#[tokio::test]
async fn the_feed_is_cached_and_retired_by_its_events() {
    let (_stores, invalidation, _cache, store, author) = setup().await;
    let rendered = invalidation.rendered_lists();
    let reader = registered(&store, "feedreader").await;
    conduit_domain::ports::ProfileStore::follow(&*store, reader, author)
        .await
        .expect("follow");
    let event = |follower| DomainEvent::FollowChanged {
        follower,
        followee: author,
        following: true,
    };
    invalidation.publish(&event(reader)).await;
    assert!(feed_titles(&rendered, &store, reader).await.is_empty()); // cached
    let first = publish(&store, author, "Unannounced").await;
    assert!(
        feed_titles(&rendered, &store, reader).await.is_empty(),
        "the feed was not served from the cache"
    );
    // Another reader's follow leaves this reader's feed cached.
    invalidation.publish(&event(author)).await;
    assert!(feed_titles(&rendered, &store, reader).await.is_empty());
    invalidation
        .publish(&DomainEvent::ArticlePublished {
            article: first,
            author,
            slug: "unannounced".into(),
            tags: Vec::new(),
        })
        .await;
    assert_eq!(
        feed_titles(&rendered, &store, reader).await,
        ["Unannounced"]
    );
    // The reader's own follow change retires it too.
    publish(&store, author, "Second").await;
    invalidation.publish(&event(reader)).await;
    assert_eq!(
        feed_titles(&rendered, &store, reader).await,
        ["Second", "Unannounced"]
    );
}

/// The memory store's article reads, each list read counted and held at a gate until
/// the test opens it.
struct GatedLists {
    inner: Arc<MemoryStore>,
    reads: std::sync::atomic::AtomicUsize,
    gate: tokio::sync::Semaphore,
}

#[async_trait]
impl ArticleQueries for GatedLists {
    async fn article(
        &self,
        id: conduit_domain::ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Option<conduit_domain::article::ArticleView>, StoreError> {
        self.inner.article(id, viewer).await
    }
    async fn list(
        &self,
        filter: &conduit_domain::article::ArticleFilter,
        page: conduit_domain::article::Page,
        viewer: Option<UserId>,
    ) -> Result<conduit_domain::article::ArticlePage, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        // Read first, then wait: what the database answered is fixed before the wait.
        let found = self.inner.list(filter, page, viewer).await;
        drop(self.gate.acquire().await.expect("gate open"));
        found
    }
    async fn feed(
        &self,
        viewer: UserId,
        page: conduit_domain::article::Page,
    ) -> Result<conduit_domain::article::ArticlePage, StoreError> {
        self.inner.feed(viewer, page).await
    }
    async fn tags(&self, limit: u64) -> Result<Vec<String>, StoreError> {
        self.inner.tags(limit).await
    }
}

/// The decorated stores over a memory store whose list reads are gated.
fn gated() -> (
    Stores,
    Arc<CacheInvalidation>,
    Arc<MemoryStore>,
    Arc<GatedLists>,
) {
    let store = Arc::new(MemoryStore::new());
    let lists = Arc::new(GatedLists {
        inner: store.clone(),
        reads: 0.into(),
        gate: tokio::sync::Semaphore::new(0),
    });
    let inner = Stores {
        article_queries: lists.clone(),
        ..Stores::from_one(store.clone())
    };
    let (stores, invalidation) = cached(
        inner,
        Arc::new(MemoryCache::new(100)),
        CacheSettings::default(),
    );
    (stores, invalidation, store, lists)
}

/// Lets every spawned task run until it waits (the runtime of a `#[tokio::test]` has
/// one thread, and nothing here waits on anything but the gate and the flights).
async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

async fn global_titles(stores: &Stores) -> Vec<String> {
    let page = conduit_domain::article::Page::default();
    titles_of(stores, &Default::default(), page.limit, page.offset).await
}

/// Concurrent misses of one key read the database once: the others wait for that read
/// and are answered from what it stored.
#[tokio::test]
async fn concurrent_misses_of_one_key_read_once() {
    let (stores, _invalidation, store, lists) = gated();
    let author = registered(&store, "coalesced").await;
    publish(&store, author, "Only once").await;
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let stores = stores.clone();
            tokio::spawn(async move { global_titles(&stores).await })
        })
        .collect();
    settle().await;
    assert_eq!(lists.reads.load(Ordering::SeqCst), 1, "one read in flight");
    lists.gate.add_permits(100);
    for reader in readers {
        assert_eq!(reader.await.expect("reader"), ["Only once"]);
    }
    assert_eq!(lists.reads.load(Ordering::SeqCst), 1, "the others waited");
}

/// A write announced while the first miss is loading refuses that load's store, and the
/// misses that waited for it load again: none of them is answered with the old page.
#[tokio::test]
async fn misses_that_waited_on_a_load_overtaken_by_a_write_load_again() {
    let (stores, invalidation, store, lists) = gated();
    let author = registered(&store, "overtaken").await;
    let first = {
        let stores = stores.clone();
        tokio::spawn(async move { global_titles(&stores).await })
    };
    settle().await; // the first load has read the empty list and waits at the gate
    let article = publish(&store, author, "Written meanwhile").await;
    invalidation
        .publish(&DomainEvent::ArticlePublished {
            article,
            author,
            slug: "written-meanwhile".into(),
            tags: Vec::new(),
        })
        .await;
    let after_write: Vec<_> = (0..4)
        .map(|_| {
            let stores = stores.clone();
            tokio::spawn(async move { global_titles(&stores).await })
        })
        .collect();
    settle().await;
    lists.gate.add_permits(100);
    // The first read began before the write: the empty page is its right answer.
    assert!(first.await.expect("first").is_empty());
    for reader in after_write {
        assert_eq!(reader.await.expect("reader"), ["Written meanwhile"]);
    }
    assert_eq!(global_titles(&stores).await, ["Written meanwhile"]);
}

/// The titles of a page of the list `filter` selects, read anonymously through the
/// decorator.
async fn titles_of(
    stores: &Stores,
    filter: &conduit_domain::article::ArticleFilter,
    limit: u64,
    offset: u64,
) -> Vec<String> {
    let page = conduit_domain::article::Page { limit, offset };
    stores
        .article_queries
        .list(filter, page, None)
        .await
        .expect("list")
        .articles
        .into_iter()
        .map(|a| a.title)
        .collect()
}

fn tagged(tag: &str) -> conduit_domain::article::ArticleFilter {
    conduit_domain::article::ArticleFilter {
        tag: Some(conduit_domain::article::TagName::parse(tag).expect("tag")),
        ..Default::default()
    }
}

/// A favorite retires the pages that show its article and no other: the page that does
/// not show it keeps being served from the cache (an unannounced new article is not
/// seen on it), the one that shows it is read again.
#[tokio::test]
async fn a_favorite_retires_only_the_pages_that_show_its_article() {
    let (stores, invalidation, _cache, store, author) = setup().await;
    let all = conduit_domain::article::ArticleFilter::default();
    let older = publish(&store, author, "Older").await;
    publish(&store, author, "Newer").await;
    assert_eq!(titles_of(&stores, &all, 1, 0).await, ["Newer"]);
    assert_eq!(titles_of(&stores, &all, 1, 1).await, ["Older"]);
    publish(&store, author, "Unannounced").await;
    conduit_domain::ports::ArticleStore::favorite(&*store, author, older)
        .await
        .expect("favorite");
    invalidation
        .publish(&DomainEvent::FavoriteChanged {
            article: older,
            user: author,
            favorited: true,
        })
        .await;
    assert_eq!(
        titles_of(&stores, &all, 1, 0).await,
        ["Newer"],
        "a page without the article stays cached"
    );
    assert_eq!(
        titles_of(&stores, &all, 1, 1).await,
        ["Newer"],
        "the page that showed the article was read again"
    );
}

/// A new article retires the lists it joins (the unfiltered list and its tags' lists,
/// whatever the tag's case) and not the lists of other tags.
#[tokio::test]
async fn a_new_article_retires_only_the_lists_it_joins() {
    let (stores, invalidation, _cache, store, author) = setup().await;
    let all = conduit_domain::article::ArticleFilter::default();
    for filter in [&all, &tagged("rust"), &tagged("go")] {
        assert!(titles_of(&stores, filter, 20, 0).await.is_empty());
    }
    publish_tagged(&store, author, "Unannounced go", &["go"]).await;
    let article = publish_tagged(&store, author, "Announced rust", &["rust"]).await;
    invalidation
        .publish(&DomainEvent::ArticlePublished {
            article,
            author,
            slug: "announced-rust".into(),
            tags: vec!["Rust".into()],
        })
        .await;
    assert!(
        titles_of(&stores, &tagged("go"), 20, 0).await.is_empty(),
        "another tag's list stays cached"
    );
    assert_eq!(
        titles_of(&stores, &tagged("rust"), 20, 0).await,
        ["Announced rust"]
    );
    assert_eq!(
        titles_of(&stores, &all, 20, 0).await,
        ["Announced rust", "Unannounced go"]
    );
    // Replacing an article's tags retires every tag's list.
    invalidation
        .publish(&DomainEvent::ArticleEdited {
            article,
            old_slug: "announced-rust".into(),
            new_slug: "announced-rust".into(),
            tags_changed: true,
        })
        .await;
    assert_eq!(
        titles_of(&stores, &tagged("go"), 20, 0).await,
        ["Unannounced go"]
    );
}

/// A feed page is retired by a new article of an author its reader follows, and not by
/// one of an author they do not follow.
#[tokio::test]
async fn the_feed_is_retired_by_its_authors_articles_only() {
    let (_stores, invalidation, _cache, store, followed) = setup().await;
    let rendered = invalidation.rendered_lists();
    let reader = registered(&store, "reader").await;
    let stranger = registered(&store, "stranger").await;
    conduit_domain::ports::ProfileStore::follow(&*store, reader, followed)
        .await
        .expect("follow");
    assert!(feed_titles(&rendered, &store, reader).await.is_empty());
    let unannounced = publish(&store, followed, "Unannounced").await;
    let elsewhere = publish(&store, stranger, "Elsewhere").await;
    let published = |article, author, slug: &str| DomainEvent::ArticlePublished {
        article,
        author,
        slug: slug.into(),
        tags: Vec::new(),
    };
    invalidation
        .publish(&published(elsewhere, stranger, "elsewhere"))
        .await;
    assert!(
        feed_titles(&rendered, &store, reader).await.is_empty(),
        "an unfollowed author's article leaves the feed cached"
    );
    invalidation
        .publish(&published(unannounced, followed, "unannounced"))
        .await;
    assert_eq!(
        feed_titles(&rendered, &store, reader).await,
        ["Unannounced"]
    );
}
