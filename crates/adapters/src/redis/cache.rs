//! The read cache in Redis: a [`Cache`] that every API instance shares, so that an
//! invalidation made by one instance is seen by all of them at once.
//!
//! # Key layout
//!
//! Every key starts with the prefix given to [`RedisCache::connect`] and `{cache}:`
//! (`P` below). `{cache}` is the keys' hash tag: on Redis Cluster every key of the cache
//! is in one slot (see Atomicity), on the shard that holds it (ADR 0031).
//!
//! | key | value | expiry |
//! |---|---|---|
//! | `P` `cs` | the sequence number, an integer moved on (`INCR`) by each invalidation | none |
//! | `P` `ct:` tag | the tag's version: the sequence number of its latest invalidation | none |
//! | `P` `ce:` key | the value's bytes | the `ttl` given to `put` |
//! | `P` `cm:` key | a list: the entry's stamp, then each tag and its version when stored | the same |
//!
//! A tag without a key has version 0. The stamp names one store of the entry (random,
//! made by the instance that stored it) so that an instance holding a copy can ask
//! whether its copy is still the current entry. Values and tags are stored as raw
//! bytes: anything, UTF-8 or not.
//!
//! # Why versions rather than deletes
//!
//! Invalidating tags is one `INCR` and one `SET` per tag: it does not have to know which
//! entries depend on a tag, so no index of entries per tag has to be kept (and kept
//! consistent, and pruned). An entry whose tags moved on is simply never served again,
//! and disappears when its time to live runs out or when Redis needs the memory.
//!
//! The versions also close the race between a reader and a writer. A reader takes its
//! ticket (the sequence number) before it reads the source of truth; `put` stores the
//! value only if none of its tags has a version above the ticket. A writer that changed
//! the data and invalidated in between gave a tag a higher version, so the reader's
//! value, possibly read before the write, is not stored. A delete-based cache could not
//! tell: the reader would store the old value right after the writer deleted the entry.
//! Because the check compares with a number rather than with versions read at lookup,
//! `put` may name tags the lookup could not know (the articles a list page shows).
//!
//! # Atomicity
//!
//! `get`, `put` and `invalidate` are one Lua script each, which Redis runs without
//! interleaving any other command: checking the versions and reading the entry in
//! `get`, and checking the versions and storing in `put`, cannot be split by an
//! invalidation. `put` and `invalidate` name every key they touch in `KEYS`; `get` reads
//! the tag keys named in the entry's list (it cannot know them before), which Redis
//! Cluster allows only within the slot of the keys a script names: hence one slot.
//!
//! On a cluster, client tracking (ADR 0028) is off: every lookup asks the cache's shard,
//! which answers with the stamp alone when the caller's copy is current.
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
//! The entry's two keys expire together; when eviction takes one of them, the entry is
//! a miss.
//!
//! Tag keys are small (one number per tag ever invalidated) and stay: dropping one
//! would bring the problem above back. `FLUSHDB` and a restart without persistence are
//! safe: they remove entries, tag keys and the sequence together (and stamps are random,
//! so a copy held by an instance cannot be taken for an entry stored after them).

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    cache::{CacheLookup, CacheTicket},
    ports::Cache,
};
use fred::{
    bytes::Bytes,
    prelude::{Client, ClientLike, Value},
    types::scripts::Script,
};

use super::{connect_client, connect_tracking_client, redis_error, tracking::Tracker};

/// `get`: the entry if none of its tags moved on since it was stored, else the sequence
/// number (the ticket). A caller that holds a copy of the entry names its stamp, and is
/// told when that copy is current instead of being sent the value again.
///
/// KEYS[1]: the entry's value; KEYS[2]: its list; KEYS[3]: the sequence number.
/// ARGV[1]: the prefix of tag keys; ARGV[2] (optional): `h` followed by the stamp of the
/// caller's copy.
/// Reply: `{2, stamp}` when the caller's copy is current, `{1, value, list, ttl}` on any
/// other hit (the entry's list: its stamp, then each tag and its version; the time it has
/// left to live, milliseconds), `{0, ticket}` on a miss.
const GET_SCRIPT: &str = r"
local entry = redis.call('LRANGE', KEYS[2], 0, -1)
local current = #entry > 0
if current then
  for i = 2, #entry - 1, 2 do
    if (redis.call('GET', ARGV[1] .. entry[i]) or '0') ~= entry[i + 1] then
      current = false
      break
    end
  end
