//! Sessions in Redis, through fred: a [`SessionStore`] that several API instances can
//! share without putting session traffic on the database, on one Redis server, behind
//! Sentinel, or on a Redis Cluster (ADR 0031).
//!
//! # Key layout
//!
//! Every key starts with the prefix given to [`RedisSessions::connect`] (`P` below). The
//! part in braces is the key's hash tag: on a cluster, keys with the same tag share a
//! slot, so each session's keys live together and sessions spread over the shards.
//!
//! | key | type | value | slot |
//! |---|---|---|---|
//! | `P` `s:{` id `}` | hash | `user`, `created`, `used` (last use), `refreshed` (last refresh, once refreshed), `expires`, `ua` (if any), `revoked` (`1`, once revoked) | the session's |
//! | `P` `s:{` id `}t:` hash | string | `-` while the token is current, then when it was retired | the session's |
//! | `P` `rt:` hash | string | the id of the token's session | its own |
//! | `P` `u:{` user id `}` | sorted set | ids of that user's sessions not known to be revoked, each scored by its absolute end | the user's |
//!
//! Times are epoch milliseconds in decimal, always the caller's (`RotationRules::now`,
//! `NewSession::created_at`), never the server's clock: the outcome of a rotation then
//! depends on the same inputs as with the other adapters.
//!
//! Every key expires after the whole absolute lifetime of its session (`expires -
//! created`), counted from when it was written, so nothing outlives the session it
//! serves and dead sessions disappear by themselves. The user index is pruned of revoked
//! sessions, and of vanished ones past their end, whenever it is read.
//!
//! A prefix with a hash tag of its own (`{conduit}:`) puts every key in that one slot:
//! still correct, but on one shard.
//!
//! # Atomicity
//!
//! Every decision about a session is one Lua script on that session's keys, which Redis
//! runs without interleaving any other command. `rotate` in particular checks the
//! presented token, the session and the grace rule and revokes or rotates in one script,
//! so of several concurrent rotations of one token exactly one sees it current.
//!
//! Two steps cross slots and are ordered so that a failure between them is harmless:
//!
//! - A refreshed token's `rt:` entry, which leads from the token to its session, is
//!   written after the script that made the token current succeeded, and before the
//!   token is handed out. A failure in between loses the answer, as a lost response
//!   would: the client presents its previous token again (a grace reissue, or reuse). A
//!   new session's first entry is written before the session: a failure in between
//!   leaves an entry that leads nowhere.
//! - A session joins its user's index before it exists, and leaves it after it is
//!   revoked. The index may name a session that is gone or not there yet (both are
//!   skipped, and only one past its end is pruned); it never misses a live one, so
//!   `revoke_all` reaches every session of its user.

use std::sync::Arc;

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    ports::SessionStore,
    session::{
        NewSession, RefreshTokenHash, Rotation, RotationRules, Session, SessionId, SessionStatus,
    },
    time::Timestamp,
};
use fred::{
    prelude::{Client, HashesInterface, KeysInterface, SortedSetsInterface, Value},
    types::{Expiration, scripts::Script},
};

use super::*;

/// Sessions and refresh tokens in Redis, under one key prefix. Cloning shares the
/// connection.
#[derive(Debug, Clone)]
pub struct RedisSessions {
    client: Client,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

/// The Lua scripts, hashed once; each call sends only the hash (`EVALSHA`) and loads the
/// script when the server does not know it yet (after a restart, say).
struct Scripts {
    start: Script,
    index: Script,
    rotate: Script,
    revoke: Script,
    touch: Script,
}

impl std::fmt::Debug for Scripts {
    // The scripts' text would drown everything else in a debug print of the store.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts").finish_non_exhaustive()
    }
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            start: Script::from_lua(include_str!("start.lua")),
            index: Script::from_lua(include_str!("index.lua")),
            rotate: Script::from_lua(include_str!("rotate.lua")),
            revoke: Script::from_lua(include_str!("revoke.lua")),
            touch: Script::from_lua(include_str!("touch.lua")),
        }
    }
}

/// The fields of a session hash that `active` reads, in this order.
const LISTED_FIELDS: [&str; 6] = ["user", "created", "used", "expires", "revoked", "ua"];

