//! Rate limiting in process memory, with governor: the [`RateLimiter`] of a single
//! instance, and the fallback of a shared deployment while Redis is unreachable.
//!
//! Each distinct [`RatePolicy`] gets a keyed governor limiter of its own, made the first
//! time the policy is used: governor fixes the quota per limiter, and policies are few
//! (one per endpoint group), so a map of them stays small. Within a limiter, governor runs
//! GCRA on one compare-and-swap per key, so concurrent checks of one key never let more
//! requests through than the quota.

use std::{
    collections::HashMap,
    fmt,
    num::NonZeroU32,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    ports::RateLimiter,
    rate_limit::{RateDecision, RatePolicy},
};
use governor::{
    Quota,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

/// One policy's limiter: GCRA state per key, reporting the state after each decision.
type Keyed<C> =
    governor::RateLimiter<String, DefaultKeyedStateStore<String>, C, StateInformationMiddleware>;

/// Rate limits kept in this process, one keyed governor limiter per policy.
///
/// Keys stay in memory until [`GovernorLimiter::retain_recent`] drops the idle ones: the
/// server should call it periodically (every minute, say), or every key ever seen stays.
///
/// `C` is the clock; [`GovernorLimiter::new`] uses governor's default (monotonic) clock,
/// [`GovernorLimiter::with_clock`] any other, such as governor's `FakeRelativeClock` in
/// tests.
pub struct GovernorLimiter<C: Clock = DefaultClock> {
    clock: C,
    limiters: RwLock<HashMap<RatePolicy, Arc<Keyed<C>>>>,
}

impl GovernorLimiter {
    /// A limiter on the real (monotonic) clock, with no keys yet.
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl Default for GovernorLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock + Clone> GovernorLimiter<C> {
    /// A limiter on `clock`, with no keys yet. Every policy's limiter shares the clock.
    pub fn with_clock(clock: C) -> Self {
        GovernorLimiter {
            clock,
            limiters: RwLock::new(HashMap::new()),
        }
    }

    /// Forgets the keys whose allowance is whole again (they are indistinguishable from
    /// keys never seen) and gives the memory back.
    ///
    /// Nothing else removes keys: the server should call this periodically. The
    /// per-policy limiters themselves stay, as there is one per endpoint group only.
    pub fn retain_recent(&self) {
        for limiter in self.snapshot() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many keys are tracked, over all policies (an estimate while checks run): for
    /// metrics, and to see what [`GovernorLimiter::retain_recent`] dropped.
    pub fn tracked_keys(&self) -> usize {
        self.snapshot().iter().map(|limiter| limiter.len()).sum()
    }

    /// The limiters as they are now, so that work on them happens outside the map's lock.
    fn snapshot(&self) -> Vec<Arc<Keyed<C>>> {
        self.limiters
            .read()
            // The map is only ever inserted into whole, so a panic elsewhere while the
            // lock was held cannot have left it half-changed.
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The limiter of `policy`, made on first use.
    fn limiter(&self, policy: RatePolicy, quota: Quota) -> Arc<Keyed<C>> {
        if let Some(limiter) = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&policy)
        {
            return limiter.clone();
        }
        let mut limiters = self
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Another check may have made it between the two locks; keep the first, so
        // that every check of the policy counts against one state.
        limiters
            .entry(policy)
            .or_insert_with(|| {
                Arc::new(Keyed::new(
                    quota,
                    DefaultKeyedStateStore::default(),
                    self.clock.clone(),
                ))
            })
            .clone()
    }

    fn decide(&self, key: &str, policy: RatePolicy) -> Result<RateDecision, StoreError> {
        let (limit, quota) = quota(policy)?;
        let limiter = self.limiter(policy, quota);
        // governor's emission interval: the time one request's allowance takes to come
        // back.
        let interval = quota.replenish_interval();
        match limiter.check_key(&key.to_owned()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                // governor does not expose the theoretical arrival time itself, only the
                // whole requests it leaves; the allowance of those still missing comes
                // back within one interval each, so this overstates by under one
                // interval, which errs on the side of waiting.
                let missing = limit.get().saturating_sub(remaining);
                Ok(RateDecision {
                    allowed: true,
                    remaining,
                    reset_after: interval.saturating_mul(missing),
                    retry_after: None,
                })
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(self.clock.now());
                // Refused means one interval's allowance is due `retry_after` from now,
                // and the burst's remaining `limit - 1` intervals after that.
                let burst = interval.saturating_mul(limit.get() - 1);
                Ok(RateDecision {
                    allowed: false,
                    remaining: 0,
                    reset_after: retry_after.saturating_add(burst),
                    retry_after: Some(retry_after),
                })
            }
        }
    }
}

impl<C: Clock> fmt::Debug for GovernorLimiter<C> {
    // governor's own debug print lists every key's state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policies: Vec<RatePolicy> = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        f.debug_struct("GovernorLimiter")
            .field("policies", &policies)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<C> RateLimiter for GovernorLimiter<C>
where
    C: Clock + Clone + Send + Sync + 'static,
{
    async fn check(&self, key: &str, policy: RatePolicy) -> Result<RateDecision, StoreError> {
        self.decide(key, policy)
    }
}

/// The quota of `policy`: `limit` requests per `period`, in bursts of up to `limit`, with
/// the limit as governor takes it. A policy that allows nothing, or that has no period,
/// is a configuration mistake, reported as [`StoreError::Unexpected`].
fn quota(policy: RatePolicy) -> Result<(NonZeroU32, Quota), StoreError> {
    check_policy(policy)?;
    let limit = NonZeroU32::new(policy.limit).ok_or_else(|| bad_policy(policy))?;
    // A period shorter than `limit` nanoseconds would make the interval zero, which
    // governor refuses; one nanosecond is as near as it goes.
    let interval = (policy.period / limit.get()).max(Duration::from_nanos(1));
    let quota = Quota::with_period(interval)
        .ok_or_else(|| bad_policy(policy))?
        .allow_burst(limit);
    Ok((limit, quota))
}

/// Refuses the policies no limiter can apply: a limit of 0 or a zero period. Shared with
/// the Redis limiter, so that both refuse the same policies.
pub(crate) fn check_policy(policy: RatePolicy) -> Result<(), StoreError> {
    if policy.limit == 0 || policy.period.is_zero() {
        Err(bad_policy(policy))
    } else {
        Ok(())
    }
}

fn bad_policy(policy: RatePolicy) -> StoreError {
    StoreError::Unexpected(
        format!(
            "unusable rate policy: {} per {:?} (both must be positive)",
            policy.limit, policy.period
        )
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn policy(limit: u32, period: Duration) -> RatePolicy {
        RatePolicy { limit, period }
    }

    #[tokio::test]
    async fn decisions_follow_gcra_exactly_on_a_fake_clock() {
        let clock = FakeRelativeClock::default();
        let limiter = GovernorLimiter::with_clock(clock.clone());
        let three_per_3s = policy(3, 3 * SECOND);

        for (remaining, reset) in [(2, 1), (1, 2), (0, 3)] {
            let decision = limiter.check("k", three_per_3s).await.expect("checked");
            assert_eq!(
                decision,
                RateDecision {
                    allowed: true,
                    remaining,
                    reset_after: reset * SECOND,
                    retry_after: None,
                }
            );
        }
        let refused = limiter.check("k", three_per_3s).await.expect("checked");
        assert_eq!(
            refused,
            RateDecision {
                allowed: false,
                remaining: 0,
                reset_after: 3 * SECOND,
                retry_after: Some(SECOND),
            }
        );

        clock.advance(SECOND / 2);
        let refused = limiter.check("k", three_per_3s).await.expect("checked");
        assert_eq!(refused.retry_after, Some(SECOND / 2));
        assert_eq!(refused.reset_after, SECOND / 2 + 2 * SECOND);

        clock.advance(SECOND / 2);
        let allowed = limiter.check("k", three_per_3s).await.expect("checked");
        assert!(allowed.allowed);
        assert_eq!(allowed.remaining, 0);
        assert_eq!(allowed.reset_after, 3 * SECOND);
    }

    #[tokio::test]
    async fn policies_have_separate_state_for_the_same_key() {
        let limiter = GovernorLimiter::with_clock(FakeRelativeClock::default());
        let one_per_s = policy(1, SECOND);
        let one_per_min = policy(1, 60 * SECOND);
        let mut outcomes = Vec::new();
        for policy in [one_per_s, one_per_s, one_per_min] {
            outcomes.push(limiter.check("k", policy).await.expect("checked").allowed);
        }
        assert_eq!(outcomes, [true, false, true]);
    }

    #[tokio::test]
    async fn retain_recent_drops_keys_whose_allowance_is_back() {
        let clock = FakeRelativeClock::default();
        let limiter = GovernorLimiter::with_clock(clock.clone());
        let two_per_2s = policy(2, 2 * SECOND);
        for key in ["a", "b"] {
            limiter.check(key, two_per_2s).await.expect("checked");
        }
        limiter.retain_recent();
        assert_eq!(limiter.tracked_keys(), 2, "both keys still matter");

        clock.advance(2 * SECOND);
        limiter.retain_recent();
        assert_eq!(limiter.tracked_keys(), 0);
        let decision = limiter.check("a", two_per_2s).await.expect("checked");
        assert_eq!(decision.remaining, 1, "a dropped key starts afresh");
    }

    #[tokio::test]
    async fn unusable_policies_are_refused() {
        let limiter = GovernorLimiter::new();
        for bad in [policy(0, SECOND), policy(3, Duration::ZERO)] {
            let err = limiter.check("k", bad).await.expect_err("unusable");
            assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
        }
    }

    #[test]
    fn debug_names_the_policies_only() {
        let limiter = GovernorLimiter::new();
        assert_eq!(
            format!("{limiter:?}"),
            "GovernorLimiter { policies: [], .. }"
        );
    }
}
