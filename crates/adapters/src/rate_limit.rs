//! Rate limiting in process memory, with governor: the [`RateLimiter`] of a single
//! instance, and the fallback of a shared deployment while Redis is unreachable
//! ([`FallbackLimiter`]).
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
    sync::{
        Arc, PoisonError, RwLock, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
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

    /// Calls [`GovernorLimiter::retain_recent`] on `limiter` every `every`, on a task of
    /// the current tokio runtime, until the limiter is dropped (the task holds it weakly,
    /// so it never keeps the limiter alive).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn_retain_recent(limiter: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()>
    where
        C: Send + Sync + 'static,
    {
        let limiter: Weak<Self> = Arc::downgrade(limiter);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate, when there is nothing to drop yet.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match limiter.upgrade() {
                    Some(limiter) => limiter.retain_recent(),
                    None => return,
                }
            }
        })
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

/// Timings of a [`FallbackLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackSettings {
    /// The longest a check waits for the primary before the fallback decides instead.
    /// The Redis adapter's own limit is 5 seconds per command, far too long to add to
    /// a request; a rate check is worth a few milliseconds at most.
    pub timeout: Duration,
    /// While the primary is failing, how often one request tries it again (the others
    /// go straight to the fallback, so an outage costs at most one `timeout` per
    /// `probe_every`, not one per request).
    pub probe_every: Duration,
    /// The least time between two warnings about the primary failing.
    pub warn_every: Duration,
}

impl Default for FallbackSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(250),
            probe_every: Duration::from_secs(1),
            warn_every: Duration::from_secs(60),
        }
    }
}

/// A [`RateLimiter`] that asks a shared `primary` (Redis) and, when the primary fails
/// or is slow, lets an in-process `fallback` ([`GovernorLimiter`]) decide instead.
///
/// During an outage each instance therefore limits alone: the fleet allows up to
/// instances × limit, which is the accepted degradation (ADR 0012); no request is
/// refused or failed because the limiter's store is down. The primary is tried again
/// every [`FallbackSettings::probe_every`] by one request, so it is used again as soon
/// as it answers (its client reconnects by itself), without a restart.
///
/// A failure is logged at WARN at most once per [`FallbackSettings::warn_every`], and
/// the recovery after a logged failure once at INFO. [`FallbackLimiter::degraded`]
/// tells whether decisions currently come from the fallback (for readiness and
/// metrics).
pub struct FallbackLimiter {
    primary: Arc<dyn RateLimiter>,
    fallback: Arc<dyn RateLimiter>,
    settings: FallbackSettings,
    /// The origin of the millisecond times below.
    started: Instant,
    /// The last check of the primary failed.
    degraded: AtomicBool,
    /// A warning about the current outage was logged, so its end will be too.
    warned: AtomicBool,
    /// When the last warning was logged, ms since `started`; [`NEVER`] before the first.
    last_warning: AtomicU64,
    /// While degraded: when the primary may be tried again, ms since `started`.
    next_probe: AtomicU64,
}

/// No warning logged yet.
const NEVER: u64 = u64::MAX;

impl FallbackLimiter {
    /// Asks `primary`, falling back on `fallback`, with the default timings (250 ms
    /// timeout, a probe a second while degraded, a warning a minute at most).
    pub fn new(primary: Arc<dyn RateLimiter>, fallback: Arc<dyn RateLimiter>) -> Self {
        Self::with_settings(primary, fallback, FallbackSettings::default())
    }

    /// Asks `primary`, falling back on `fallback`, with the given timings.
    pub fn with_settings(
        primary: Arc<dyn RateLimiter>,
        fallback: Arc<dyn RateLimiter>,
        settings: FallbackSettings,
    ) -> Self {
        FallbackLimiter {
            primary,
            fallback,
            settings,
            started: Instant::now(),
            degraded: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            last_warning: AtomicU64::new(NEVER),
            next_probe: AtomicU64::new(0),
        }
    }

    /// Whether the last check of the primary failed, so that decisions come from the
    /// in-process fallback until it answers again.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }

