//! The read cache in Redis: a [`Cache`] that every API instance shares, so that an
//! invalidation made by one instance is seen by all of them at once.
//!
//! # Key layout
//!
//! Every key starts with the prefix given to [`RedisCache::connect`] (`P` below):
//!
//! | key | value | expiry |
//! |---|---|---|
//! | `P` `ct:` tag | the tag's version, an integer counter (`INCR`) | none |
//! | `P` `ce:` key | `stamp` `\n` the value's bytes | the `ttl` given to `put` |
//!
//! A tag without a key has version 0. An entry's stamp is the versions its tags had when
//! its ticket was taken, in the caller's order, joined with dots (`3.0.12`; empty for an
//! entry with no tags). Values are stored as raw bytes: anything, UTF-8 or not, newlines
//! included (only the first newline ends the stamp, and stamps never contain one).
//!
//! # Why stamps rather than deletes
//!
//! Invalidating a tag is one `INCR`: it does not have to know which entries depend on the
//! tag, so no index of entries per tag has to be kept (and kept consistent, and pruned).
//! An entry whose stamp is not the tags' current stamp is simply never served again, and
//! disappears when its time to live runs out or when Redis needs the memory.
//!
//! The stamp also closes the race between a reader and a writer. A reader takes its
//! ticket (the current stamp) before it reads the source of truth; `put` stores the
//! value only if the stamp is still the ticket. A writer that changed the data and
//! invalidated in between moved a version on, so the reader's value, possibly read
//! before the write, is not stored. A delete-based cache could not tell: the reader
//! would store the old value right after the writer deleted the entry.
//!
//! # Atomicity
//!
//! `get`, `put` and `invalidate` are one Lua script each, which Redis runs without
//! interleaving any other command: reading the versions and the entry in `get`, and
//! comparing the stamp with the ticket and storing in `put`, cannot be split by an
//! invalidation. The scripts name every key they touch in `KEYS`; on Redis Cluster, put
//! a hash tag in the prefix (`{conduit}:`) so that all of them land in one slot.
//!
//! # Eviction policy
//!
//! Tag keys must never be evicted. A tag whose key disappears goes back to version 0,
//! and after as many invalidations as it had seen, an old entry stamped with that
//! version would be served again although its data changed. Entries can be evicted at
//! will (that is only a miss). Configure the server with `maxmemory-policy
//! volatile-lru` (or `volatile-ttl`, `volatile-lfu`): those policies only evict keys
//! with an expiry, which entries always have and tag keys never do. Under `allkeys-*`
//! policies, a tag key may go, with the consequence above. When memory is full and no
//! entry is left to evict, Redis refuses the writes (an error, not stale data).
//!
//! Tag keys are small (one counter per tag ever invalidated) and stay: dropping one
//! would bring the problem above back. `FLUSHDB` and a restart without persistence are
//! safe: they remove entries and tag keys together.

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    cache::{CacheLookup, CacheTicket},
    ports::Cache,
};
use fred::{
    bytes::Bytes,
    prelude::{Client, Value},
    types::scripts::Script,
};

use super::{connect_client, redis_error};

/// `get`: the entry if its stamp is current, else the current stamp.
///
/// KEYS[1]: the entry; KEYS[2..]: the tags, in the caller's order.
/// Reply: `{1, value}` on a hit, `{0, stamp}` on a miss.
const GET_SCRIPT: &str = r"
local versions = {}
for i = 2, #KEYS do
  versions[#versions + 1] = redis.call('GET', KEYS[i]) or '0'
end
local stamp = table.concat(versions, '.')
local entry = redis.call('GET', KEYS[1])
if entry then
  local newline = string.find(entry, '\n', 1, true)
  if newline and string.sub(entry, 1, newline - 1) == stamp then
    return {1, string.sub(entry, newline + 1)}
  end
end
return {0, stamp}
";

/// `put`: stores the entry only if the tags' stamp is still the ticket.
///
/// KEYS[1]: the entry; KEYS[2..]: the tags, in the caller's order.
/// ARGV[1]: the ticket; ARGV[2]: the value; ARGV[3]: the time to live, milliseconds.
/// Reply: 1 if stored, 0 if a tag moved on since the ticket was taken.
const PUT_SCRIPT: &str = r"
local versions = {}
for i = 2, #KEYS do
  versions[#versions + 1] = redis.call('GET', KEYS[i]) or '0'
end
local stamp = table.concat(versions, '.')
if stamp ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], stamp .. '\n' .. ARGV[2], 'PX', ARGV[3])
return 1
";

