//! Sessions in Redis, through fred: a [`SessionStore`] that several API instances can
//! share without putting session traffic on the database.
//!
//! # Key layout
//!
//! Every key starts with the prefix given to [`RedisSessions::connect`] (`P` below):
//!
//! | key | type | fields / members |
//! |---|---|---|
//! | `P` `session:` id | hash | `user`, `created`, `used` (last use), `refreshed` (last refresh, once refreshed), `expires`, `ua` (if any), `revoked` (`1`, once revoked) |
//! | `P` `token:` hash | hash | `session` (its id), `retired` (once retired) |
//! | `P` `user:` user id | set | ids of that user's sessions not known to be revoked |
//!
//! Times are epoch milliseconds in decimal, always the caller's (`RotationRules::now`,
//! `NewSession::created_at`), never the server's clock: the outcome of a rotation then
//! depends on the same inputs as with the other adapters.
//!
//! Every key expires after the whole absolute lifetime of its session (`expires -
//! created`), counted from when it was written, so nothing outlives the session it
//! serves and dead sessions disappear by themselves. The user index is pruned of
//! vanished and revoked sessions whenever it is read.
//!
//! # Atomicity
//!
//! Each port method is one Lua script, which Redis runs without interleaving any other
//! command. `rotate` in particular looks the token up, checks the session, applies the
//! grace rule and revokes or rotates in one script, so of several concurrent rotations of
//! one token exactly one sees it current.
//!
//! The scripts reach the session and index keys through the prefix rather than through
//! `KEYS`, because which session a token belongs to is only known inside the script. A
//! single Redis server (or a primary with replicas) is fine; on Redis Cluster, put a hash
//! tag in the prefix (`{conduit}:`) so that every key lands in one slot.

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
    prelude::{Client, HashesInterface, Value},
    types::scripts::Script,
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
    rotate: Script,
    active: Script,
    revoke: Script,
    revoke_all: Script,
    touch: Script,
    clear: Script,
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
            rotate: Script::from_lua(include_str!("rotate.lua")),
            active: Script::from_lua(include_str!("active.lua")),
            revoke: Script::from_lua(include_str!("revoke.lua")),
            revoke_all: Script::from_lua(include_str!("revoke_all.lua")),
            touch: Script::from_lua(include_str!("touch.lua")),
            clear: Script::from_lua(include_str!("clear.lua")),
        }
    }
}

impl RedisSessions {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`)
    /// and checks that it answers. Every key this store writes starts with `key_prefix`.
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

    /// Deletes every key under this store's prefix, a page of keys at a time so the
    /// server is never blocked for long; returns how many were deleted. Meant for tests
    /// and for signing everybody out; keys written meanwhile may survive.
    pub async fn clear(&self) -> Result<u64, StoreError> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let mut cursor = "0".to_owned();
        let mut deleted = 0;
        loop {
            let reply = self
                .run(
                    &self.scripts.clear,
                    Vec::new(),
                    vec![cursor, pattern.clone()],
                )
                .await?;
            let mut page = array(reply)?.into_iter().map(text);
            cursor = required(&mut page, "cursor")?;
            deleted += number::<u64>(&required(&mut page, "deleted count")?)?;
            if cursor == "0" {
                return Ok(deleted);
            }
        }
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
        format!("{}session:{}", self.prefix, id.0)
    }

    fn token_key(&self, hash: &RefreshTokenHash) -> String {
        format!("{}token:{}", self.prefix, hash.0)
    }

    fn user_key(&self, user: UserId) -> String {
        format!("{}user:{}", self.prefix, user.0)
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn start(&self, new: NewSession) -> Result<(), StoreError> {
        let created = millis(new.created_at);
        let expires = millis(new.expires_at);
        let ttl = expires.saturating_sub(created).max(1);
        let keys = vec![
            self.session_key(&new.id),
            self.token_key(&new.first_token),
            self.user_key(new.user_id),
        ];
        let (has_agent, agent) = match new.user_agent {
            Some(agent) => ("1", agent),
            None => ("0", String::new()),
        };
        let args = vec![
            new.id.0,
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
        let keys = vec![self.token_key(presented), self.token_key(&next)];
        // Rounding keeps the whole-millisecond comparisons in the script equal to the
        // exact ones of the other stores: timestamps are whole milliseconds, and for a
        // whole d, d <= grace iff d <= floor(grace), d < idle iff d < ceil(idle).
        let args = vec![
            self.prefix.to_string(),
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
        let id = SessionId(required(&mut items, "session id")?);
        let user_id = UserId(number(&required(&mut items, "user")?)?);
        let created_at = timestamp(&required(&mut items, "created")?)?;
        let last_used_at = timestamp(&required(&mut items, "used")?)?;
        let expires_at = timestamp(&required(&mut items, "expires")?)?;
        let user_agent = items.next().flatten();
        Ok(wrap(Session {
            id,
            user_id,
            user_agent,
            created_at,
            last_used_at,
            expires_at,
        }))
    }

    async fn active(
        &self,
        user: UserId,
        now: Timestamp,
        idle: time::Duration,
    ) -> Result<Vec<Session>, StoreError> {
        let keys = vec![self.user_key(user)];
        let args = vec![self.prefix.to_string(), user.0.to_string()];
        let reply = self.run(&self.scripts.active, keys, args).await?;
        let mut sessions = Vec::new();
        for entry in array(reply)? {
            let mut fields = array(entry)?.into_iter().map(text);
            let session = Session {
                id: SessionId(required(&mut fields, "session id")?),
                user_id: user,
                created_at: timestamp(&required(&mut fields, "created")?)?,
                last_used_at: timestamp(&required(&mut fields, "used")?)?,
                expires_at: timestamp(&required(&mut fields, "expires")?)?,
                user_agent: fields.next().flatten(),
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
        let keys = vec![self.session_key(session), self.user_key(user)];
        let args = vec![user.0.to_string(), session.0.clone()];
        let reply = self.run(&self.scripts.revoke, keys, args).await?;
        Ok(integer(reply)? == 1)
    }

    async fn revoke_all(&self, user: UserId, keep: Option<&SessionId>) -> Result<u64, StoreError> {
        let keys = vec![self.user_key(user)];
        let (has_keep, keep) = match keep {
            Some(keep) => ("1", keep.0.clone()),
            None => ("0", String::new()),
        };
        let args = vec![
            self.prefix.to_string(),
            user.0.to_string(),
            has_keep.to_owned(),
            keep,
        ];
        let reply = self.run(&self.scripts.revoke_all, keys, args).await?;
        u64::try_from(integer(reply)?).map_err(|e| malformed(e.to_string()))
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
        assert_eq!(keys, ["session:s1", "token:h1", "token:h2", "user:7"]);

        assert_eq!(store.clear().await.expect("cleared"), 4);
        let reply: Value = store
            .client
            .eval(list, Vec::<String>::new(), vec![pattern])
            .await
            .expect("listed");
        assert!(array(reply).expect("a list").is_empty());
    }
}
