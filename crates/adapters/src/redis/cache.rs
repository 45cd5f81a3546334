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

/// `get`: the entry if its stamp is current, else the current stamp. A caller that holds
/// a copy of the entry names its stamp, and is told when that copy is current instead of
/// being sent the value again.
///
/// KEYS[1]: the entry; KEYS[2..]: the tags, in the caller's order.
/// ARGV[1] (optional): `h` followed by the stamp of the caller's copy.
/// Reply: `{2, stamp}` when the caller's copy is current, `{1, value, stamp}` on any
/// other hit, `{0, stamp}` on a miss.
const GET_SCRIPT: &str = r"
local versions = {}
for i = 2, #KEYS do
  versions[#versions + 1] = redis.call('GET', KEYS[i]) or '0'
end
local stamp = table.concat(versions, '.')
-- Only the stamp and its newline: the value is not read unless it is sent.
if redis.call('GETRANGE', KEYS[1], 0, #stamp) == stamp .. '\n' then
  if ARGV[1] == 'h' .. stamp then
    return {2, stamp}
  end
  local entry = redis.call('GET', KEYS[1])
  return {1, string.sub(entry, #stamp + 2), stamp}
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
///
/// # Local copies
///
/// Each instance keeps copies of the entries it read or stored lately (at most
/// [`LOCAL_COPIES_BYTES`]), with their stamps. A lookup still asks Redis, atomically as
/// ever, whether the entry is current; when the copy's stamp is the current one, Redis
/// answers with the stamp alone and the copy is served. Freshness is exactly that of the
/// shared entries (every lookup checks the tags' versions in Redis); what is saved is
/// sending a value of several kilobytes over the network and through both ends' parsers
/// on every hit (docs/performance.md).
#[derive(Clone)]
pub struct RedisCache {
    client: Client,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
    local: moka::sync::Cache<String, Arc<Held>>,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .field("local_copies", &self.local.entry_count())
            .finish_non_exhaustive()
    }
}

/// The most memory, in bytes of keys and values, that local copies take.
pub const LOCAL_COPIES_BYTES: u64 = 2 * 1024 * 1024;

/// A local copy of an entry and the stamp it was stored under.
struct Held {
    stamp: String,
    value: Bytes,
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
            local: moka::sync::Cache::builder()
                .max_capacity(LOCAL_COPIES_BYTES)
                .weigher(|key: &String, held: &Arc<Held>| {
                    let size = key.len() + held.stamp.len() + held.value.len();
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .build(),
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
        let held = self.local.get(key);
        let args = held
            .as_ref()
            .map(|held| vec![Value::from(format!("h{}", held.stamp))])
            .unwrap_or_default();
        let reply = self.run(&self.scripts.get, keys, args).await?;
        match lookup(reply)? {
            Reply::Current => held
                .map(|held| CacheLookup::Hit(held.value.to_vec()))
                .ok_or_else(|| malformed("a current copy that was never named".to_owned())),
            Reply::Hit { value, stamp } => {
                let found = CacheLookup::Hit(value.to_vec());
                self.local
                    .insert(key.to_owned(), Arc::new(Held { stamp, value }));
                Ok(found)
            }
            Reply::Miss(ticket) => Ok(CacheLookup::Miss(ticket)),
        }
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
        let value = Bytes::copy_from_slice(value);
        let args = vec![
            Value::from(ticket.0.as_str()),
            Value::Bytes(value.clone()),
            Value::Integer(ttl_millis(ttl)),
        ];
        if self.run(&self.scripts.put, keys, args).await? == Value::Integer(1) {
            let stamp = ticket.0.clone();
            self.local
                .insert(key.to_owned(), Arc::new(Held { stamp, value }));
        }
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

/// What the `get` script answered.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// The caller's copy is current.
    Current,
    /// A current entry and its stamp.
    Hit { value: Bytes, stamp: String },
    /// No current entry: the ticket to store one with.
    Miss(CacheTicket),
}

fn malformed(what: String) -> StoreError {
    StoreError::Unexpected(format!("unexpected reply from the Redis cache script: {what}").into())
}

/// The `get` script's reply: `{2, stamp}`, `{1, value, stamp}` or `{0, stamp}`.
fn lookup(reply: Value) -> Result<Reply, StoreError> {
    let Value::Array(items) = reply else {
        return Err(malformed(format!("expected a list, got {reply:?}")));
    };
    // Redis replies with bulk strings; fred makes one a `String` when it is valid UTF-8
    // and `Bytes` otherwise, so both mean "these bytes".
    let bytes = |item: Value| match item {
        Value::Bytes(bytes) => Ok(bytes),
        Value::String(text) => Ok(text.into_inner()),
        other => Err(malformed(format!("expected bytes, got {other:?}"))),
    };
    let text = |item: Value| {
        String::from_utf8(bytes(item)?.to_vec()).map_err(|e| malformed(format!("stamp: {e}")))
    };
    let mut items = items.into_iter();
    match (items.next(), items.next(), items.next(), items.next()) {
        (Some(Value::Integer(2)), Some(_), None, None) => Ok(Reply::Current),
        (Some(Value::Integer(1)), Some(value), Some(stamp), None) => Ok(Reply::Hit {
            value: bytes(value)?,
            stamp: text(stamp)?,
        }),
        (Some(Value::Integer(0)), Some(stamp), None, None) => {
            Ok(Reply::Miss(CacheTicket(text(stamp)?)))
        }
        other => Err(malformed(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use fred::{interfaces::KeysInterface, types::Key};

    use super::*;

    #[test]
    fn replies_become_lookups() {
        let reply = |items: Vec<Value>| Value::Array(items);
        assert_eq!(
            lookup(reply(vec![
                Value::Integer(1),
                Value::Bytes(Bytes::from_static(b"\xff\n\x00")),
                Value::from("1.2"),
            ]))
            .expect("a hit"),
            Reply::Hit {
                value: Bytes::from_static(b"\xff\n\x00"),
                stamp: "1.2".to_owned()
            }
        );
        assert_eq!(
            lookup(reply(vec![
                Value::Integer(1),
                Value::from("{}"),
                Value::from("")
            ]))
            .expect("a hit"),
            Reply::Hit {
                value: Bytes::from_static(b"{}"),
                stamp: String::new()
            }
        );
        assert_eq!(
            lookup(reply(vec![Value::Integer(2), Value::from("1.2")])).expect("current"),
            Reply::Current
        );
        assert_eq!(
            lookup(reply(vec![Value::Integer(0), Value::from("3.0.12")])).expect("a miss"),
            Reply::Miss(CacheTicket("3.0.12".to_owned()))
        );
        for bad in [
            Value::Null,
            reply(vec![Value::Integer(1)]),
            reply(vec![Value::Integer(1), Value::from("x")]),
            reply(vec![Value::Integer(3), Value::from("x")]),
            reply(vec![Value::Integer(1), Value::Integer(5), Value::from("1")]),
            reply(vec![
                Value::Integer(0),
                Value::Bytes(Bytes::from_static(b"\xff")),
            ]),
            reply(vec![Value::Integer(0), Value::from("a"), Value::from("b")]),
        ] {
            assert!(
                matches!(lookup(bad.clone()), Err(StoreError::Unexpected(_))),
                "{bad:?}"
            );
        }
    }

    /// Two instances share Redis; each keeps local copies. A copy is served only while
    /// Redis says its stamp is current: after another instance invalidates and stores a
    /// new value, the new value is what both see. Runs when `TEST_REDIS_URL` is set.
    #[tokio::test]
    async fn local_copies_are_served_only_while_their_stamp_is_current() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let one = RedisCache::connect(&url, &prefix).await.expect("connects");
        let two = RedisCache::connect(&url, &prefix).await.expect("connects");
        let tags = ["t".to_owned()];
        let ttl = Duration::from_secs(60);
        let CacheLookup::Miss(ticket) = one.get("k", &tags).await.expect("looked up") else {
            panic!("nothing stored yet");
        };
        one.put("k", &tags, b"first", &ticket, ttl)
            .await
            .expect("stored");
        for cache in [&one, &two, &two, &one] {
            assert_eq!(
                cache.get("k", &tags).await.expect("looked up"),
                CacheLookup::Hit(b"first".to_vec())
            );
        }
        assert_eq!(
            two.local.get("k").map(|h| h.value.clone()),
            Some(Bytes::from_static(b"first"))
        );

        two.invalidate(&tags).await.expect("invalidated");
        assert!(matches!(
            one.get("k", &tags).await.expect("looked up"),
            CacheLookup::Miss(_)
        ));
        let CacheLookup::Miss(ticket) = two.get("k", &tags).await.expect("looked up") else {
            panic!("invalidated");
        };
        two.put("k", &tags, b"second", &ticket, ttl)
            .await
            .expect("stored");
        for cache in [&one, &two, &one] {
            assert_eq!(
                cache.get("k", &tags).await.expect("looked up"),
                CacheLookup::Hit(b"second".to_vec()),
                "a copy under an old stamp is never served"
            );
        }
        let _: i64 = one
            .client
            .del(vec![
                Key::from(format!("{prefix}ce:k")),
                Key::from(format!("{prefix}ct:t")),
            ])
            .await
            .expect("deleted");
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
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
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