impl RedisSessions {
    /// Connects to the Redis server at `url` (`redis://`, `rediss://`, a Sentinel's
    /// `redis-sentinel://` or a cluster's `redis-cluster://` URL) and checks that it
    /// answers. Every key this store writes starts with `key_prefix`.
    ///
    /// Connecting and each command give up after 5 seconds with
    /// [`StoreError::Unavailable`]; a lost connection is re-established in the
    /// background.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<RedisSessions, StoreError> {
        let client = connect_client(url).await?;
        let store = RedisSessions {
            client,
            prefix: Arc::from(key_prefix),
            scripts: Arc::new(Scripts::new()),
        };
        Ok(store)
    }

    /// Checks the server answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .ping::<Value>(None)
            .await
            .map(drop)
            .map_err(redis_error)
    }

    /// Deletes every key under this store's prefix (on every primary of a cluster), a
    /// page of keys at a time so no server is blocked for long; returns how many were
    /// deleted. Meant for tests and for signing everybody out; keys written meanwhile may
    /// survive.
    pub async fn clear(&self) -> Result<u64, StoreError> {
        delete_matching(&self.client, &self.prefix).await
    }

    async fn run(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Value, StoreError> {
        script
            .evalsha_with_reload::<Value, _, _>(&self.client, keys, args)
            .await
            .map_err(redis_error)
    }

    fn session_key(&self, id: &SessionId) -> String {
        format!("{}s:{{{}}}", self.prefix, id.0)
    }

    /// A token's state, in its session's slot.
    fn token_key(&self, session: &SessionId, hash: &RefreshTokenHash) -> String {
        format!("{}s:{{{}}}t:{}", self.prefix, session.0, hash.0)
    }

    /// Which session a token belongs to.
    fn lookup_key(&self, hash: &RefreshTokenHash) -> String {
        format!("{}rt:{}", self.prefix, hash.0)
    }

    fn user_key(&self, user: UserId) -> String {
        format!("{}u:{{{}}}", self.prefix, user.0)
    }

    /// Records that `token` leads to `session`, for as long as the session can live.
    async fn link(
        &self,
        token: &RefreshTokenHash,
        session: &SessionId,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.client
            .set::<Value, _, _>(
                self.lookup_key(token),
                session.0.as_str(),
                Some(Expiration::PX(ttl_ms.max(1))),
                None,
                false,
            )
            .await
            .map(drop)
            .map_err(redis_error)
    }

    /// Takes `session` out of `user`'s index.
    async fn unindex(&self, user: UserId, session: &SessionId) -> Result<(), StoreError> {
        self.client
            .zrem::<Value, _, _>(self.user_key(user), session.0.as_str())
            .await
            .map(drop)
            .map_err(redis_error)
    }

    /// Revokes `session` if `user` owns it and it is live; whether it was revoked here.
    async fn revoke_one(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError> {
        let keys = vec![self.session_key(session)];
        let reply = self
            .run(&self.scripts.revoke, keys, vec![user.0.to_string()])
            .await?;
        let revoked = integer(reply)? == 1;
        self.unindex(user, session).await?;
        Ok(revoked)
    }

    /// The sessions in `user`'s index, with their ends (epoch ms).
    async fn indexed(&self, user: UserId) -> Result<Vec<(SessionId, i64)>, StoreError> {
        let members: Vec<(String, f64)> = self
            .client
            .zrange(self.user_key(user), 0, -1, None, false, None, true)
            .await
            .map_err(redis_error)?;
        // Scores are whole milliseconds, far below 2^53: exact as f64.
        #[allow(clippy::cast_possible_truncation)]
        let members = members
            .into_iter()
            .map(|(id, end)| (SessionId(id), end as i64))
            .collect();
        Ok(members)
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn start(&self, new: NewSession) -> Result<(), StoreError> {
        let created = millis(new.created_at);
        let expires = millis(new.expires_at);
        let ttl = expires.saturating_sub(created).max(1);
        // The index first: it may name a session not there yet, never miss one.
        self.run(
            &self.scripts.index,
            vec![self.user_key(new.user_id)],
            vec![new.id.0.clone(), expires.to_string(), ttl.to_string()],
        )
        .await?;
        // Then the token's way to its session, so that a failure before the session is
        // written leaves nothing a client could use or see listed.
        self.link(&new.first_token, &new.id, ttl).await?;
        let keys = vec![
            self.session_key(&new.id),
            self.token_key(&new.id, &new.first_token),
        ];
        let (has_agent, agent) = match new.user_agent {
            Some(agent) => ("1", agent),
            None => ("0", String::new()),
        };
        let args = vec![
            new.user_id.0.to_string(),
            created.to_string(),
            expires.to_string(),
            ttl.to_string(),
            has_agent.to_owned(),
            agent,
        ];
        self.run(&self.scripts.start, keys, args).await?;
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: RefreshTokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, StoreError> {
        let session: Option<String> = self
            .client
            .get(self.lookup_key(presented))
            .await
            .map_err(redis_error)?;
        let Some(session) = session.map(SessionId) else {
            return Ok(Rotation::Rejected);
        };
        let keys = vec![
            self.session_key(&session),
            self.token_key(&session, presented),
            self.token_key(&session, &next),
        ];
        // Rounding keeps the whole-millisecond comparisons in the script equal to the
        // exact ones of the other stores: timestamps are whole milliseconds, and for a
        // whole d, d <= grace iff d <= floor(grace), d < idle iff d < ceil(idle).
        let args = vec![
            millis(rules.now).to_string(),
            if rules.grace.is_positive() { "1" } else { "0" }.to_owned(),
            floor_millis(rules.grace).to_string(),
            ceil_millis(rules.idle).to_string(),
        ];
        let reply = self.run(&self.scripts.rotate, keys, args).await?;
        let mut items = array(reply)?.into_iter().map(text);
        let outcome = required(&mut items, "outcome")?;
        let wrap: fn(Session) -> Rotation = match outcome.as_str() {
            "rejected" => return Ok(Rotation::Rejected),
            "rotated" => Rotation::Rotated,
            "grace" => Rotation::GraceReissue,
            "reused" => Rotation::Reused,
            other => return Err(malformed(format!("unknown rotation outcome {other:?}"))),
        };
        let user_id = UserId(number(&required(&mut items, "user")?)?);
        let created = required(&mut items, "created")?;
        let used = required(&mut items, "used")?;
        let expires = required(&mut items, "expires")?;
        let user_agent = items.next().flatten();
        let ttl = number::<i64>(&expires)?.saturating_sub(number::<i64>(&created)?);
        if outcome == "reused" {
            self.unindex(user_id, &session).await?;
        } else {
            self.link(&next, &session, ttl).await?;
        }
        Ok(wrap(Session {
            id: session,
            user_id,
            user_agent,
            created_at: timestamp(&created)?,
            last_used_at: timestamp(&used)?,
            expires_at: timestamp(&expires)?,
        }))
    }

    async fn active(
        &self,
        user: UserId,
        now: Timestamp,
        idle: time::Duration,
    ) -> Result<Vec<Session>, StoreError> {
        let indexed = self.indexed(user).await?;
        // One read per session, all sent at once (each may be on another shard).
        let reads = indexed.iter().map(|(id, _)| {
            self.client
                .hmget::<Vec<Option<String>>, _, _>(self.session_key(id), LISTED_FIELDS.to_vec())
        });
        let fields = futures_util::future::try_join_all(reads)
            .await
            .map_err(redis_error)?;
        let owner = user.0.to_string();
        let now_ms = millis(now);
        let mut sessions = Vec::new();
        for ((id, end), fields) in indexed.into_iter().zip(fields) {
            let [owned_by, created, used, expires, revoked, user_agent] =
                <[Option<String>; 6]>::try_from(fields)
                    .map_err(|f| malformed(format!("{} session fields", f.len())))?;
            let session = match (owned_by, created, used, expires, revoked) {
                (Some(owned_by), Some(created), Some(used), Some(expires), None)
                    if owned_by == owner =>
                {
                    Session {
                        id,
                        user_id: user,
                        created_at: timestamp(&created)?,
                        last_used_at: timestamp(&used)?,
                        expires_at: timestamp(&expires)?,
                        user_agent,
                    }
                }
                // Gone before its end: maybe not written yet, so kept until then.
                (None, ..) if now_ms < end => continue,
                // Revoked, another user's, or gone past its end.
                _ => {
                    self.unindex(user, &id).await?;
                    continue;
                }
            };
            // Time is judged here, with the same function as the in-memory store.
            if session.is_live(now, idle) {
                sessions.push(session);
            }
        }
        sessions.sort_by(|a, b| {
            b.last_used_at
                .cmp(&a.last_used_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(sessions)
    }

    async fn revoke(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError> {
        self.revoke_one(user, session).await
    }

    async fn revoke_all(&self, user: UserId, keep: Option<&SessionId>) -> Result<u64, StoreError> {
        // All at once: each session may be on another shard.
        let revocations = self
            .indexed(user)
            .await?
            .into_iter()
            .filter(|(id, _)| Some(id) != keep)
            .map(|(id, _)| async move { self.revoke_one(user, &id).await });
        let revoked = futures_util::future::try_join_all(revocations).await?;
        Ok(u64::try_from(revoked.into_iter().filter(|&here| here).count()).unwrap_or(u64::MAX))
    }

    async fn status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        // One read, no script: the fields of one hash are read atomically.
        let fields: Vec<Option<String>> = self
            .client
            .hmget(
                self.session_key(id),
                vec!["user", "created", "used", "refreshed", "expires", "revoked"],
            )
            .await
            .map_err(redis_error)?;
        let [user, created, used, refreshed, expires, revoked] =
            <[Option<String>; 6]>::try_from(fields)
                .map_err(|f| malformed(format!("{} session fields", f.len())))?;
        let (Some(user), Some(created), Some(used), Some(expires), None) =
            (user, created, used, expires, revoked)
        else {
            return Ok(None);
        };
        Ok(Some(SessionStatus {
            user_id: UserId(number(&user)?),
            last_used_at: timestamp(&used)?,
            // Sessions never refreshed (or older than the field) were refreshed at sign-in.
            refreshed_at: timestamp(refreshed.as_deref().unwrap_or(&created))?,
            expires_at: timestamp(&expires)?,
        }))
    }

    async fn touch(&self, id: &SessionId, at: Timestamp) -> Result<(), StoreError> {
        let keys = vec![self.session_key(id)];
        let args = vec![millis(at).to_string()];
        self.run(&self.scripts.touch, keys, args).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::{Duration, macros::datetime};

    use super::*;

    /// Every key a session writes carries the prefix and expires no sooner than the
    /// session's absolute lifetime (and not much later); `clear` removes them all. Runs
    /// when `TEST_REDIS_URL` names a server.
    #[tokio::test]
    async fn keys_carry_the_prefix_and_the_session_lifetime() {
        use conduit_domain::session::RotationRules;
        use fred::interfaces::LuaInterface;

        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let store = RedisSessions::connect(&url, &prefix)
            .await
            .expect("connects");
        let created = Timestamp::new(datetime!(2024-05-01 10:00:00.123 UTC));
        let lifetime = Duration::days(30);
        store
            .start(NewSession {
                id: SessionId("s1".into()),
                user_id: UserId(7),
                user_agent: None,
                created_at: created,
                expires_at: Timestamp::new(created.as_offset_date_time() + lifetime),
                first_token: RefreshTokenHash("h1".into()),
            })
            .await
            .expect("started");
        let rules = RotationRules {
            now: Timestamp::new(created.as_offset_date_time() + Duration::minutes(1)),
            grace: Duration::ZERO,
            idle: Duration::hours(1),
        };
        let outcome = store
            .rotate(
                &RefreshTokenHash("h1".into()),
                RefreshTokenHash("h2".into()),
                rules,
            )
            .await
            .expect("rotated");
        assert!(matches!(outcome, Rotation::Rotated(_)), "{outcome:?}");

        // Every page of the scan: one page covers only part of a large keyspace.
        let list = "local out = {} \
            local cursor = '0' \
            repeat \
              local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 10000) \
              cursor = page[1] \
              for _, key in ipairs(page[2]) do \
                table.insert(out, {key, redis.call('PTTL', key)}) \
              end \
            until cursor == '0' \
            return out";
        let pattern = format!("{}*", glob_escape(&prefix));
        let reply: Value = store
            .client
            .eval(list, Vec::<String>::new(), vec![pattern.clone()])
            .await
            .expect("listed");
        let mut keys = Vec::new();
        for entry in array(reply).expect("a list") {
            let mut entry = array(entry).expect("a pair").into_iter();
            let key = entry.next().and_then(text).expect("a key");
            let ttl = entry.next().map(integer).expect("a TTL").expect("a number");
            let lifetime_ms = lifetime.whole_milliseconds() as i64;
            assert!(
                ttl > lifetime_ms - 60_000 && ttl <= lifetime_ms,
                "{key}: TTL {ttl} ms"
            );
            keys.push(key.strip_prefix(&prefix).expect("prefixed").to_owned());
        }
        keys.sort();
        assert_eq!(
            keys,
            [
                "rt:h1",
                "rt:h2",
                "s:{s1}",
                "s:{s1}t:h1",
                "s:{s1}t:h2",
                "u:{7}"
            ]
        );

        assert_eq!(store.clear().await.expect("cleared"), 6);
        let reply: Value = store
            .client
            .eval(list, Vec::<String>::new(), vec![pattern])
            .await
            .expect("listed");
        assert!(array(reply).expect("a list").is_empty());
    }
}
