//! The contract of [`Cache`]: what every adapter must do, written once and run against
//! each backend by `main.rs`.
//!
//! Tickets are opaque: the tests only hand them back, never read them. What they check is
//! the protocol of `conduit_domain::cache`: a hit only while none of the entry's tags was
//! invalidated since its ticket was taken, and never a value read before an invalidation
//! once that invalidation is done.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use conduit_domain::{
    cache::{CacheLookup, CacheTicket},
    ports::Cache,
};

/// What a test works on: two fresh, empty caches of one kind that share nothing (two
/// instances, or two key prefixes on one server).
pub struct Subject {
    /// The cache under test.
    pub cache: Arc<dyn Cache>,
    /// Another cache of the same kind, to check that caches are isolated.
    pub other: Arc<dyn Cache>,
}

/// A time to live that no test outlives.
const LONG: Duration = Duration::from_secs(300);

/// Invalidations the writer makes in the race test.
const ROUNDS: u64 = 1_000;

/// Readers racing the writer in the race test.
const READERS: usize = 4;

fn tags(names: &[&str]) -> Vec<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

async fn lookup(cache: &dyn Cache, key: &str) -> CacheLookup {
    cache
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("looking {key} up: {e}"))
}

/// The ticket of a lookup that must miss.
async fn miss(cache: &dyn Cache, key: &str) -> CacheTicket {
    match lookup(cache, key).await {
        CacheLookup::Miss(ticket) => ticket,
        CacheLookup::Hit(value) => panic!("{key}: expected a miss, got {value:?}"),
    }
}

/// The value of a lookup that must hit.
async fn hit(cache: &dyn Cache, key: &str) -> Vec<u8> {
    match lookup(cache, key).await {
        CacheLookup::Hit(value) => value,
        CacheLookup::Miss(ticket) => panic!("{key}: expected a hit, got {ticket:?}"),
    }
}

async fn put(
    cache: &dyn Cache,
    key: &str,
    tags: &[String],
    value: &[u8],
    ticket: &CacheTicket,
    ttl: Duration,
) {
    cache
        .put(key, tags, value, ticket, ttl)
        .await
        .unwrap_or_else(|e| panic!("storing {key}: {e}"));
}

async fn invalidate(cache: &dyn Cache, tags: &[String]) {
    cache
        .invalidate(tags)
        .await
        .unwrap_or_else(|e| panic!("invalidating {tags:?}: {e}"));
}

/// Looks `key` up (a miss) and stores `value` with the ticket it gave.
async fn fill(cache: &dyn Cache, key: &str, tags: &[String], value: &[u8]) {
    let ticket = miss(cache, key).await;
    put(cache, key, tags, value, &ticket, LONG).await;
}

pub async fn a_miss_then_a_put_then_a_hit_returns_the_value(subject: Subject) {
    let cache = &*subject.cache;
    let tags = tags(&["article:1", "user:7"]);
    let ticket = miss(cache, "article:slug-1").await;
    put(cache, "article:slug-1", &tags, b"{\"a\":1}", &ticket, LONG).await;
    assert_eq!(hit(cache, "article:slug-1").await, b"{\"a\":1}");
    // A hit does not use the entry up.
    assert_eq!(hit(cache, "article:slug-1").await, b"{\"a\":1}");
}

pub async fn binary_values_round_trip(subject: Subject) {
    let cache = &*subject.cache;
    let tags = tags(&["t"]);
    let every_byte: Vec<u8> = (0..=255).cycle().take(200_000).collect();
    let values: [&[u8]; 6] = [
        b"\xff\xfe\n\x00not utf-8\n\n",
        b"\n",
        b"",
        // Looks like a stored entry (a stamp, a newline, a value).
        b"0\n1.2\nx",
        "é ✓ 🦀".as_bytes(),
        &every_byte,
    ];
    for (n, value) in values.into_iter().enumerate() {
        let key = format!("value:{n}");
        fill(cache, &key, &tags, value).await;
        assert!(hit(cache, &key).await == value, "value {n} changed");
    }
}

pub async fn keys_and_tags_may_hold_any_text(subject: Subject) {
    let cache = &*subject.cache;
    let tags = tags(&["tag with spaces", "tag:with:colons", "ünïcode", "a.b"]);
    for key in ["key with spaces", "k:e:y", "ключ", "*?[]\\"] {
        fill(cache, key, &tags, key.as_bytes()).await;
        assert_eq!(hit(cache, key).await, key.as_bytes());
    }
    invalidate(cache, &tags[3..]).await;
    miss(cache, "ключ").await;
}