    /// The primary's decision, or why there is none.
    async fn ask_primary(&self, key: &str, policy: RatePolicy) -> Result<RateDecision, String> {
        match tokio::time::timeout(self.settings.timeout, self.primary.check(key, policy)).await {
            Ok(Ok(decision)) => Ok(decision),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!(
                "no answer within {} ms",
                self.settings.timeout.as_millis()
            )),
        }
    }

    fn primary_failed(&self, now: u64, reason: &str) {
        self.degraded.store(true, Ordering::Release);
        self.next_probe.store(
            now.saturating_add(millis(self.settings.probe_every)),
            Ordering::Release,
        );
        if claim_warning(&self.last_warning, now, millis(self.settings.warn_every)) {
            self.warned.store(true, Ordering::Release);
            tracing::warn!(
                target: "rate_limit",
                error = reason,
                "the shared rate limiter failed: each instance limits alone until it answers \
                 again (this warning repeats at most every {} s)",
                self.settings.warn_every.as_secs()
            );
        }
    }

    fn primary_answered(&self) {
        if self.degraded.swap(false, Ordering::AcqRel) && self.warned.swap(false, Ordering::AcqRel)
        {
            tracing::info!(target: "rate_limit", "the shared rate limiter answers again; using it");
        }
    }
}

/// Whether a warning due at `now` may be logged, given the last one was logged at the
/// time in `last` ([`NEVER`] before the first) and warnings are at least `every` apart
/// (all in ms). When it may, `last` becomes `now`; of concurrent callers, one wins.
fn claim_warning(last: &AtomicU64, now: u64, every: u64) -> bool {
    let previous = last.load(Ordering::Acquire);
    if previous != NEVER && now.saturating_sub(previous) < every {
        return false;
    }
    last.compare_exchange(previous, now, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// Whether the request checking at `now` is the one to try the primary again, given
/// the next try is due at the time in `next` (ms); if so, the next one after it is due
/// `every` later. Of concurrent callers, one wins.
fn claim_probe(next: &AtomicU64, now: u64, every: u64) -> bool {
    let due = next.load(Ordering::Acquire);
    now >= due
        && next
            .compare_exchange(
                due,
                now.saturating_add(every),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl fmt::Debug for FallbackLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackLimiter")
            .field("settings", &self.settings)
            .field("degraded", &self.degraded())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RateLimiter for FallbackLimiter {
    async fn check(&self, key: &str, policy: RatePolicy) -> Result<RateDecision, StoreError> {
        let now = self.now_ms();
        if self.degraded() && !claim_probe(&self.next_probe, now, millis(self.settings.probe_every))
        {
            return self.fallback.check(key, policy).await;
        }
        match self.ask_primary(key, policy).await {
            Ok(decision) => {
                self.primary_answered();
                Ok(decision)
            }
            Err(reason) => {
                self.primary_failed(now, &reason);
                self.fallback.check(key, policy).await
            }
        }
    }
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

    /// A primary that fails with `Unavailable` while `failing` is set, and otherwise
    /// allows everything with a `remaining` of 999, so its decisions are recognisable.
    #[derive(Default)]
    struct Flaky {
        failing: AtomicBool,
        /// Each check sleeps this long first (ms).
        delay_ms: AtomicU64,
        calls: AtomicU64,
    }

    const PRIMARY_REMAINING: u32 = 999;

    #[async_trait]
    impl RateLimiter for Flaky {
        async fn check(&self, _: &str, _: RatePolicy) -> Result<RateDecision, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let delay = self.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("connection refused".into()));
            }
            Ok(RateDecision {
                allowed: true,
                remaining: PRIMARY_REMAINING,
                reset_after: Duration::ZERO,
                retry_after: None,
            })
        }
    }

    fn fallback_over(primary: &Arc<Flaky>, probe_every: Duration) -> FallbackLimiter {
        FallbackLimiter::with_settings(
            primary.clone(),
            Arc::new(GovernorLimiter::with_clock(FakeRelativeClock::default())),
            FallbackSettings {
                timeout: Duration::from_millis(50),
                probe_every,
                warn_every: 60 * SECOND,
            },
        )
    }

    #[tokio::test]
    async fn a_failing_primary_leaves_the_decisions_to_the_fallback() {
        let primary = Arc::new(Flaky::default());
        primary.failing.store(true, Ordering::SeqCst);
        let limiter = fallback_over(&primary, Duration::ZERO);
        assert!(!limiter.degraded(), "healthy until a check fails");

        let two_per_min = policy(2, 60 * SECOND);
        let mut decisions = Vec::new();
        for _ in 0..3 {
            let decision = limiter.check("k", two_per_min).await.expect("decided");
            decisions.push((decision.allowed, decision.remaining));
        }
        assert_eq!(decisions, [(true, 1), (true, 0), (false, 0)]);
        assert!(limiter.degraded());
        assert_eq!(primary.calls.load(Ordering::SeqCst), 3, "probed every time");
    }

    #[tokio::test]
    async fn degraded_flips_back_when_the_primary_answers_again() {
        let primary = Arc::new(Flaky::default());
        let limiter = fallback_over(&primary, Duration::ZERO);
        let one_per_min = policy(1, 60 * SECOND);

        let healthy = limiter.check("k", one_per_min).await.expect("decided");
        assert_eq!(healthy.remaining, PRIMARY_REMAINING, "the primary decides");

        primary.failing.store(true, Ordering::SeqCst);
        let degraded = limiter.check("k", one_per_min).await.expect("decided");
        assert_eq!(degraded.remaining, 0, "the fallback decides");
        assert!(limiter.degraded());

        primary.failing.store(false, Ordering::SeqCst);
        let recovered = limiter.check("k", one_per_min).await.expect("decided");
        assert_eq!(recovered.remaining, PRIMARY_REMAINING);
        assert!(!limiter.degraded());
    }

    #[tokio::test]
    async fn while_degraded_the_primary_is_only_probed_now_and_then() {
        let primary = Arc::new(Flaky::default());
        primary.failing.store(true, Ordering::SeqCst);
        let limiter = fallback_over(&primary, 3600 * SECOND);
        let many = policy(100, 60 * SECOND);
        for _ in 0..5 {
            limiter.check("k", many).await.expect("decided");
        }
        assert_eq!(
            primary.calls.load(Ordering::SeqCst),
            1,
            "after the failure, the fallback alone until the next probe is due"
        );
    }

    #[tokio::test]
    async fn a_slow_primary_is_not_waited_for() {
        let primary = Arc::new(Flaky::default());
        primary.delay_ms.store(10_000, Ordering::SeqCst);
        let limiter = fallback_over(&primary, Duration::ZERO);
        let started = Instant::now();
        let decision = limiter
            .check("k", policy(5, 60 * SECOND))
            .await
            .expect("decided");
        assert!(started.elapsed() < 5 * SECOND, "{:?}", started.elapsed());
        assert_eq!(decision.remaining, 4, "the fallback decides");
        assert!(limiter.degraded());
    }

    #[tokio::test]
    async fn unusable_policies_are_refused_by_the_fallback_too() {
        let primary = Arc::new(Flaky::default());
        primary.failing.store(true, Ordering::SeqCst);
        let limiter = fallback_over(&primary, Duration::ZERO);
        let err = limiter
            .check("k", policy(0, SECOND))
            .await
            .expect_err("unusable");
        assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
    }

    #[test]
    fn warnings_are_logged_at_most_once_per_interval() {
        let last = AtomicU64::new(NEVER);
        let minute = 60_000;
        let logged: Vec<bool> = [0, 10, 59_999, 60_000, 60_001, 200_000]
            .into_iter()
            .map(|now| claim_warning(&last, now, minute))
            .collect();
        assert_eq!(logged, [true, false, false, true, false, true]);
    }

    #[test]
    fn one_request_per_interval_probes() {
        let next = AtomicU64::new(0);
        let probes: Vec<bool> = [0, 0, 999, 1_000, 1_500, 2_000]
            .into_iter()
            .map(|now| claim_probe(&next, now, 1_000))
            .collect();
        assert_eq!(probes, [true, false, false, true, false, true]);
    }

    #[tokio::test]
    async fn the_retain_task_ends_with_its_limiter() {
        let limiter = Arc::new(GovernorLimiter::new());
        let task = GovernorLimiter::spawn_retain_recent(&limiter, Duration::from_millis(5));
        limiter
            .check("k", policy(1, SECOND))
            .await
            .expect("checked");
        drop(limiter);
        tokio::time::timeout(5 * SECOND, task)
            .await
            .expect("the task ends")
            .expect("without panicking");
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
