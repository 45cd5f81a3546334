//! Rate limiting: how many requests one identity may make to one group of endpoints.

use std::time::Duration;

/// A limit: at most `limit` requests per `period`, with bursts up to `limit` (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RatePolicy {
    /// Requests allowed per period (and the largest burst); at least 1.
    pub limit: u32,
    /// The period.
    pub period: Duration,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// Requests still allowed right now, after this one (0 when refused).
    pub remaining: u32,
    /// How long until the full allowance is back (for the `RateLimit` header's `t`).
    pub reset_after: Duration,
    /// When refused: how long to wait before one more request is allowed (`Retry-After`).
    pub retry_after: Option<Duration>,
}
