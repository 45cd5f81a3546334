//! The contract of [`OneTimeStore`]: what every adapter must do, written once and run
//! against each backend by `main.rs`. The in-memory store is the reference.
//!
//! Every test takes a fresh, empty store. Times are relative to the real clock rather
//! than fixed: Redis also expires keys by its own clock (`PXAT`), so a value written with
//! an expiry long past would vanish before the test could look at it. The `now` each
//! take passes is still the test's, so expiry is tested to the millisecond.

use std::{collections::HashSet, sync::Arc};

use conduit_domain::{ports::OneTimeStore, time::Timestamp};
use time::{Duration, OffsetDateTime};

/// What a test works on: the store under test.
pub struct Subject {
    /// The store under test.
    pub store: Arc<dyn OneTimeStore>,
}

/// How long values live in the tests, unless a test says otherwise.
const TTL: Duration = Duration::minutes(10);
/// Concurrent takes of one key in the race test.
const RACERS: usize = 16;

/// The real time now, as the domain keeps it.
fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

/// `base + offset`.
fn after(base: Timestamp, offset: Duration) -> Timestamp {
    Timestamp::new(base.as_offset_date_time() + offset)
}

pub async fn a_value_put_is_taken_once(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    store
        .put("state-1", "pending login".into(), after(t0, TTL))
        .await
        .expect("put");
    assert_eq!(
        store.take("state-1", t0).await.expect("take"),
        Some("pending login".to_owned())
    );
    assert_eq!(store.take("state-1", t0).await.expect("second take"), None);
}

pub async fn an_unknown_key_has_nothing(subject: Subject) {
    assert_eq!(
        subject.store.take("never-put", now()).await.expect("take"),
        None
    );
}

pub async fn keys_are_independent(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    store
        .put("a", "first".into(), after(t0, TTL))
        .await
        .expect("put a");
    store
        .put("b", "second".into(), after(t0, TTL))
        .await
        .expect("put b");
    assert_eq!(
        store.take("b", t0).await.expect("take b"),
        Some("second".into())
    );
    assert_eq!(
        store.take("a", t0).await.expect("take a"),
        Some("first".into())
    );
}

pub async fn a_value_is_taken_until_just_before_its_expiry(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let expires_at = after(t0, TTL);
    store
        .put("k", "value".into(), expires_at)
        .await
        .expect("put");
    let last_moment = after(expires_at, -Duration::milliseconds(1));
    assert_eq!(
        store.take("k", last_moment).await.expect("take"),
        Some("value".into())
    );
}

pub async fn an_expired_value_is_never_returned(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let expires_at = after(t0, TTL);
    store
        .put("at-expiry", "value".into(), expires_at)
        .await
        .expect("put");
    store
        .put("later", "value".into(), expires_at)
        .await
        .expect("put");
    assert_eq!(
        store.take("at-expiry", expires_at).await.expect("take"),
        None
    );
    assert_eq!(
        store
            .take("later", after(expires_at, Duration::hours(1)))
            .await
            .expect("take"),
        None
    );
    // A take that found the value expired used it up: it is not there for an earlier
    // clock either.
    assert_eq!(store.take("at-expiry", t0).await.expect("take again"), None);
}

pub async fn a_value_put_already_expired_is_never_returned(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    store
        .put("stale", "value".into(), after(t0, -Duration::seconds(1)))
        .await
        .expect("put");
    assert_eq!(store.take("stale", t0).await.expect("take"), None);
}

pub async fn put_replaces_the_value_and_its_expiry(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    store
        .put("k", "old".into(), after(t0, Duration::minutes(1)))
        .await
        .expect("first put");
    store
        .put("k", "new".into(), after(t0, Duration::minutes(5)))
        .await
        .expect("second put");
    // Past the first expiry, within the second.
    assert_eq!(
        store
            .take("k", after(t0, Duration::minutes(2)))
            .await
            .expect("take"),
        Some("new".into())
    );
    assert_eq!(store.take("k", t0).await.expect("second take"), None);
}

pub async fn values_keep_any_text(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let value = r#"{"provider":"github","verifier":"a:b:c","redirect":"/x?y=1&z=ü"}"#;
    store
        .put("key:with:colons", value.into(), after(t0, TTL))
        .await
        .expect("put");
    assert_eq!(
        store.take("key:with:colons", t0).await.expect("take"),
        Some(value.to_owned())
    );
}

pub async fn concurrent_takes_have_one_winner(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    store
        .put("raced", "the prize".into(), after(t0, TTL))
        .await
        .expect("put");
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.take("raced", t0).await.expect("take")
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        if let Some(value) = racer.await.expect("racer finished") {
            winners.push(value);
        }
    }
    assert_eq!(winners, ["the prize"], "exactly one take wins");
    let distinct: HashSet<_> = winners.into_iter().collect();
    assert_eq!(distinct.len(), 1);
}