/// `invalidate`: moves every tag's version on.
///
/// KEYS: the tags. Reply: how many were moved on.
const INVALIDATE_SCRIPT: &str = r"
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
end
return #KEYS
";

/// The read cache in Redis, under one key prefix. Cloning shares the connection.
///
/// Each operation gives up after 5 seconds with [`StoreError::Unavailable`]; callers
/// treat an unavailable cache as a miss. See the [module documentation](self) for the
/// key layout and the eviction policy the server needs (`volatile-lru`).
#[derive(Debug, Clone)]
pub struct RedisCache {
    client: Client,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

/// The scripts, hashed once; each call sends only the hash (`EVALSHA`) and loads the
/// script when the server does not know it yet (after a restart, say).
struct Scripts {
    get: Script,
    put: Script,
    invalidate: Script,
}

impl fmt::Debug for Scripts {
    // The scripts' text would drown everything else in a debug print of the cache.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scripts").finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`)
    /// and checks that it answers. Every key this cache writes starts with `key_prefix`
    /// (the same prefix as the other Redis adapters' is fine: the key names differ).
    ///
    /// Connecting and each operation give up after 5 seconds with
    /// [`StoreError::Unavailable`]; a lost connection is re-established in the
    /// background.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<RedisCache, StoreError> {
        let client = connect_client(url).await?;
        Ok(RedisCache {
            client,
            prefix: Arc::from(key_prefix),
            scripts: Arc::new(Scripts {
                get: Script::from_lua(GET_SCRIPT),
                put: Script::from_lua(PUT_SCRIPT),
                invalidate: Script::from_lua(INVALIDATE_SCRIPT),
            }),
        })
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}ce:{key}", self.prefix)
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}ct:{tag}", self.prefix)
    }

    /// The entry's key followed by its tags' keys, as the `get` and `put` scripts take
    /// them.
    fn entry_and_tag_keys(&self, key: &str, tags: &[String]) -> Vec<String> {
        let mut keys = Vec::with_capacity(1 + tags.len());
        keys.push(self.entry_key(key));
        keys.extend(tags.iter().map(|tag| self.tag_key(tag)));
        keys
    }

    async fn run(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<Value, StoreError> {
        script
            .evalsha_with_reload::<Value, _, _>(&self.client, keys, args)
            .await
            .map_err(redis_error)
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str, tags: &[String]) -> Result<CacheLookup, StoreError> {
        let keys = self.entry_and_tag_keys(key, tags);
        let reply = self.run(&self.scripts.get, keys, Vec::new()).await?;
        lookup(reply)
    }

    async fn put(
        &self,
        key: &str,
        tags: &[String],
        value: &[u8],
        ticket: &CacheTicket,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        if ttl.is_zero() {
            // Expired as soon as stored; Redis refuses `PX 0` anyway.
            return Ok(());
        }
        let keys = self.entry_and_tag_keys(key, tags);
        let args = vec![
            Value::from(ticket.0.as_str()),
            Value::Bytes(Bytes::copy_from_slice(value)),
            Value::Integer(ttl_millis(ttl)),
        ];
        self.run(&self.scripts.put, keys, args).await?;
        Ok(())
    }

    async fn invalidate(&self, tags: &[String]) -> Result<(), StoreError> {
        if tags.is_empty() {
            return Ok(());
        }
        let keys = tags.iter().map(|tag| self.tag_key(tag)).collect();
        self.run(&self.scripts.invalidate, keys, Vec::new()).await?;
        Ok(())
    }
}

/// The longest an entry is kept, whatever `put` asks: Redis refuses expiry times past
/// the end of its clock's range, and "at most `ttl`" allows shorter.
const MAX_TTL_MS: u128 = 365 * 24 * 60 * 60 * 1_000;

