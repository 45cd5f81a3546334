//! The contract of [`IdempotencyStore`]: what every adapter must do, written once and
//! run against each backend by `main.rs`. The in-memory store is the reference.
//!
//! Every test takes a fresh, empty store. Times are relative to the real clock rather
//! than fixed: Redis also expires records by its own clock (`PEXPIREAT`), so a record
//! written with an expiry long past would vanish before the test could look at it. The
//! `now` each call passes is still the test's, so expiry is tested to the millisecond.

use std::sync::Arc;

use conduit_domain::{
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey, StoredResponse},
    ports::IdempotencyStore,
    time::Timestamp,
};
use time::{Duration, OffsetDateTime};

/// What a test works on: the store under test.
pub struct Subject {
    /// The store under test.
    pub store: Arc<dyn IdempotencyStore>,
}

/// How long a claim's lease runs in the tests.
const LEASE: Duration = Duration::minutes(1);
/// How long an answer is kept in the tests.
const KEPT: Duration = Duration::hours(24);
/// Concurrent claims of one key in the race test.
const RACERS: usize = 16;
/// The caller of most tests.
const SCOPE: &str = "user:1";

/// The real time now, as the domain keeps it (whole milliseconds).
fn now() -> Timestamp {
    let now = OffsetDateTime::now_utc();
    Timestamp::new(
        now.replace_nanosecond(now.millisecond() as u32 * 1_000_000)
            .expect("ms"),
    )
}

/// `base + offset`.
fn after(base: Timestamp, offset: Duration) -> Timestamp {
    Timestamp::new(base.as_offset_date_time() + offset)
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).expect("a valid key")
}

/// A claim of `key` in `scope` at `at` by the attempt `token`, for the request `fp`.
fn claim(scope: &str, key_text: &str, token: &str, fp: &str, at: Timestamp) -> IdempotencyClaim {
    IdempotencyClaim {
        scope: scope.into(),
        key: key(key_text),
        fingerprint: fp.into(),
        token: token.into(),
        now: at,
        lease_until: after(at, LEASE),
    }
}

/// An answer with a body that is not text and headers in a deliberate order.
fn answer(status: u16) -> StoredResponse {
    StoredResponse {
        status,
        headers: vec![
            (
                "location".into(),
                "/api/articles/how-to-train-your-dragon".into(),
            ),
            (
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("etag".into(), "\"3q2-7w6\"".into()),
        ],
        body: [b"{\"article\":\"\xc3\xa9\"}".as_slice(), &[0, 255, 10]].concat(),
    }
}

pub async fn a_free_key_is_claimed_and_then_in_flight(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    // A retry with another body, and one with the same: both see the first running.
    for fp in ["fp-a", "fp-b"] {
        let retry = claim(
            SCOPE,
            "k1",
            "attempt-2",
            fp,
            after(t0, Duration::seconds(1)),
        );
        assert_eq!(
            store.begin(&retry).await.expect("begin again"),
            Begin::InFlight {
                fingerprint: "fp-a".into(),
                until: first.lease_until,
            }
        );
    }
}

pub async fn a_completed_answer_comes_back_byte_for_byte(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    let done = store
        .complete(SCOPE, &first.key, "attempt-1", answer(201), after(t0, KEPT))
        .await
        .expect("complete");
    assert!(done, "the holder completes its claim");
    let retry = claim(
        SCOPE,
        "k1",
        "attempt-2",
        "fp-b",
        after(t0, Duration::hours(1)),
    );
    assert_eq!(
        store.begin(&retry).await.expect("begin again"),
        Begin::Completed {
            fingerprint: "fp-a".into(),
            response: answer(201),
        }
    );
}

pub async fn scopes_keep_keys_apart(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let mine = claim("user:1", "shared", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&mine).await.expect("begin"), Begin::Claimed);
    assert!(
        store
            .complete(
                "user:1",
                &mine.key,
                "attempt-1",
                answer(201),
                after(t0, KEPT)
            )
            .await
            .expect("complete")
    );
    // The same key text under other scopes, including ones that could be confused with
    // the first if scope and key were simply joined.
    for scope in ["user:2", "user:1:shared", "user"] {
        let theirs = claim(scope, "shared", "attempt-2", "fp-a", t0);
        assert_eq!(
            store.begin(&theirs).await.expect("begin"),
            Begin::Claimed,
            "{scope}"
        );
    }
    let colon = claim("user", "1:shared", "attempt-3", "fp-a", t0);
    assert_eq!(store.begin(&colon).await.expect("begin"), Begin::Claimed);
}

pub async fn keys_are_independent(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let a = claim(SCOPE, "a", "attempt-a", "fp-a", t0);
    let b = claim(SCOPE, "b", "attempt-b", "fp-b", t0);
    assert_eq!(store.begin(&a).await.expect("begin a"), Begin::Claimed);
    assert_eq!(store.begin(&b).await.expect("begin b"), Begin::Claimed);
    assert!(
        store
            .complete(SCOPE, &b.key, "attempt-b", answer(422), after(t0, KEPT))
            .await
            .expect("complete b")
    );
    assert!(matches!(
        store
            .begin(&claim(SCOPE, "a", "x", "fp-a", t0))
            .await
            .expect("a"),
        Begin::InFlight { .. }
    ));
    assert!(matches!(
        store.begin(&claim(SCOPE, "b", "x", "fp-b", t0)).await.expect("b"),
        Begin::Completed { response, .. } if response.status == 422
    ));
}

