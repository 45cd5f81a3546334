//! Idempotency records in the `idempotency_records` table.
//!
//! # Why the claim is atomic
//!
//! A claim is one statement: `INSERT ... ON CONFLICT (scope, key) DO UPDATE ... WHERE
//! expires_at_ms <= now`. It inserts a free key, takes over a row that has expired (an
//! answer kept past its retention, or a lease that lapsed), and leaves any other row
//! alone; it affects one row exactly when the caller now holds the key. PostgreSQL locks
//! the conflicting row, so of two racing claims the second sees the first's row and
//! its new expiry; SQLite runs one writer at a time. When nothing was affected, the row
//! that holds the key is read and reported. Times are epoch milliseconds so that SQL can
//! compare them on both engines.
//!
//! Completion and release name the claim's token in their `WHERE`, so a request whose
//! lease lapsed cannot touch the row of the request that took the key over.

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey, StoredResponse},
    ports::IdempotencyStore,
    time::Timestamp,
};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::{SqlStore, entity::idempotency_records as records, error::store_error};
use crate::idempotency_codec::{decode_headers, encode_headers, millis};

/// How many times a claim looks again when the row it conflicted with vanished before
/// it could be read (released or purged in between).
const CLAIM_ATTEMPTS: usize = 3;
/// One claim in this many also deletes every expired row.
const PURGE_ONE_IN: u32 = 64;

impl SqlStore {
    /// Claims the key if it is free or expired; `true` when the caller now holds it.
    async fn try_claim(&self, claim: &IdempotencyClaim) -> Result<bool, StoreError> {
        let upsert = Query::insert()
            .into_table(records::Entity)
            .columns([
                records::Column::Scope,
                records::Column::Key,
                records::Column::Token,
                records::Column::Fingerprint,
                records::Column::ExpiresAtMs,
                records::Column::Status,
                records::Column::Headers,
                records::Column::Body,
            ])
            .values_panic([
                claim.scope.as_str().into(),
                claim.key.as_str().into(),
                claim.token.as_str().into(),
                claim.fingerprint.as_str().into(),
                millis(claim.lease_until).into(),
                Option::<i32>::None.into(),
                Option::<String>::None.into(),
                Option::<Vec<u8>>::None.into(),
            ])
            .on_conflict(
                OnConflict::columns([records::Column::Scope, records::Column::Key])
                    .update_columns([
                        records::Column::Token,
                        records::Column::Fingerprint,
                        records::Column::ExpiresAtMs,
                        records::Column::Status,
                        records::Column::Headers,
                        records::Column::Body,
                    ])
                    .action_and_where(
                        Expr::col((records::Entity, records::Column::ExpiresAtMs))
                            .lte(millis(claim.now)),
                    )
                    .to_owned(),
            )
            .to_owned();
        let result = self.db.execute(&upsert).await.map_err(store_error)?;
        Ok(result.rows_affected() == 1)
    }

    /// The record holding `key` in `scope`, if any.
    async fn holder(&self, scope: &str, key: &IdempotencyKey) -> Result<Option<Begin>, StoreError> {
        let select = Query::select()
            .columns([
                records::Column::Fingerprint,
                records::Column::ExpiresAtMs,
                records::Column::Status,
                records::Column::Headers,
                records::Column::Body,
            ])
            .from(records::Entity)
            .and_where(Expr::col(records::Column::Scope).eq(scope))
            .and_where(Expr::col(records::Column::Key).eq(key.as_str()))
            .to_owned();
        let Some(row) = self.db.query_one(&select).await.map_err(store_error)? else {
            return Ok(None);
        };
        let fingerprint: String = row.try_get("", "fingerprint").map_err(store_error)?;
        let expires_at_ms: i64 = row.try_get("", "expires_at_ms").map_err(store_error)?;
        let status: Option<i32> = row.try_get("", "status").map_err(store_error)?;
        let Some(status) = status else {
            return Ok(Some(Begin::InFlight {
                fingerprint,
                until: crate::idempotency_codec::timestamp(expires_at_ms)?,
            }));
        };
        let headers: Option<String> = row.try_get("", "headers").map_err(store_error)?;
        let body: Option<Vec<u8>> = row.try_get("", "body").map_err(store_error)?;
        let status = u16::try_from(status)
            .map_err(|_| StoreError::Unexpected(format!("stored status {status}").into()))?;
        Ok(Some(Begin::Completed {
            fingerprint,
            response: StoredResponse {
                status,
                headers: decode_headers(headers.as_deref().unwrap_or("[]"))?,
                body: body.unwrap_or_default(),
            },
        }))
    }

    /// Deletes every row expired at `now`: answers past their retention, lapsed leases.
    async fn purge_idempotency(&self, now: Timestamp) -> Result<(), StoreError> {
        let delete = Query::delete()
            .from_table(records::Entity)
            .and_where(Expr::col(records::Column::ExpiresAtMs).lte(millis(now)))
            .to_owned();
        self.db.execute(&delete).await.map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn begin(&self, claim: &IdempotencyClaim) -> Result<Begin, StoreError> {
        if rand::random_ratio(1, PURGE_ONE_IN) {
            self.purge_idempotency(claim.now).await?;
        }
        for _ in 0..CLAIM_ATTEMPTS {
            if self.try_claim(claim).await? {
                return Ok(Begin::Claimed);
            }
            if let Some(holder) = self.holder(&claim.scope, &claim.key).await? {
                return Ok(holder);
            }
        }
        Err(StoreError::Unexpected(
            "idempotency key neither claimed nor held after several attempts".into(),
        ))
    }

    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
        response: StoredResponse,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let update = Query::update()
            .table(records::Entity)
            .values([
                (records::Column::Status, i32::from(response.status).into()),
                (
                    records::Column::Headers,
                    encode_headers(&response.headers)?.into(),
                ),
                (records::Column::Body, response.body.into()),
                (records::Column::ExpiresAtMs, millis(expires_at).into()),
            ])
            .and_where(Expr::col(records::Column::Scope).eq(scope))
            .and_where(Expr::col(records::Column::Key).eq(key.as_str()))
            .and_where(Expr::col(records::Column::Token).eq(token))
            .and_where(Expr::col(records::Column::Status).is_null())
            .to_owned();
        let result = self.db.execute(&update).await.map_err(store_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
    ) -> Result<bool, StoreError> {
        let delete = Query::delete()
            .from_table(records::Entity)
            .and_where(Expr::col(records::Column::Scope).eq(scope))
            .and_where(Expr::col(records::Column::Key).eq(key.as_str()))
            .and_where(Expr::col(records::Column::Token).eq(token))
            .and_where(Expr::col(records::Column::Status).is_null())
            .to_owned();
        let result = self.db.execute(&delete).await.map_err(store_error)?;
        Ok(result.rows_affected() == 1)
    }
}
