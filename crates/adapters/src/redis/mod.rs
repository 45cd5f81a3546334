//! The Redis adapters, through fred: sessions ([`RedisSessions`], `sessions.rs`, with its
//! key layout), the shared read cache, one-time codes, idempotency records and rate
//! limits. This module holds what they share: the connection settings
//! ([`connect_client`]) and the classification of errors (a server that cannot answer
//! now is `Unavailable`, anything else `Unexpected`).

use std::time::Duration as StdDuration;

use conduit_domain::{StoreError, time::Timestamp};
use fred::{
    prelude::{Builder, Client, ClientLike, Config, Error as RedisError, ErrorKind, Value},
    types::config::ReconnectPolicy,
};
use time::OffsetDateTime;

use crate::idempotency_codec::millis;

mod cache;
mod idempotency;
mod one_time;
mod rate_limit;
mod sessions;
mod tracking;
mod watermark;

pub use cache::RedisCache;
pub use idempotency::RedisIdempotency;
pub use one_time::RedisOneTime;
pub use rate_limit::RedisRateLimiter;
pub use sessions::RedisSessions;
pub use watermark::RedisWatermark;

/// How long connecting, or any one command, may take before the store reports itself
/// unavailable.
const TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Error replies that mean "the server is there but cannot serve you right now": still
/// loading its data, busy with a long script, a replica that cannot take writes, a
/// cluster being reconfigured.
const TRANSIENT_REPLIES: [&str; 6] = [
    "LOADING ",
    "BUSY ",
    "TRYAGAIN ",
    "MASTERDOWN ",
    "READONLY ",
    "NOREPLICAS ",
];

/// A connected client for the Redis server at `url`, checked with a PING: the settings
/// every adapter of this module shares.
///
/// Each command is traced as a `fred.command` span (name only, never arguments).
///
/// Connecting and each command give up after 5 seconds; a lost connection is
/// re-established in the background. A command whose connection dropped is never sent
/// again: the server may have run it already, and none of our commands may run twice (a
/// rotation would see its own retirement and revoke the session as stolen, a GETDEL
/// would report "nothing there", a rate check would count twice).
pub(crate) async fn connect_client(url: &str) -> Result<Client, StoreError> {
    connect_with(url, false).await
}

/// A connected client for invalidation reports (client tracking): [`connect_client`]'s
/// settings, in RESP3, with room for more reports waiting to be read than fred's default.
async fn connect_tracking_client(url: &str) -> Result<Client, StoreError> {
    connect_with(url, true).await
}

async fn connect_with(url: &str, tracking: bool) -> Result<Client, StoreError> {
    let mut config = Config::from_url(url).map_err(redis_error)?;
    if tracking {
        config.version = fred::types::RespVersion::RESP3;
    }
    // A span per command (its name and timing, never its arguments: those are
    // `full-tracing`, which is not enabled), exported with the request's trace.
    config.tracing = fred::types::config::TracingConfig::new(true);
    let client = Builder::from_config(config)
        .with_connection_config(|connection| {
            connection.connection_timeout = TIMEOUT;
            connection.internal_command_timeout = TIMEOUT;
            connection.max_command_attempts = 1;
        })
        .with_performance_config(|performance| {
            performance.default_command_timeout = TIMEOUT;
            if tracking {
                // Invalidation reports wait in a channel of this many until read (every
                // channel of the client gets it, and each is allocated whole: kept small).
                // Redis sends one report per event-loop turn, however many keys changed;
                // an overflow only makes every local copy be proved again.
                performance.broadcast_channel_capacity = 256;
            }
        })
        // Unlimited attempts, backing off from 100 ms to 5 s.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build()
        .map_err(redis_error)?;
    // The connection task runs until the client is dropped or quits; its handle is not
    // needed for that.
    let _connection = client.init().await.map_err(redis_error)?;
    client.ping::<Value>(None).await.map_err(redis_error)?;
    Ok(client)
}

/// What fred itself says, with `ErrorKind::Unknown` (the kind of the server's own error
/// replies), when a command finds no connection: while a connection is being replaced,
/// a command can be routed to none. Found by `losing_redis_under_load_...` in CI, which
/// got a `500` for one request during an outage.
const NO_CONNECTION: [&str; 5] = [
    "Failed to route command.",
    "Missing expected connection.",
    "Missing response.",
    "Max attempts exceeded",
    "Max redirections exceeded",
];

/// Classifies a client error: failures to reach the server, time-outs, the client
/// finding no connection and the server's "try again later" replies are `Unavailable`;
/// anything else (a bad URL, refused credentials, a script error) is `Unexpected`.
fn redis_error(err: RedisError) -> StoreError {
    if is_transient(&err) {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Unexpected(Box::new(err))
    }
}

fn is_transient(err: &RedisError) -> bool {
    match err.kind() {
        ErrorKind::IO
        | ErrorKind::Timeout
        | ErrorKind::Canceled
        | ErrorKind::Backpressure
        | ErrorKind::Cluster
        | ErrorKind::Routing
        | ErrorKind::Sentinel => true,
        ErrorKind::Unknown if NO_CONNECTION.contains(&err.details()) => true,
        _ => TRANSIENT_REPLIES
            .iter()
            .any(|reply| err.details().starts_with(reply)),
    }
}

fn malformed(what: String) -> StoreError {
    StoreError::Unexpected(format!("unexpected reply from a Redis session script: {what}").into())
}