/// Whole milliseconds of a time to live, rounded up (a sub-millisecond one still lives
/// 1 ms), at most [`MAX_TTL_MS`].
fn ttl_millis(ttl: Duration) -> i64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The `get` script's reply, `{1, value}` or `{0, stamp}`, as a lookup.
fn lookup(reply: Value) -> Result<CacheLookup, StoreError> {
    let malformed = |what: String| {
        StoreError::Unexpected(
            format!("unexpected reply from the Redis cache script: {what}").into(),
        )
    };
    let Value::Array(items) = reply else {
        return Err(malformed(format!("expected a list, got {reply:?}")));
    };
    let mut items = items.into_iter();
    let (Some(flag), Some(payload), None) = (items.next(), items.next(), items.next()) else {
        return Err(malformed("expected a flag and a payload".to_owned()));
    };
    // Redis replies with a bulk string; fred makes it a `String` when it is valid UTF-8
    // and `Bytes` otherwise, so both mean "these bytes".
    let payload = match payload {
        Value::Bytes(bytes) => bytes,
        Value::String(text) => text.into_inner(),
        other => return Err(malformed(format!("expected bytes, got {other:?}"))),
    };
    match flag {
        Value::Integer(1) => Ok(CacheLookup::Hit(payload.to_vec())),
        Value::Integer(0) => String::from_utf8(payload.to_vec())
            .map(|stamp| CacheLookup::Miss(CacheTicket(stamp)))
            .map_err(|e| malformed(format!("stamp: {e}"))),
        other => Err(malformed(format!("expected 0 or 1, got {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use fred::{interfaces::KeysInterface, types::Key};

    use super::*;

    #[test]
    fn replies_become_lookups() {
        let reply = |flag: i64, payload: Value| Value::Array(vec![Value::Integer(flag), payload]);
        assert_eq!(
            lookup(reply(1, Value::Bytes(Bytes::from_static(b"\xff\n\x00")))).expect("a hit"),
            CacheLookup::Hit(b"\xff\n\x00".to_vec())
        );
        assert_eq!(
            lookup(reply(1, Value::from("{}"))).expect("a hit"),
            CacheLookup::Hit(b"{}".to_vec())
        );
        assert_eq!(
            lookup(reply(0, Value::from("3.0.12"))).expect("a miss"),
            CacheLookup::Miss(CacheTicket("3.0.12".to_owned()))
        );
        for bad in [
            Value::Null,
            Value::Array(vec![Value::Integer(1)]),
            reply(2, Value::from("x")),
            reply(1, Value::Integer(5)),
            reply(0, Value::Bytes(Bytes::from_static(b"\xff"))),
            Value::Array(vec![Value::Integer(1), Value::from("a"), Value::from("b")]),
        ] {
            assert!(
                matches!(lookup(bad.clone()), Err(StoreError::Unexpected(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ttls_round_up_to_whole_millis() {
        assert_eq!(ttl_millis(Duration::from_secs(300)), 300_000);
        assert_eq!(ttl_millis(Duration::from_micros(1_500)), 2);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::MAX), 31_536_000_000);
    }

    /// The entry is `stamp \n value` under `P ce:`, expiring after the TTL; tag keys are
    /// counters under `P ct:`, without expiry (so `volatile-*` eviction spares them).
    /// Runs when `TEST_REDIS_URL` names a server.
    #[tokio::test]
    async fn keys_follow_the_documented_layout() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "under CI, set TEST_REDIS_URL"
            );
            return;
        };
        let prefix = format!("conduit-test:{}:", uuid::Uuid::new_v4().simple());
        let cache = RedisCache::connect(&url, &prefix).await.expect("connects");
        let tags = ["article:1".to_owned(), "epoch".to_owned()];
        cache.invalidate(&tags[..1]).await.expect("invalidated");
        cache.invalidate(&tags[..1]).await.expect("invalidated");
        let CacheLookup::Miss(ticket) = cache.get("a", &tags).await.expect("looked up") else {
            panic!("nothing stored yet");
        };
        assert_eq!(ticket.0, "2.0");
        cache
            .put("a", &tags, b"\x00v\n", &ticket, Duration::from_secs(60))
            .await
            .expect("stored");

        let entry_key = format!("{prefix}ce:a");
        let tag_key = format!("{prefix}ct:article:1");
        let entry: Bytes = cache.client.get(&entry_key).await.expect("read");
        assert_eq!(&entry[..], b"2.0\n\x00v\n");
        let ttl: i64 = cache.client.pttl(&entry_key).await.expect("read the TTL");
        assert!(ttl > 59_000 && ttl <= 60_000, "entry TTL {ttl} ms");
        let version: i64 = cache.client.get(&tag_key).await.expect("read");
        assert_eq!(version, 2);
        let ttl: i64 = cache.client.pttl(&tag_key).await.expect("read the TTL");
        assert_eq!(ttl, -1, "tag keys never expire");
        let epoch: Option<i64> = cache
            .client
            .get(format!("{prefix}ct:epoch"))
            .await
            .expect("read");
        assert_eq!(epoch, None, "a tag never invalidated has no key");

        let deleted: i64 = cache
            .client
            .del(vec![Key::from(entry_key), Key::from(tag_key)])
            .await
            .expect("deleted");
        assert_eq!(deleted, 2);
    }
}
