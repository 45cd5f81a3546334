//! Idempotency records in Redis: an [`IdempotencyStore`] that every API instance
//! shares, so a retry that lands on another instance still finds the first answer.
//!
//! Each record is one hash, `P` `idem:` `<length of scope>:<scope>:<key>` (`P` being
//! the prefix given to [`RedisIdempotency::connect`]; the length keeps any scope and key
//! apart), with the fields `token`, `fp` (fingerprint), `exp` (epoch ms: the lease's end
//! while in flight, the retention's end once done) and, once done, `status`, `headers`
//! and `body`. Redis drops the hash at `exp` by itself (`PEXPIREAT`), so nothing
//! outlives its retention; `exp` is also compared with the caller's `now`, the clock the
//! port speaks of.
//!
//! Each method is one Lua script, which Redis runs without interleaving other commands:
//! of two racing claims of a free key, exactly one finds it free.

use std::sync::Arc;

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey, StoredResponse},
    ports::IdempotencyStore,
    time::Timestamp,
};
use fred::{
    prelude::{Client, Value},
    types::scripts::Script,
};

use super::{connect_client, redis_error};
use crate::idempotency_codec::{decode_headers, encode_headers, millis, timestamp};

/// Idempotency records in Redis, under one key prefix. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisIdempotency {
    client: Client,
    prefix: Arc<str>,
    scripts: Arc<[Script; 3]>,
}

impl std::fmt::Debug for RedisIdempotency {
    // The scripts' text would drown everything else in a debug print of the store.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIdempotency")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

const BEGIN: usize = 0;
const COMPLETE: usize = 1;
const RELEASE: usize = 2;

impl RedisIdempotency {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port[/db]`)
    /// and checks that it answers. Every key this store writes starts with `key_prefix`
    /// (the same prefix as the other Redis adapters' is fine: the key names differ).
    ///
    /// Connecting and each command give up after 5 seconds with
    /// [`StoreError::Unavailable`]; a lost connection is re-established in the
    /// background.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<RedisIdempotency, StoreError> {
        let client = connect_client(url).await?;
        Ok(RedisIdempotency {
            client,
            prefix: Arc::from(key_prefix),
            scripts: Arc::new([
                Script::from_lua(include_str!("idempotency_begin.lua")),
                Script::from_lua(include_str!("idempotency_complete.lua")),
                Script::from_lua(include_str!("idempotency_release.lua")),
            ]),
        })
    }

    fn key(&self, scope: &str, key: &IdempotencyKey) -> String {
        format!(
            "{}idem:{}:{scope}:{}",
            self.prefix,
            scope.len(),
            key.as_str()
        )
    }

    async fn run(&self, script: usize, key: String, args: Vec<Value>) -> Result<Value, StoreError> {
        self.scripts[script]
            .evalsha_with_reload::<Value, _, _>(&self.client, vec![key], args)
            .await
            .map_err(redis_error)
    }
}

fn malformed(what: String) -> StoreError {
    StoreError::Unexpected(
        format!("unexpected reply from a Redis idempotency script: {what}").into(),
    )
}

/// A reply item's bytes (Redis strings are bytes; fred may hand them over as text).
fn bytes(value: Value) -> Result<Vec<u8>, StoreError> {
    match value {
        Value::Bytes(b) => Ok(b.to_vec()),
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(i) => Ok(i.to_string().into_bytes()),
        other => Err(malformed(format!("expected a string, got {other:?}"))),
    }
}

fn text(value: Value) -> Result<String, StoreError> {
    String::from_utf8(bytes(value)?).map_err(|e| malformed(e.to_string()))
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| malformed(format!("{text:?} is not a number")))
}

/// The begin script's reply as the port's answer.
fn began(reply: Value) -> Result<Begin, StoreError> {
    let Value::Array(items) = reply else {
        return Err(malformed(format!("expected a list, got {reply:?}")));
    };
    let mut items = items.into_iter();
    let mut next = |what: &str| {
        items
            .next()
            .ok_or_else(|| malformed(format!("missing {what}")))
    };
    match text(next("outcome")?)?.as_str() {
        "claimed" => Ok(Begin::Claimed),
        "held" => {
            let fingerprint = text(next("fingerprint")?)?;
            let expiry: i64 = number(&text(next("expiry")?)?)?;
            let status = text(next("status")?)?;
            let headers = text(next("headers")?)?;
            let body = bytes(next("body")?)?;
            if status.is_empty() {
                return Ok(Begin::InFlight {
                    fingerprint,
                    until: timestamp(expiry)?,
                });
            }
            Ok(Begin::Completed {
                fingerprint,
                response: StoredResponse {
                    status: number(&status)?,
                    headers: decode_headers(&headers)?,
                    body,
                },
            })
        }
        other => Err(malformed(format!("unknown outcome {other:?}"))),
    }
}

fn flag(reply: Value) -> Result<bool, StoreError> {
    match reply {
        Value::Integer(i) => Ok(i == 1),
        other => Err(malformed(format!("expected an integer, got {other:?}"))),
    }
}

#[async_trait]
impl IdempotencyStore for RedisIdempotency {
    async fn begin(&self, claim: &IdempotencyClaim) -> Result<Begin, StoreError> {
        let args = vec![
            Value::from(millis(claim.now)),
            Value::from(claim.token.as_str()),
            Value::from(claim.fingerprint.as_str()),
            Value::from(millis(claim.lease_until)),
        ];
        let reply = self
            .run(BEGIN, self.key(&claim.scope, &claim.key), args)
            .await?;
        began(reply)
    }

    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
        response: StoredResponse,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let args = vec![
            Value::from(token),
            Value::from(i64::from(response.status)),
            Value::from(encode_headers(&response.headers)?),
            Value::Bytes(response.body.into()),
            Value::from(millis(expires_at)),
        ];
        flag(self.run(COMPLETE, self.key(scope, key), args).await?)
    }

    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
    ) -> Result<bool, StoreError> {
        flag(
            self.run(RELEASE, self.key(scope, key), vec![Value::from(token)])
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_become_answers() {
        let s = |t: &str| Value::from(t);
        assert_eq!(
            began(Value::Array(vec![s("claimed")])).expect("well formed"),
            Begin::Claimed
        );
        let held = began(Value::Array(vec![
            s("held"),
            s("fp"),
            s("1000"),
            s("201"),
            s("[[\"location\",\"/x\"]]"),
            Value::Bytes(b"{}".to_vec().into()),
        ]))
        .expect("well formed");
        assert_eq!(
            held,
            Begin::Completed {
                fingerprint: "fp".into(),
                response: StoredResponse {
                    status: 201,
                    headers: vec![("location".into(), "/x".into())],
                    body: b"{}".to_vec(),
                },
            }
        );
        assert!(matches!(
            began(Value::Array(vec![
                s("held"),
                s("fp"),
                s("1000"),
                s(""),
                s(""),
                s("")
            ])),
            Ok(Begin::InFlight { .. })
        ));
        for bad in [
            Value::Null,
            Value::Array(vec![s("held")]),
            Value::Array(vec![s("other")]),
        ] {
            assert!(began(bad).is_err());
        }
    }
}
