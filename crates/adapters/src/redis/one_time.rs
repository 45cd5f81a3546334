//! Single-use values in Redis: a [`OneTimeStore`] that several API instances share, so
//! a login started on one instance can finish on another.
//!
//! Each value is one string key, `P` `once:` key (`P` being the prefix given to
//! [`RedisOneTime::connect`]), holding `<expiry in epoch ms>:<value>`. It is written with
//! `SET ... PXAT expiry`, so Redis drops it by itself once expired, and read with
//! `GETDEL`, which returns and deletes it in one command: of two racing takes, one gets
//! the value and the other nothing. The expiry is stored in the value too and checked
//! against the caller's `now`, because the caller's clock is the one the port speaks of:
//! an expired value is never returned, even when Redis's clock lags behind.

use std::sync::Arc;

use async_trait::async_trait;
use conduit_domain::{StoreError, ports::OneTimeStore, time::Timestamp};
use fred::{
    prelude::{Client, KeysInterface},
    types::Expiration,
};

use super::{connect_client, millis, redis_error};

/// Single-use values in Redis, under one key prefix. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct RedisOneTime {
    client: Client,
    prefix: Arc<str>,
}

impl RedisOneTime {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`)
    /// and checks that it answers. Every key this store writes starts with `key_prefix`
    /// (the same prefix as the session store's is fine: the key names differ).
    ///
    /// Connecting and each command give up after 5 seconds with
    /// [`StoreError::Unavailable`]; a lost connection is re-established in the
    /// background.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<RedisOneTime, StoreError> {
        let client = connect_client(url).await?;
        Ok(RedisOneTime {
            client,
            prefix: Arc::from(key_prefix),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}once:{key}", self.prefix)
    }
}

#[async_trait]
impl OneTimeStore for RedisOneTime {
    async fn put(&self, key: &str, value: String, expires_at: Timestamp) -> Result<(), StoreError> {
        let expiry = millis(expires_at);
        // An expiry already past makes Redis delete the key at once, which is what an
        // already expired value deserves; Redis refuses times before 1970, hence the
        // floor.
        self.client
            .set::<(), _, _>(
                self.key(key),
                format!("{expiry}:{value}"),
                Some(Expiration::PXAT(expiry.max(1))),
                None,
                false,
            )
            .await
            .map_err(redis_error)
    }

    async fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let stored: Option<String> = self
            .client
            .getdel(self.key(key))
            .await
            .map_err(redis_error)?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let (expiry, value) = stored
            .split_once(':')
            .and_then(|(expiry, value)| Some((expiry.parse::<i64>().ok()?, value)))
            .ok_or_else(|| {
                StoreError::Unexpected(format!("malformed one-time value under {key}").into())
            })?;
        Ok((millis(now) < expiry).then(|| value.to_owned()))
    }
}
