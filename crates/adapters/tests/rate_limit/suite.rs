//! The contract of [`RateLimiter`]: what every adapter must do, written once and run
//! against each backend by `main.rs`.
//!
//! The limiters read a clock of their own (the process's, or the Redis server's, shared
//! by all instances), so these tests run in real time: counting tests use long periods,
//! in which no allowance comes back while they run, and the one test that waits uses a
//! short one.

use std::{sync::Arc, time::Duration};

use conduit_domain::{
    ports::RateLimiter,
    rate_limit::{RateDecision, RatePolicy},
};

/// What a test works on: a fresh limiter with no keys.
pub struct Subject {
    /// The limiter under test.
    pub limiter: Arc<dyn RateLimiter>,
}

/// A period long enough that no allowance comes back during a test (20 s per request
/// at a limit of 3).
const LONG: Duration = Duration::from_secs(60);

/// Concurrent checks in the race test.
const RACERS: usize = 20;

fn policy(limit: u32, period: Duration) -> RatePolicy {
    RatePolicy { limit, period }
}

async fn check(subject: &Subject, key: &str, policy: RatePolicy) -> RateDecision {
    subject
        .limiter
        .check(key, policy)
        .await
        .unwrap_or_else(|e| panic!("checking {key}: {e}"))
}

/// Uses up `policy.limit` requests of `key`, checking each is allowed.
async fn exhaust(subject: &Subject, key: &str, policy: RatePolicy) {
    for n in 1..=policy.limit {
        let decision = check(subject, key, policy).await;
        assert!(decision.allowed, "request {n} of {key}: {decision:?}");
    }
}

pub async fn requests_within_the_limit_are_allowed_counting_down(subject: Subject) {
    let three = policy(3, LONG);
    for remaining in [2, 1, 0] {
        let decision = check(&subject, "user:1:write", three).await;
        assert!(decision.allowed, "{decision:?}");
        assert_eq!(decision.remaining, remaining, "{decision:?}");
        assert_eq!(decision.retry_after, None, "{decision:?}");
        // The whole allowance is back once every request made is a period old.
        assert!(
            decision.reset_after > Duration::ZERO && decision.reset_after <= LONG,
            "{decision:?}"
        );
    }
}

pub async fn the_request_over_the_limit_is_refused_with_a_retry_time(subject: Subject) {
    let three = policy(3, LONG);
    exhaust(&subject, "user:1:write", three).await;
    for _ in 0..2 {
        let refused = check(&subject, "user:1:write", three).await;
        assert!(!refused.allowed, "{refused:?}");
        assert_eq!(refused.remaining, 0, "{refused:?}");
        let retry_after = refused.retry_after.expect("a refusal says when to retry");
        assert!(
            retry_after > Duration::ZERO && retry_after <= LONG,
            "{refused:?}"
        );
        assert!(
            refused.reset_after >= retry_after && refused.reset_after <= LONG,
            "{refused:?}"
        );
    }
}

pub async fn keys_are_independent(subject: Subject) {
    let two = policy(2, LONG);
    exhaust(&subject, "user:1:write", two).await;
    assert!(!check(&subject, "user:1:write", two).await.allowed);

    let other = check(&subject, "user:2:write", two).await;
    assert!(other.allowed, "{other:?}");
    assert_eq!(other.remaining, 1, "{other:?}");
}

/// Policies exhausted under one key leave the other policies' keys alone. Each policy
/// gets a key of its own, as callers give each endpoint group one: the Redis limiter's
/// state is per key text only, so one key under two policies is outside the contract.
pub async fn policies_are_independent(subject: Subject) {
    let strict = policy(1, LONG);
    let lenient = policy(5, LONG);
    exhaust(&subject, "user:1:login", strict).await;
    assert!(!check(&subject, "user:1:login", strict).await.allowed);

    let decision = check(&subject, "user:1:read", lenient).await;
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.remaining, 4, "{decision:?}");
}

pub async fn after_waiting_retry_after_a_request_is_allowed(subject: Subject) {
    // 200 ms per request: short to wait, long against a check's round trip.
    let two = policy(2, Duration::from_millis(400));
    exhaust(&subject, "user:1:write", two).await;
    let refused = check(&subject, "user:1:write", two).await;
    assert!(!refused.allowed, "{refused:?}");
    let retry_after = refused.retry_after.expect("a refusal says when to retry");

    tokio::time::sleep(retry_after).await;
    let decision = check(&subject, "user:1:write", two).await;
    assert!(
        decision.allowed,
        "refused after waiting {retry_after:?}: {decision:?}"
    );
}

pub async fn concurrent_checks_allow_exactly_the_limit(subject: Subject) {
    let five = policy(5, LONG);
    let limiter = subject.limiter;
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.check("user:1:write", five).await })
        })
        .collect();
    let mut allowed = 0;
    for racer in racers {
        let decision = racer.await.expect("finished").expect("checked");
        if decision.allowed {
            allowed += 1;
        } else {
            assert!(decision.retry_after.is_some(), "{decision:?}");
        }
    }
    assert_eq!(allowed, 5, "of {RACERS} concurrent checks");
}