pub async fn invalidating_any_tag_of_an_entry_turns_its_hit_into_a_miss(subject: Subject) {
    let cache = &*subject.cache;
    let tags = tags(&["article:1", "user:7", "epoch"]);
    for tag in &tags {
        fill(cache, "feed", &tags, b"before").await;
        assert_eq!(hit(cache, "feed").await, b"before");
        invalidate(cache, std::slice::from_ref(tag)).await;
        // The miss's fresh ticket stores again.
        let ticket = miss(cache, "feed").await;
        put(cache, "feed", &tags, b"after", &ticket, LONG).await;
        assert_eq!(hit(cache, "feed").await, b"after");
        invalidate(cache, std::slice::from_ref(tag)).await;
    }
}

pub async fn invalidating_a_tag_reaches_every_entry_under_it(subject: Subject) {
    let cache = &*subject.cache;
    let shared = tags(&["article:1"]);
    let other = tags(&["article:1", "user:2"]);
    fill(cache, "a", &shared, b"a").await;
    fill(cache, "b", &other, b"b").await;
    invalidate(cache, &tags(&["user:9", "article:1"])).await;
    miss(cache, "a").await;
    miss(cache, "b").await;
}

pub async fn invalidating_unrelated_tags_keeps_the_hit(subject: Subject) {
    let cache = &*subject.cache;
    let tags_of_entry = tags(&["article:1", "user:7"]);
    fill(cache, "article:slug-1", &tags_of_entry, b"v").await;
    invalidate(
        cache,
        &tags(&["article:2", "user:1", "article:10", "user:7x"]),
    )
    .await;
    invalidate(cache, &[]).await;
    assert_eq!(hit(cache, "article:slug-1").await, b"v");
}

pub async fn a_put_with_a_ticket_from_before_an_invalidation_stores_nothing(subject: Subject) {
    let cache = &*subject.cache;
    let tags = tags(&["article:1", "epoch"]);
    let stale = miss(cache, "article").await;
    invalidate(cache, &tags[..1]).await;
    put(
        cache,
        "article",
        &tags,
        b"read before the write",
        &stale,
        LONG,
    )
    .await;
    let current = miss(cache, "article").await;

    // Nor does it replace an entry stored with a current ticket.
    put(
        cache,
        "article",
        &tags,
        b"read after the write",
        &current,
        LONG,
    )
    .await;
    put(
        cache,
        "article",
        &tags,
        b"read before the write",
        &stale,
        LONG,
    )
    .await;
    assert_eq!(hit(cache, "article").await, b"read after the write");
}

/// A value may depend on tags its lookup could not know (the articles a list page
/// shows, learned by reading it): `put` names them, and an invalidation of any of them
/// after the ticket was taken refuses the value; one before it does not.
pub async fn tags_learned_while_reading_are_honoured(subject: Subject) {
    let cache = &*subject.cache;
    let known = tags(&["list:all", "epoch"]);
    let learned = tags(&["list:all", "epoch", "article:1", "article:2"]);
    invalidate(cache, &learned[3..]).await;
    let ticket = miss(cache, "page").await;
    invalidate(cache, &learned[2..3]).await;
    put(
        cache,
        "page",
        &learned,
        b"read before the write",
        &ticket,
        LONG,
    )
    .await;
    let ticket = miss(cache, "page").await;
    put(cache, "page", &learned, b"read after it", &ticket, LONG).await;
    assert_eq!(hit(cache, "page").await, b"read after it");
    invalidate(cache, &tags(&["article:3"])).await;
    assert_eq!(hit(cache, "page").await, b"read after it");
    invalidate(cache, &learned[3..]).await;
    miss(cache, "page").await;
    // The tags the entry was stored with are what count, not a later lookup's.
    fill(cache, "page", &known, b"fewer tags").await;
    invalidate(cache, &learned[2..]).await;
    assert_eq!(hit(cache, "page").await, b"fewer tags");
}

