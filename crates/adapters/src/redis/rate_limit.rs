//! Rate limits in Redis: a [`RateLimiter`] that every API instance shares, so a client
//! cannot multiply its allowance by spreading requests over instances.
//!
//! # Algorithm and key layout
//!
//! GCRA, in one Lua script (`rate_limit.lua`): each key holds its theoretical arrival
//! time (TAT), epoch microseconds as text, under `P` `rl:` key (`P` being the prefix
//! given to [`RedisRateLimiter::connect`]), expiring after the policy's period, by which
//! time a TAT is in the past and means the same as none. A request conforms when it comes
//! no earlier than `TAT - (limit - 1) * interval`, `interval` being `period / limit`; if
//! so, the TAT moves on by one interval. Redis runs the script without interleaving any
//! other command, so concurrent checks of one key are counted one after another.
//!
//! The key does not name the policy: one key text checked under two policies shares one
//! TAT. Callers put the endpoint group in the key (the port asks for that), so each key
//! meets one policy only. (The in-process limiter keeps policies apart even then.)
//!
//! # Clock
//!
//! The script reads the time with Redis's `TIME`, unlike the session store, which takes
//! the caller's time so that its outcomes depend only on its inputs. A limiter shared by
//! several instances needs a single clock: with each instance's own, one running ahead
//! would see allowances come back early, and one behind would refuse requests others
//! allow. GCRA needs nothing else from the clock; a server clock jump only shifts when
//! allowances come back, by the size of the jump and no more than one period.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    ports::RateLimiter,
    rate_limit::{RateDecision, RatePolicy},
};
use fred::{
    prelude::{Client, Value},
    types::scripts::Script,
};

use super::{connect_client, redis_error};
use crate::rate_limit::check_policy;

/// Rate limits in Redis, under one key prefix. Cloning shares the connection.
///
/// When Redis cannot be reached, checks fail with [`StoreError::Unavailable`]; the server
/// then falls back to the in-process [`GovernorLimiter`](crate::rate_limit::GovernorLimiter).
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    client: Client,
    prefix: Arc<str>,
    script: Arc<CheckScript>,
}

/// The GCRA script, hashed once; each check sends only the hash (`EVALSHA`) and loads the
/// script when the server does not know it yet (after a restart, say).
struct CheckScript(Script);

impl fmt::Debug for CheckScript {
    // The script's text would drown everything else in a debug print of the limiter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckScript")
    }
}

impl RedisRateLimiter {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`)
    /// and checks that it answers. Every key this limiter writes starts with `key_prefix`
    /// (the same prefix as the session store's is fine: the key names differ).
    ///
    /// Connecting and each check give up after 5 seconds with
    /// [`StoreError::Unavailable`]; a lost connection is re-established in the
    /// background.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<RedisRateLimiter, StoreError> {
        let client = connect_client(url).await?;
        Ok(RedisRateLimiter {
            client,
            prefix: Arc::from(key_prefix),
            script: Arc::new(CheckScript(Script::from_lua(include_str!(
                "rate_limit.lua"
            )))),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}rl:{key}", self.prefix)
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, policy: RatePolicy) -> Result<RateDecision, StoreError> {
        check_policy(policy)?;
        let period_us = u64::try_from(policy.period.as_micros()).unwrap_or(u64::MAX);
        // Microseconds keep short intervals (a limit of 1000 per second) exact enough;
        // under one microsecond per request there is nothing finer to count in.
        let interval_us = (period_us / u64::from(policy.limit)).max(1);
        let expiry_ms = period_us.div_ceil(1_000).max(1);
        let args = vec![
            policy.limit.to_string(),
            interval_us.to_string(),
            expiry_ms.to_string(),
        ];
        let reply = self
            .script
            .0
            .evalsha_with_reload::<Value, _, _>(&self.client, vec![self.key(key)], args)
            .await
            .map_err(redis_error)?;
        decision(reply)
    }
}

/// The script's reply, `[allowed, remaining, reset_after ms, retry_after ms]`, as a
/// decision.
fn decision(reply: Value) -> Result<RateDecision, StoreError> {
    let malformed = |what: String| {
        StoreError::Unexpected(
            format!("unexpected reply from the Redis rate-limit script: {what}").into(),
        )
    };
    let Value::Array(items) = reply else {
        return Err(malformed(format!("expected a list, got {reply:?}")));
    };
    let numbers = items
        .iter()
        .map(|item| match item {
            Value::Integer(n) => u64::try_from(*n).ok(),
            _ => None,
        })
        .collect::<Option<Vec<u64>>>();
    let Some(&[allowed, remaining, reset_ms, retry_ms]) = numbers.as_deref() else {
        return Err(malformed(format!("expected four counts, got {items:?}")));
    };
    let allowed = allowed == 1;
    Ok(RateDecision {
        allowed,
        remaining: u32::try_from(remaining).map_err(|e| malformed(e.to_string()))?,
        reset_after: std::time::Duration::from_millis(reset_ms),
        retry_after: (!allowed).then(|| std::time::Duration::from_millis(retry_ms)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fred::interfaces::KeysInterface;

    use super::*;

    #[test]
    fn replies_become_decisions() {
        let reply = |items: [i64; 4]| Value::Array(items.map(Value::Integer).to_vec());
        assert_eq!(
            decision(reply([1, 2, 300, 0])).expect("well formed"),
            RateDecision {
                allowed: true,
                remaining: 2,
                reset_after: Duration::from_millis(300),
                retry_after: None,
            }
        );
        assert_eq!(
            decision(reply([0, 0, 900, 100])).expect("well formed"),
            RateDecision {
                allowed: false,
                remaining: 0,
                reset_after: Duration::from_millis(900),
                retry_after: Some(Duration::from_millis(100)),
            }
        );
        for bad in [
            Value::Null,
            reply([1, -1, 300, 0]),
            Value::Array(vec![Value::Integer(1)]),
        ] {
            assert!(matches!(decision(bad), Err(StoreError::Unexpected(_))));
        }
    }

    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        // Port 1 is never a Redis server: the connection is refused at once.
        let err = RedisRateLimiter::connect("redis://127.0.0.1:1", "conduit-test:")
            .await
            .expect_err("nothing listens there");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    /// The key carries the prefix and expires within the period. Runs when
    /// `TEST_REDIS_URL` names a server.
    #[tokio::test]
    async fn key_carries_the_prefix_and_expires_within_the_period() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let limiter = RedisRateLimiter::connect(&url, &prefix)
            .await
            .expect("connects");
        let policy = RatePolicy {
            limit: 5,
            period: Duration::from_secs(60),
        };
        let decision = limiter
            .check("user:1:write", policy)
            .await
            .expect("checked");
        assert!(decision.allowed);

        let key = format!("{prefix}rl:user:1:write");
        let ttl: i64 = limiter.client.pttl(&key).await.expect("read the TTL");
        let deleted: i64 = limiter.client.del(&key).await.expect("deleted");
        assert!(ttl > 59_000 && ttl <= 60_000, "TTL {ttl} ms");
        assert_eq!(deleted, 1);
    }
}