end
if current then
  if ARGV[2] == 'h' .. entry[1] then
    return {2, entry[1]}
  end
  local value = redis.call('GET', KEYS[1])
  if value then
    return {1, value, entry, redis.call('PTTL', KEYS[1])}
  end
end
return {0, redis.call('GET', KEYS[3]) or '0'}
";

/// `put`: stores the entry unless one of its tags has a version above the ticket.
///
/// KEYS[1]: the entry's value; KEYS[2]: its list; KEYS[3]: the sequence number;
/// KEYS[4..]: the tags' keys. ARGV[1]: the ticket; ARGV[2]: the value; ARGV[3]: the time
/// to live, milliseconds; ARGV[4]: the stamp; ARGV[5..]: the tags (KEYS[i] is the key
/// of ARGV[i + 1]'s tag).
/// Reply: 1 if stored, 0 if a tag moved on since the ticket was taken.
const PUT_SCRIPT: &str = r"
local taken = tonumber(ARGV[1])
if not taken then
  return 0
end
local entry = {ARGV[4]}
for i = 4, #KEYS do
  local version = redis.call('GET', KEYS[i]) or '0'
  if tonumber(version) > taken then
    return 0
  end
  entry[#entry + 1] = ARGV[i + 1]
  entry[#entry + 1] = version
end
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], unpack(entry))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// `invalidate`: moves the sequence number on and gives it to every tag as its version.
///
/// KEYS[1]: the sequence number; KEYS[2..]: the tags. Reply: the new sequence number.
const INVALIDATE_SCRIPT: &str = r"
local sequence = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], sequence)
end
return sequence
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
/// [`LOCAL_COPIES_BYTES`]), with their stamps and tags. With client tracking on (ADR
/// 0028), a copy none of whose tags Redis has reported changed since it was proved
/// current is served without a lookup, after a barrier on the tracking connection that
/// makes every report of a write acknowledged before the request arrive first (see
/// `tracking.rs`). Otherwise a lookup asks Redis, atomically as ever, whether the entry
/// is current; when the copy's stamp is the current entry's, Redis answers with the stamp
/// alone and the copy is served. Freshness is exactly that of the shared entries either
/// way.
#[derive(Clone)]
pub struct RedisCache {
    client: Client,
    prefix: Arc<str>,
    /// `prefix` `ct:`, the start of every tag key, as the `get` script takes it.
    tag_prefix: Value,
    scripts: Arc<Scripts>,
    local: moka::sync::Cache<String, Arc<Held>>,
    /// Invalidation reports that let a local copy be served without asking Redis; none
    /// when client tracking could not be turned on.
    tracker: Option<Arc<Tracker>>,
    /// How many lookups were answered from a local copy without asking Redis.
    served_locally: Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .field("local_copies", &self.local.entry_count())
            .field("tracking", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

/// How long a local copy may wait for the proof that it is current (a `CLIENT ID` on
/// the tracking connection) before the lookup asks Redis instead.
const TRACKING_TIMEOUT: Duration = Duration::from_millis(100);

/// The most memory, in bytes of keys and values, that local copies take.
pub const LOCAL_COPIES_BYTES: u64 = 2 * 1024 * 1024;

/// A local copy of an entry: the stamp it was stored under, its tags' keys, the
/// tracker's generation when it was last proved current in Redis, and when the entry
/// expires (at the latest: computed from a time taken before Redis was asked).
#[derive(Clone)]
struct Held {
    stamp: String,
    value: Bytes,
    tag_keys: Arc<[Vec<u8>]>,
    proved: u64,
    expires: Instant,
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
        // Every key of the cache in one slot (see the module documentation).
        let prefix = format!("{key_prefix}{{cache}}:");
        let tracker = if client.is_clustered() {
            // A report comes from the shard whose key changed, on that shard's own
            // connection; the barrier would have to follow the cache's slot as it moves
            // between nodes (ADR 0031). Lookups ask the cache's shard instead.
            tracing::info!(target: "cache",
                "Redis Cluster: client tracking is off, every cache lookup asks Redis");
            None
        } else {
            match connect_tracking_client(url).await {
                Ok(tracking) => {
                    Tracker::start(tracking, format!("{prefix}ct:"), TRACKING_TIMEOUT).await
                }
                Err(err) => Err(err),
            }
            .inspect_err(|err| {
                tracing::warn!(target: "cache", error = %err,
                    "client tracking is off: every cache lookup asks Redis");
            })
            .ok()
        };
        Ok(RedisCache {
            tracker,
            served_locally: Arc::default(),
            client,
            tag_prefix: Value::from(format!("{prefix}ct:")),
            prefix: Arc::from(prefix),
            scripts: Arc::new(Scripts {
                get: Script::from_lua(GET_SCRIPT),
                put: Script::from_lua(PUT_SCRIPT),
                invalidate: Script::from_lua(INVALIDATE_SCRIPT),
            }),
            local: moka::sync::Cache::builder()
                .max_capacity(LOCAL_COPIES_BYTES)
                .weigher(|key: &String, held: &Arc<Held>| {
                    let tags: usize = held.tag_keys.iter().map(Vec::len).sum();
                    let size = key.len() + held.stamp.len() + held.value.len() + tags;
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .build(),
        })
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}ct:{tag}", self.prefix)
    }

    /// The tracker's generation now (0 without one): what a copy proved by a command
    /// sent after this call records.
    fn generation(&self) -> u64 {
        self.tracker
            .as_ref()
            .map_or(0, |tracker| tracker.generation())
    }

    /// Keeps a local copy of the entry under `key`, proved current at `proved` (a time
    /// and a generation taken before Redis was asked), with `ttl` left to live then.
    fn hold(&self, key: &str, entry: Stored, proved: (Instant, u64), ttl: Duration) {
        let tag_keys = entry
            .tags
            .iter()
            .map(|tag| self.tag_key(tag).into_bytes())
            .collect();
        let held = Held {
            stamp: entry.stamp,
            value: entry.value,
            tag_keys,
            proved: proved.1,
            // As Redis keeps it: whole milliseconds, at most a year.
            expires: proved.0 + Duration::from_millis(ttl_millis(ttl).unsigned_abs()),
        };
        self.local.insert(key.to_owned(), Arc::new(held));
    }

    /// How many lookups were answered from a local copy without asking Redis.
    pub fn served_locally(&self) -> u64 {
        self.served_locally
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn sequence_key(&self) -> String {
        format!("{}cs", self.prefix)
    }

    /// The entry's value key, its list's key and the sequence number's key, as every
    /// script but `invalidate` takes them first.
    fn entry_keys(&self, key: &str, tags: usize) -> Vec<String> {
        let mut keys = Vec::with_capacity(3 + tags);
        keys.push(format!("{}ce:{key}", self.prefix));
        keys.push(format!("{}cm:{key}", self.prefix));
        keys.push(self.sequence_key());
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
    async fn get(&self, key: &str) -> Result<CacheLookup, StoreError> {
        let held = self.local.get(key);
        if let (Some(tracker), Some(held)) = (&self.tracker, &held)
            && Instant::now() < held.expires
            && tracker.confirm(&held.tag_keys, held.proved).await
        {
            self.served_locally
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(CacheLookup::Hit(held.value.to_vec()));
        }
        let proved = (Instant::now(), self.generation());
        let keys = self.entry_keys(key, 0);
        let mut args = vec![self.tag_prefix.clone()];
        if let Some(held) = &held {
            args.push(Value::from(format!("h{}", held.stamp)));
        }
        let reply = self.run(&self.scripts.get, keys, args).await?;
        match lookup(reply)? {
            Reply::Current => {
                let held = held
                    .ok_or_else(|| malformed("a current copy that was never named".to_owned()))?;
                let found = CacheLookup::Hit(held.value.to_vec());
                let proved = Held {
                    proved: proved.1,
                    ..Held::clone(&held)
                };
                self.local.insert(key.to_owned(), Arc::new(proved));
                Ok(found)
            }
            Reply::Hit { entry, ttl } => {
                let found = CacheLookup::Hit(entry.value.to_vec());
                self.hold(key, entry, proved, ttl);
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
        let mut keys = self.entry_keys(key, tags.len());
        keys.extend(tags.iter().map(|tag| self.tag_key(tag)));
        let value = Bytes::copy_from_slice(value);
        let stamp = format!("{:016x}", rand::random::<u64>());
        let mut args = Vec::with_capacity(4 + tags.len());
        args.extend([
            Value::from(ticket.0.as_str()),
            Value::Bytes(value.clone()),
            Value::Integer(ttl_millis(ttl)),
            Value::from(stamp.as_str()),
        ]);
        args.extend(tags.iter().map(|tag| Value::from(tag.as_str())));
        let proved = (Instant::now(), self.generation());
        if self.run(&self.scripts.put, keys, args).await? == Value::Integer(1) {
            let tags = tags.to_vec();
            self.hold(key, Stored { stamp, value, tags }, proved, ttl);
        }
        Ok(())
    }

    async fn invalidate(&self, tags: &[String]) -> Result<(), StoreError> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(1 + tags.len());
        keys.push(self.sequence_key());
        keys.extend(tags.iter().map(|tag| self.tag_key(tag)));
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

/// An entry as stored: its stamp, value and tags.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    stamp: String,
    value: Bytes,
    tags: Vec<String>,
}

/// What the `get` script answered.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// The caller's copy is current.
    Current,
    /// A current entry and the time it has left to live.
    Hit { entry: Stored, ttl: Duration },
    /// No current entry: the ticket to store one with.
    Miss(CacheTicket),
}

fn malformed(what: String) -> StoreError {
    StoreError::Unexpected(format!("unexpected reply from the Redis cache script: {what}").into())
}

/// The `get` script's reply: `{2, stamp}`, `{1, value, {stamp, tag, version, ...}}` or
/// `{0, ticket}`.
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
    let first = (items.next(), items.next(), items.next(), items.next());
    if let Some(extra) = items.next() {
        return Err(malformed(format!("{first:?} and more: {extra:?}")));
    }
    match first {
        (Some(Value::Integer(2)), Some(_), None, None) => Ok(Reply::Current),
        (
            Some(Value::Integer(1)),
            Some(value),
            Some(Value::Array(entry)),
            Some(Value::Integer(ttl)),
        ) => {
            let mut entry = entry.into_iter();
            let stamp = text(entry.next().unwrap_or(Value::Null))?;
            let tags = entry.step_by(2).map(text).collect::<Result<Vec<_>, _>>()?;
            let value = bytes(value)?;
            // -1 (no expiry) and -2 (gone) never come with a value: taken as expired.
            let ttl = Duration::from_millis(u64::try_from(ttl).unwrap_or(0));
            Ok(Reply::Hit {
                entry: Stored { stamp, value, tags },
                ttl,
            })
        }
        (Some(Value::Integer(0)), Some(stamp), None, None) => {
            Ok(Reply::Miss(CacheTicket(text(stamp)?)))
        }
        other => Err(malformed(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use fred::{
        interfaces::{ClientInterface, KeysInterface, LuaInterface},
        types::{Key, client::ClientKillFilter},
    };

    use super::*;

    #[test]
    fn replies_become_lookups() {
        let reply = |items: Vec<Value>| Value::Array(items);
        assert_eq!(
            lookup(reply(vec![
                Value::Integer(1),
                Value::Bytes(Bytes::from_static(b"\xff\n\x00")),
                reply(vec![
                    Value::from("s1"),
                    Value::from("article:1"),
                    Value::from("12"),
                    Value::from("epoch"),
                    Value::from("0"),
                ]),
                Value::Integer(59_000),
            ]))
            .expect("a hit"),
            Reply::Hit {
                entry: Stored {
                    value: Bytes::from_static(b"\xff\n\x00"),
                    stamp: "s1".to_owned(),
                    tags: vec!["article:1".to_owned(), "epoch".to_owned()],
                },
                ttl: Duration::from_secs(59),
            }
        );
        assert_eq!(
            lookup(reply(vec![
                Value::Integer(1),
                Value::from("{}"),
                reply(vec![Value::from("s2")]),
                Value::Integer(-1),
            ]))
            .expect("a hit"),
            Reply::Hit {
                entry: Stored {
                    value: Bytes::from_static(b"{}"),
                    stamp: "s2".to_owned(),
                    tags: Vec::new(),
                },
                ttl: Duration::ZERO,
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
            reply(vec![Value::Integer(1), Value::from("v"), Value::from("s")]),
            reply(vec![
                Value::Integer(1),
                Value::from("v"),
                reply(vec![]),
                Value::Integer(1),
            ]),
            reply(vec![
                Value::Integer(1),
                Value::from("v"),
                reply(vec![Value::from("s")]),
            ]),
            reply(vec![
                Value::Integer(0),
                Value::from("1"),
                Value::Null,
                Value::Null,
                Value::Null,
            ]),
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
        let CacheLookup::Miss(ticket) = one.get("k").await.expect("looked up") else {
            panic!("nothing stored yet");
        };
        one.put("k", &tags, b"first", &ticket, ttl)
            .await
            .expect("stored");
        for cache in [&one, &two, &two, &one] {
            assert_eq!(
                cache.get("k").await.expect("looked up"),
                CacheLookup::Hit(b"first".to_vec())
            );
        }
        assert_eq!(
            two.local.get("k").map(|h| h.value.clone()),
            Some(Bytes::from_static(b"first"))
        );

        two.invalidate(&tags).await.expect("invalidated");
        assert!(matches!(
            one.get("k").await.expect("looked up"),
            CacheLookup::Miss(_)
        ));
        let CacheLookup::Miss(ticket) = two.get("k").await.expect("looked up") else {
            panic!("invalidated");
        };
        two.put("k", &tags, b"second", &ticket, ttl)
            .await
            .expect("stored");
        for cache in [&one, &two, &one] {
            assert_eq!(
                cache.get("k").await.expect("looked up"),
                CacheLookup::Hit(b"second".to_vec()),
                "a copy under an old stamp is never served"
            );
        }
        let _: i64 = one
            .client
            .del(vec![
                Key::from(format!("{prefix}{{cache}}:ce:k")),
                Key::from(format!("{prefix}{{cache}}:cm:k")),
                Key::from(format!("{prefix}{{cache}}:cs")),
                Key::from(format!("{prefix}{{cache}}:ct:t")),
            ])
            .await
            .expect("deleted");
    }

    /// The value of a lookup that must hit.
    async fn hit(cache: &RedisCache, key: &str) -> Vec<u8> {
        match cache.get(key).await.expect("looked up") {
            CacheLookup::Hit(value) => value,
            CacheLookup::Miss(ticket) => panic!("{key}: expected a hit, got {ticket:?}"),
        }
    }

    /// Looks `key` up (a miss) and stores `value` under `tags`.
    async fn fill(cache: &RedisCache, key: &str, tags: &[String], value: &[u8]) {
        let CacheLookup::Miss(ticket) = cache.get(key).await.expect("looked up") else {
            panic!("{key}: expected a miss");
        };
        cache
            .put(key, tags, value, &ticket, Duration::from_secs(60))
            .await
            .expect("stored");
    }

    /// Two instances on one Redis with client tracking. A copy proved current is served
    /// without asking Redis; another instance's invalidation of one of its tags is seen by
    /// the very next lookup (the barrier), which then misses. Runs when `TEST_REDIS_URL`
    /// is set.
    #[tokio::test]
    async fn an_invalidation_reaches_the_other_instance_s_local_copy() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let one = RedisCache::connect(&url, &prefix).await.expect("connects");
        let two = RedisCache::connect(&url, &prefix).await.expect("connects");
        assert!(one.tracker.is_some(), "client tracking is on");
        let tags = ["article:1".to_owned(), "epoch".to_owned()];
        fill(&one, "k", &tags, b"first").await;
        for _ in 0..3 {
            assert_eq!(hit(&one, "k").await, b"first");
        }
        assert_eq!(one.served_locally(), 3, "served from the process");
        for round in 0..20 {
            two.invalidate(&tags[..1]).await.expect("invalidated");
            assert!(
                matches!(one.get("k").await.expect("looked up"), CacheLookup::Miss(_)),
                "round {round}: the other instance's invalidation was missed"
            );
            fill(&one, "k", &tags, b"again").await;
            assert_eq!(hit(&one, "k").await, b"again");
        }
        assert_eq!(one.served_locally(), 23, "and again after each new store");
        // An unrelated tag leaves the copy alone.
        two.invalidate(&["article:2".to_owned()])
            .await
            .expect("invalidated");
        assert_eq!(hit(&one, "k").await, b"again");
        assert_eq!(one.served_locally(), 24);
    }

    /// A report this instance has not read yet is waited for: with the instance's
    /// tasks (its tracker, its connections) stalled on a runtime of their own while
    /// another instance invalidates, the copy is not served (the barrier cannot complete,
    /// so the lookup asks Redis once the instance runs again). Without the barrier the
    /// stale copy would be served at once. Runs when `TEST_REDIS_URL` is set.
    #[tokio::test]
    async fn a_report_not_yet_read_is_waited_for() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime"),
        );
        let one = {
            let (runtime, url, prefix) = (runtime.clone(), url.clone(), prefix.clone());
            std::thread::spawn(move || runtime.block_on(RedisCache::connect(&url, &prefix)))
                .join()
                .expect("connected")
                .expect("connects")
        };
        let two = RedisCache::connect(&url, &prefix).await.expect("connects");
        let tags = ["article:1".to_owned()];
        let on_its_runtime = |cache: RedisCache| {
            runtime.spawn(async move {
                match cache.get("k").await.expect("looked up") {
                    CacheLookup::Hit(value) => Some(value),
                    CacheLookup::Miss(_) => None,
                }
            })
        };
        let filled = {
            let one = one.clone();
            let tags = tags.clone();
            runtime.spawn(async move { fill(&one, "k", &tags, b"first").await })
        };
        filled.await.expect("filled");
        assert_eq!(
            on_its_runtime(one.clone()).await.expect("read"),
            Some(b"first".to_vec())
        );
        assert_eq!(one.served_locally(), 1);
        // Stall the instance, invalidate from the other, and look up while the report
        // waits unread.
        let stalled = runtime.spawn(async { std::thread::sleep(Duration::from_millis(300)) });
        two.invalidate(&tags).await.expect("invalidated");
        let looked_up = on_its_runtime(one.clone());
        stalled.await.expect("stalled");
        assert_eq!(
            looked_up.await.expect("read"),
            None,
            "a stale copy was served"
        );
        assert_eq!(one.served_locally(), 1);
        drop(one);
        // A runtime may not be dropped from within another one.
        std::thread::spawn(move || drop(runtime))
            .join()
            .expect("dropped");
    }

    /// While the tracking connection is gone, reports are lost: no copy is served from
    /// the process (each lookup asks Redis), and an invalidation made meanwhile is never
    /// missed. Once the connection is back, copies proved again are served from the
    /// process again. Runs when `TEST_REDIS_URL` is set.
    #[tokio::test]
    async fn a_dropped_tracking_connection_stops_local_copies_until_it_is_back() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let one = RedisCache::connect(&url, &prefix).await.expect("connects");
        let two = RedisCache::connect(&url, &prefix).await.expect("connects");
        let tags = ["article:1".to_owned()];
        let kill = |id: i64| {
            let two = two.client.clone();
            async move {
                let killed: i64 = two
                    .client_kill(vec![ClientKillFilter::ID(id.to_string())])
                    .await
                    .expect("killed");
                assert_eq!(killed, 1, "the tracking connection was there");
            }
        };
        let tracking = || {
            one.tracker
                .as_ref()
                .and_then(|tracker| tracker.connection())
                .expect("tracking is on")
        };

        fill(&one, "k", &tags, b"first").await;
        assert_eq!(hit(&one, "k").await, b"first");
        assert_eq!(one.served_locally(), 1);

        // Dropped, and an invalidation while it is down: the copy must not be served.
        kill(tracking()).await;
        two.invalidate(&tags).await.expect("invalidated");
        assert!(matches!(
            one.get("k").await.expect("looked up"),
            CacheLookup::Miss(_)
        ));
        assert_eq!(one.served_locally(), 1);

        // Back: a copy proved again is served from the process again.
        let mut back = false;
        for _ in 0..50 {
            fill(&one, "k", &tags, b"second").await;
            assert_eq!(hit(&one, "k").await, b"second");
            if one.served_locally() > 1 {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            back,
            "local copies never served again after the reconnection"
        );

        // Dropped with nothing invalidated: the lookup asks Redis (still a hit).
        let served = one.served_locally();
        kill(tracking()).await;
        assert_eq!(hit(&one, "k").await, b"second");
        assert_eq!(one.served_locally(), served, "not served from the process");
    }

    #[test]
    fn ttls_round_up_to_whole_millis() {
        assert_eq!(ttl_millis(Duration::from_secs(300)), 300_000);
        assert_eq!(ttl_millis(Duration::from_micros(1_500)), 2);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::MAX), 31_536_000_000);
    }

    /// The entry (`P` being the prefix and `{cache}:`) is its value under `P ce:` and its list (stamp, then each tag and its
    /// version) under `P cm:`, both expiring after the TTL; tag keys hold the sequence
    /// number of their latest invalidation under `P ct:`, and the sequence number is
    /// `P cs`, both without expiry (so `volatile-*` eviction spares them). Runs when
    /// `TEST_REDIS_URL` names a server.
    #[tokio::test]
    async fn keys_follow_the_documented_layout() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let cache = RedisCache::connect(&url, &prefix).await.expect("connects");
        let tags = ["article:1".to_owned(), "epoch".to_owned()];
        cache.invalidate(&tags[..1]).await.expect("invalidated");
        cache
            .invalidate(&["other".to_owned()])
            .await
            .expect("invalidated");
        let CacheLookup::Miss(ticket) = cache.get("a").await.expect("looked up") else {
            panic!("nothing stored yet");
        };
        assert_eq!(ticket.0, "2");
        cache
            .put("a", &tags, b"\x00v\n", &ticket, Duration::from_secs(60))
            .await
            .expect("stored");

        let entry_key = format!("{prefix}{{cache}}:ce:a");
        let list_key = format!("{prefix}{{cache}}:cm:a");
        let tag_key = format!("{prefix}{{cache}}:ct:article:1");
        let entry: Bytes = cache.client.get(&entry_key).await.expect("read");
        assert_eq!(&entry[..], b"\x00v\n");
        let list: Vec<String> = cache
            .client
            .eval(
                "return redis.call('LRANGE', KEYS[1], 0, -1)",
                vec![list_key.clone()],
                (),
            )
            .await
            .expect("read");
        let stamp = cache.local.get("a").map(|held| held.stamp.clone());
        assert_eq!(list.first().cloned(), stamp, "the stamp first");
        assert_eq!(list[1..], ["article:1", "1", "epoch", "0"]);
        for key in [&entry_key, &list_key] {
            let ttl: i64 = cache.client.pttl(key).await.expect("read the TTL");
            assert!(ttl > 59_000 && ttl <= 60_000, "{key}: TTL {ttl} ms");
        }
        let version: i64 = cache.client.get(&tag_key).await.expect("read");
        assert_eq!(version, 1);
        let sequence_key = format!("{prefix}{{cache}}:cs");
        let sequence: i64 = cache.client.get(&sequence_key).await.expect("read");
        assert_eq!(sequence, 2);
        for key in [&tag_key, &sequence_key] {
            let ttl: i64 = cache.client.pttl(key).await.expect("read the TTL");
            assert_eq!(ttl, -1, "{key} never expires");
        }
        let epoch: Option<i64> = cache
            .client
            .get(format!("{prefix}{{cache}}:ct:epoch"))
            .await
            .expect("read");
        assert_eq!(epoch, None, "a tag never invalidated has no key");

        let deleted: i64 = cache
            .client
            .del(vec![
                Key::from(entry_key),
                Key::from(list_key),
                Key::from(tag_key),
                Key::from(format!("{prefix}{{cache}}:ct:other")),
                Key::from(sequence_key),
            ])
            .await
            .expect("deleted");
        assert_eq!(deleted, 5);
    }
}
