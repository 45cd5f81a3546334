//! The decorator when its cache fails.

use std::sync::atomic::{AtomicBool, Ordering};

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    cache::{CacheLookup, CacheTicket},
    events::DomainEvent,
    ports::{Cache, EventPublisher, Stores, UserStore},
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
    let (stores, invalidation) = cached(Stores::from_one(store.clone()), cache.clone(), settings);
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
    use conduit_domain::article::{
        ArticleBody, ArticleDescription, ArticleTitle, NewArticle, Slug,
    };
    conduit_domain::ports::ArticleStore::create(
        store,
        NewArticle {
            author_id: user,
            slug: Slug::parse(&title.to_lowercase().replace(' ', "-")).expect("slug"),
            title: ArticleTitle::parse(title).expect("title"),
            description: ArticleDescription::parse("d").expect("description"),
            body: ArticleBody::parse("b").expect("body"),
            tags: Vec::new(),
            created_at: now(),
        },
    )
    .await
    .expect("article")
}

async fn feed_titles(stores: &Stores, viewer: UserId) -> Vec<String> {
    stores
        .article_queries
        .feed(viewer, conduit_domain::article::Page::default())
        .await
        .expect("feed")
        .articles
        .into_iter()
        .map(|a| a.title)
        .collect()
}

/// The feed is served from the cache (a change no event announced is not seen), and
/// the events that can change it retire it: the reader's follow, the followed author's
/// article. Another reader's follow does not.
#[tokio::test]
async fn the_feed_is_cached_and_retired_by_its_events() {
    let (stores, invalidation, _cache, store, author) = setup().await;
    let reader = UserStore::create(
        &*store,
        NewUser {
            username: Username::parse("feedreader").expect("username"),
            email: Email::parse("feedreader@example.com").expect("email"),
            password_hash: PasswordHash::new("not-a-real-hash".into()),
            created_at: now(),
        },
    )
    .await
    .expect("user")
    .id;
    conduit_domain::ports::ProfileStore::follow(&*store, reader, author)
        .await
        .expect("follow");
    let event = |follower| DomainEvent::FollowChanged {
        follower,
        followee: author,
        following: true,
    };
    invalidation.publish(&event(reader)).await;
    assert!(feed_titles(&stores, reader).await.is_empty()); // cached
    let first = publish(&store, author, "Unannounced").await;
    assert!(
        feed_titles(&stores, reader).await.is_empty(),
        "the feed was not served from the cache"
    );
    // Another reader's follow leaves this reader's feed cached.
    invalidation.publish(&event(author)).await;
    assert!(feed_titles(&stores, reader).await.is_empty());
    invalidation
        .publish(&DomainEvent::ArticlePublished {
            article: first,
            author,
            slug: "unannounced".into(),
        })
        .await;
    assert_eq!(feed_titles(&stores, reader).await, ["Unannounced"]);
    // The reader's own follow change retires it too.
    publish(&store, author, "Second").await;
    invalidation.publish(&event(reader)).await;
    assert_eq!(
        feed_titles(&stores, reader).await,
        ["Second", "Unannounced"]
    );
}