pub async fn entries_without_tags_hit_until_they_expire(subject: Subject) {
    let cache = &*subject.cache;
    let ticket = miss(cache, "tags").await;
    put(cache, "tags", &[], b"[\"dragons\"]", &ticket, LONG).await;
    assert_eq!(hit(cache, "tags").await, b"[\"dragons\"]");
    invalidate(cache, &tags(&["article:1", "epoch"])).await;
    assert_eq!(hit(cache, "tags").await, b"[\"dragons\"]");
    let ticket = miss(cache, "other").await;
    put(
        cache,
        "other",
        &[],
        b"x",
        &ticket,
        Duration::from_millis(400),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    miss(cache, "other").await;
    assert_eq!(hit(cache, "tags").await, b"[\"dragons\"]");
}

pub async fn entries_expire_after_their_ttl(subject: Subject) {
    let cache = &*subject.cache;
    let tags = tags(&["article:1"]);
    let ticket = miss(cache, "short").await;
    put(
        cache,
        "short",
        &tags,
        b"s",
        &ticket,
        Duration::from_millis(600),
    )
    .await;
    put(cache, "long", &tags, b"l", &ticket, LONG).await;
    assert_eq!(hit(cache, "short").await, b"s");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    miss(cache, "short").await;
    assert_eq!(hit(cache, "long").await, b"l");
}

/// A zero time to live stores nothing (it would be expired at once); a huge one is
/// accepted, if perhaps shortened.
pub async fn extreme_ttls_are_accepted(subject: Subject) {
    let cache = &*subject.cache;
    let ticket = miss(cache, "k").await;
    put(cache, "k", &[], b"zero", &ticket, Duration::ZERO).await;
    miss(cache, "k").await;
    put(cache, "k", &[], b"max", &ticket, Duration::MAX).await;
    assert_eq!(hit(cache, "k").await, b"max");
    let ticket = miss(cache, "sub-ms").await;
    put(
        cache,
        "sub-ms",
        &[],
        b"1us",
        &ticket,
        Duration::from_micros(1),
    )
    .await;
}

pub async fn caches_share_neither_keys_nor_tags(subject: Subject) {
    let (one, two) = (&*subject.cache, &*subject.other);
    let tags = tags(&["article:1"]);
    fill(one, "k", &tags, b"one").await;
    let ticket = miss(two, "k").await;

    // The other cache's invalidations do not reach this one's entries or tickets.
    let pending = miss(one, "pending").await;
    invalidate(two, &tags).await;
    put(two, "k", &tags, b"two", &ticket, LONG).await;
    miss(two, "k").await;
    put(one, "pending", &tags, b"p", &pending, LONG).await;
    assert_eq!(hit(one, "pending").await, b"p");
    assert_eq!(hit(one, "k").await, b"one");

    fill(two, "k", &tags, b"two").await;
    invalidate(one, &tags).await;
    miss(one, "k").await;
    assert_eq!(hit(two, "k").await, b"two");
}

/// Readers follow the protocol (ticket, then read the source, then put) while a writer
/// changes the source and invalidates, as fast as they can. A lookup that starts after
/// the writer's invalidation of version `n` is done must never hit a value older than
/// `n`: that would be a value read before the write, stored after its invalidation.
pub async fn concurrent_invalidations_never_leave_a_stale_hit(subject: Subject) {
    let cache = subject.cache;
    let tags = Arc::new(tags(&["article:1", "epoch"]));
    // The source of truth, and the latest version whose invalidation is done.
    let source = Arc::new(AtomicU64::new(0));
    let invalidated = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (cache, tags) = (cache.clone(), tags.clone());
            let (source, invalidated, done) = (source.clone(), invalidated.clone(), done.clone());
            tokio::spawn(async move {
                let mut hits = 0_u64;
                while !done.load(Ordering::SeqCst) {
                    // An in-memory lookup never waits: without this, readers that hit
                    // would keep every worker thread and the writer would never run.
                    tokio::task::yield_now().await;
                    let floor = invalidated.load(Ordering::SeqCst);
                    match lookup(&*cache, "feed").await {
                        CacheLookup::Hit(value) => {
                            let seen = version(&value);
                            assert!(
                                seen >= floor,
                                "hit version {seen} after the invalidation of {floor}"
                            );
                            hits += 1;
                        }
                        CacheLookup::Miss(ticket) => {
                            let read = source.load(Ordering::SeqCst);
                            // Leave the writer room to come between the read and the put.
                            tokio::task::yield_now().await;
                            put(
                                &*cache,
                                "feed",
                                &tags,
                                read.to_string().as_bytes(),
                                &ticket,
                                LONG,
                            )
                            .await;
                        }
                    }
                }
                hits
            })
        })
        .collect();

    let writer = {
        let (cache, tags) = (cache.clone(), tags.clone());
        let (source, invalidated) = (source.clone(), invalidated.clone());
        tokio::spawn(async move {
            for n in 1..=ROUNDS {
                source.store(n, Ordering::SeqCst);
                invalidate(&*cache, &tags[..1]).await;
                invalidated.store(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    writer.await.expect("the writer finished");
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.await.expect("a reader finished");
    }

    // Whatever the race left is the latest value or nothing.
    match lookup(&*cache, "feed").await {
        CacheLookup::Hit(value) => assert_eq!(version(&value), ROUNDS),
        CacheLookup::Miss(ticket) => {
            let latest = ROUNDS.to_string();
            put(&*cache, "feed", &tags, latest.as_bytes(), &ticket, LONG).await;
            assert_eq!(hit(&*cache, "feed").await, latest.as_bytes());
        }
    }
}

fn version(value: &[u8]) -> u64 {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not a version: {value:?}"))
}