/// `prefix` with the characters special to `SCAN MATCH` escaped, so it matches itself.
fn glob_escape(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Deletes every key that starts with `prefix`, on every primary of a cluster, a SCAN
/// page at a time; how many were deleted. Keys written meanwhile may survive.
pub(crate) async fn delete_matching(client: &Client, prefix: &str) -> Result<u64, StoreError> {
    use fred::interfaces::KeysInterface;
    use futures_util::{StreamExt, stream::BoxStream};

    let pattern = format!("{}*", glob_escape(prefix));
    let mut keys: BoxStream<'_, Result<fred::types::Key, RedisError>> = if client.is_clustered() {
        client
            .scan_cluster_buffered(pattern, Some(1000), None)
            .boxed()
    } else {
        client.scan_buffered(pattern, Some(1000), None).boxed()
    };
    let mut deleted = 0;
    while let Some(key) = keys.next().await {
        // One key at a time: on a cluster, the keys of one page are in many slots.
        deleted += client
            .del::<u64, _>(key.map_err(redis_error)?)
            .await
            .map_err(redis_error)?;
    }
    Ok(deleted)
}

fn clamp_to_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Whole milliseconds in `d`, rounded down.
fn floor_millis(d: time::Duration) -> i64 {
    clamp_to_i64(d.whole_nanoseconds().div_euclid(1_000_000))
}

/// Whole milliseconds in `d`, rounded up.
fn ceil_millis(d: time::Duration) -> i64 {
    clamp_to_i64(-(-d.whole_nanoseconds()).div_euclid(1_000_000))
}

fn timestamp(ms: &str) -> Result<Timestamp, StoreError> {
    let ms: i64 = number(ms)?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(Timestamp::new)
        .map_err(|e| malformed(format!("time {ms}: {e}")))
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| malformed(format!("{text:?} is not a number")))
}

/// A reply's text; `None` for nil. Matched here rather than with fred's conversions,
/// whose handling of nil depends on a crate feature another dependent could turn on.
fn text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string()),
        Value::Bytes(b) => String::from_utf8(b.to_vec()).ok(),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn array(value: Value) -> Result<Vec<Value>, StoreError> {
    match value {
        Value::Array(items) => Ok(items),
        // An empty Lua table comes back as an empty array, or as nil from some servers.
        Value::Null => Ok(Vec::new()),
        other => Err(malformed(format!("expected a list, got {other:?}"))),
    }
}

fn integer(value: Value) -> Result<i64, StoreError> {
    match value {
        Value::Integer(i) => Ok(i),
        other => Err(malformed(format!("expected an integer, got {other:?}"))),
    }
}

fn required(
    items: &mut impl Iterator<Item = Option<String>>,
    what: &str,
) -> Result<String, StoreError> {
    items
        .next()
        .flatten()
        .ok_or_else(|| malformed(format!("missing {what}")))
}

/// The Redis server of the tests (`TEST_REDIS_URL`) and a key prefix of their own; `None`
/// (the test passes without running) when none is set, which CI forbids.
#[cfg(test)]
pub(crate) fn test_server() -> Option<(String, String)> {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "under CI, set TEST_REDIS_URL"
        );
        return None;
    };
    Some((
        url,
        format!("conduit-test:{}:", uuid::Uuid::new_v4().simple()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Duration, macros::datetime};

    #[test]
    fn millis_round_trip() {
        for at in [
            datetime!(2024-05-01 10:00:00.123 UTC),
            datetime!(1969-12-31 23:59:59.999 UTC),
            datetime!(1970-01-01 00:00:00 UTC),
        ] {
            let at = Timestamp::new(at);
            assert_eq!(timestamp(&millis(at).to_string()).expect("parses"), at);
        }
    }

    #[test]
    fn durations_round_to_whole_millis() {
        assert_eq!(floor_millis(Duration::seconds(30)), 30_000);
        assert_eq!(ceil_millis(Duration::seconds(30)), 30_000);
        assert_eq!(floor_millis(Duration::microseconds(1_500)), 1);
        assert_eq!(ceil_millis(Duration::microseconds(1_500)), 2);
        assert_eq!(floor_millis(Duration::microseconds(-1_500)), -2);
        assert_eq!(ceil_millis(Duration::microseconds(-1_500)), -1);
        assert_eq!(ceil_millis(Duration::MAX), i64::MAX);
    }

    #[test]
    fn prefix_is_escaped_for_scan() {
        assert_eq!(glob_escape("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:");
        assert_eq!(glob_escape("conduit:"), "conduit:");
    }

    #[test]
    fn transient_failures_are_unavailable() {
        for err in [
            RedisError::new(ErrorKind::IO, "connection reset"),
            RedisError::new(ErrorKind::Timeout, "timed out"),
            RedisError::new(
                ErrorKind::Unknown,
                "LOADING Redis is loading the dataset in memory",
            ),
            RedisError::new(ErrorKind::Unknown, "BUSY Redis is busy running a script."),
            // fred's own words when a command meets no connection (a reconnection).
            RedisError::new(ErrorKind::Unknown, "Failed to route command."),
            RedisError::new(ErrorKind::Unknown, "Missing expected connection."),
            RedisError::new(ErrorKind::Unknown, "Missing response."),
        ] {
            assert!(matches!(redis_error(err), StoreError::Unavailable(_)));
        }
        for err in [
            RedisError::new(ErrorKind::Unknown, "ERR Error running script"),
            RedisError::new(ErrorKind::Auth, "WRONGPASS invalid username-password pair"),
            RedisError::new(
                ErrorKind::Unknown,
                "BUSYKEY Target key name already exists.",
            ),
        ] {
            assert!(matches!(redis_error(err), StoreError::Unexpected(_)));
        }
    }

    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        // Port 1 is never a Redis server: the connection is refused at once.
        let err = RedisSessions::connect("redis://127.0.0.1:1", "conduit-test:")
            .await
            .expect_err("nothing listens there");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn malformed_url_is_unexpected() {
        let err = RedisSessions::connect("redis://127.0.0.1:notaport", "conduit-test:")
            .await
            .expect_err("not a URL");
        assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
    }
}
