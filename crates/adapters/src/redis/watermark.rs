//! The replica watermark in Redis (ADR 0032): how far in the primary's WAL the writes
//! every instance acknowledged reach, so that any instance sends a read to a replica only
//! once the replica has replayed them all.
//!
//! One string key, `P` `db:lsn` (`P` being the prefix given to [`RedisWatermark::connect`]):
//! the position as 16 lower-case hexadecimal digits, so that comparing the text compares
//! the numbers. It has no expiry (`volatile-*` eviction spares it). When it is missing (a
//! new or flushed Redis) the store raises it to the primary's position before trusting a
//! replica.

use std::sync::Arc;

use async_trait::async_trait;
use conduit_domain::StoreError;
use fred::{
    prelude::{Client, KeysInterface},
    types::scripts::Script,
};

use super::{connect_client, redis_error};
use crate::sql::replica::Watermark;

/// Raises the key to ARGV[1] if it is below (or missing). KEYS[1]: the key.
const RAISE_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if not current or current < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
";

/// The replica watermark in Redis, shared by every instance. Cloning shares the
/// connection.
#[derive(Clone)]
pub struct RedisWatermark {
    client: Client,
    key: Arc<str>,
    raise: Arc<Script>,
}

impl std::fmt::Debug for RedisWatermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWatermark")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl RedisWatermark {
    /// Connects to the Redis at `url` (any URL [`super::RedisSessions::connect`] takes);
    /// the key is `key_prefix` `db:lsn`.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<RedisWatermark, StoreError> {
        Ok(RedisWatermark {
            client: connect_client(url).await?,
            key: Arc::from(format!("{key_prefix}db:lsn")),
            raise: Arc::new(Script::from_lua(RAISE_SCRIPT)),
        })
    }
}

#[async_trait]
impl Watermark for RedisWatermark {
    async fn get(&self) -> Result<Option<u64>, StoreError> {
        let text: Option<String> = self
            .client
            .get(self.key.as_ref())
            .await
            .map_err(redis_error)?;
        text.map(|text| {
            u64::from_str_radix(&text, 16).map_err(|_| {
                StoreError::Unexpected(
                    format!("replica watermark {text:?} is not a position").into(),
                )
            })
        })
        .transpose()
    }

    async fn raise(&self, lsn: u64) -> Result<(), StoreError> {
        self.raise
            .evalsha_with_reload::<i64, _, _>(
                &self.client,
                vec![self.key.to_string()],
                vec![format!("{lsn:016x}")],
            )
            .await
            .map(drop)
            .map_err(redis_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watermark only rises, across values whose text would sort wrongly without
    /// the fixed width. Runs when `TEST_REDIS_URL` names a server.
    #[tokio::test]
    async fn the_watermark_only_rises() {
        let Some((url, prefix)) = crate::redis::test_server() else {
            return;
        };
        let watermark = RedisWatermark::connect(&url, &prefix)
            .await
            .expect("connects");
        assert_eq!(watermark.get().await.expect("read"), None);
        for (raise, expected) in [(0x9, 0x9), (0x10, 0x10), (0xA, 0x10), (1 << 40, 1 << 40)] {
            watermark.raise(raise).await.expect("raised");
            assert_eq!(watermark.get().await.expect("read"), Some(expected));
        }
        let _: i64 = watermark
            .client
            .del(watermark.key.as_ref())
            .await
            .expect("deleted");
    }
}