pub async fn a_released_key_can_be_claimed_again(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    assert!(
        store
            .release(SCOPE, &first.key, "attempt-1")
            .await
            .expect("release")
    );
    // The retry may even carry another body: the released request left nothing behind.
    let retry = claim(SCOPE, "k1", "attempt-2", "fp-b", t0);
    assert_eq!(store.begin(&retry).await.expect("retry"), Begin::Claimed);
    assert!(
        !store
            .release(SCOPE, &first.key, "attempt-1")
            .await
            .expect("release again"),
        "a released claim is gone"
    );
}

pub async fn only_the_claim_holder_completes_or_releases(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    assert!(
        !store
            .complete(
                SCOPE,
                &first.key,
                "someone-else",
                answer(201),
                after(t0, KEPT)
            )
            .await
            .expect("complete")
    );
    assert!(
        !store
            .release(SCOPE, &first.key, "someone-else")
            .await
            .expect("release")
    );
    assert!(
        !store
            .complete(
                "user:2",
                &first.key,
                "attempt-1",
                answer(201),
                after(t0, KEPT)
            )
            .await
            .expect("complete in another scope")
    );
    assert!(
        !store
            .complete(
                SCOPE,
                &key("never-claimed"),
                "attempt-1",
                answer(201),
                after(t0, KEPT)
            )
            .await
            .expect("complete an unknown key")
    );
    assert!(matches!(
        store
            .begin(&claim(SCOPE, "k1", "x", "fp-a", t0))
            .await
            .expect("begin"),
        Begin::InFlight { .. }
    ));
}

pub async fn a_completed_record_is_never_released_nor_completed_again(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    assert!(
        store
            .complete(SCOPE, &first.key, "attempt-1", answer(201), after(t0, KEPT))
            .await
            .expect("complete")
    );
    assert!(
        !store
            .release(SCOPE, &first.key, "attempt-1")
            .await
            .expect("release")
    );
    assert!(
        !store
            .complete(SCOPE, &first.key, "attempt-1", answer(500), after(t0, KEPT))
            .await
            .expect("complete again")
    );
    assert_eq!(
        store
            .begin(&claim(SCOPE, "k1", "x", "fp-a", t0))
            .await
            .expect("begin"),
        Begin::Completed {
            fingerprint: "fp-a".into(),
            response: answer(201),
        }
    );
}

pub async fn a_lapsed_lease_is_reclaimed_and_its_old_holder_shut_out(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    let just_before = claim(
        SCOPE,
        "k1",
        "attempt-2",
        "fp-a",
        after(first.lease_until, -Duration::milliseconds(1)),
    );
    assert!(matches!(
        store.begin(&just_before).await.expect("begin"),
        Begin::InFlight { .. }
    ));
    // At the lease's end the first request is presumed dead (its instance crashed).
    let takeover = claim(SCOPE, "k1", "attempt-3", "fp-b", first.lease_until);
    assert_eq!(
        store.begin(&takeover).await.expect("takeover"),
        Begin::Claimed
    );
    assert!(
        !store
            .complete(SCOPE, &first.key, "attempt-1", answer(201), after(t0, KEPT))
            .await
            .expect("late completion")
    );
    assert!(
        !store
            .release(SCOPE, &first.key, "attempt-1")
            .await
            .expect("late release")
    );
    assert_eq!(
        store
            .begin(&claim(SCOPE, "k1", "x", "fp-a", first.lease_until))
            .await
            .expect("begin"),
        Begin::InFlight {
            fingerprint: "fp-b".into(),
            until: takeover.lease_until,
        }
    );
}

pub async fn an_answer_is_kept_until_just_before_its_expiry(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let first = claim(SCOPE, "k1", "attempt-1", "fp-a", t0);
    assert_eq!(store.begin(&first).await.expect("begin"), Begin::Claimed);
    let expires_at = after(t0, KEPT);
    assert!(
        store
            .complete(SCOPE, &first.key, "attempt-1", answer(201), expires_at)
            .await
            .expect("complete")
    );
    let last_moment = claim(
        SCOPE,
        "k1",
        "attempt-2",
        "fp-a",
        after(expires_at, -Duration::milliseconds(1)),
    );
    assert!(matches!(
        store.begin(&last_moment).await.expect("begin"),
        Begin::Completed { .. }
    ));
    let expired = claim(SCOPE, "k1", "attempt-3", "fp-b", expires_at);
    assert_eq!(store.begin(&expired).await.expect("begin"), Begin::Claimed);
}

pub async fn concurrent_claims_have_one_winner(subject: Subject) {
    let t0 = now();
    let store = subject.store;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mine = claim(SCOPE, "raced", &format!("attempt-{i}"), "fp-a", t0);
                barrier.wait().await;
                (i, store.begin(&mine).await.expect("begin"))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let (i, outcome) = racer.await.expect("racer finished");
        match outcome {
            Begin::Claimed => winners.push(i),
            Begin::InFlight { fingerprint, .. } => assert_eq!(fingerprint, "fp-a"),
            Begin::Completed { .. } => panic!("nobody completed"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins: {winners:?}");
    // And the winner is the one that holds it.
    let winner = format!("attempt-{}", winners[0]);
    assert!(
        store
            .complete(SCOPE, &key("raced"), &winner, answer(201), after(t0, KEPT))
            .await
            .expect("the winner completes")
    );
}
