//! API key metadata.
//!
//! Ordering is done in Rust with the in-memory store's function, not in SQL: SQLite keeps
//! timestamps as RFC 3339 text with a variable number of fractional digits, which does
//! not sort correctly as text.

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    api_key::{ApiKey, ApiKeyId, Scope},
    ports::ApiKeyStore,
    time::Timestamp,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Query},
};

use super::{SqlStore, entity::api_keys, error::store_error};
use crate::memory::api_keys::newest_first;

/// Scopes as stored: their names, in order, separated by single spaces.
fn scopes_column(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn api_key(row: api_keys::Model) -> Result<ApiKey, StoreError> {
    let scopes = row
        .scopes
        .split_whitespace()
        .map(|name| {
            // Only this adapter writes the column, so an unknown name is corruption (or
            // a scope removed from the code while keys still carry it).
            Scope::parse(name).map_err(|_| {
                StoreError::Unexpected(
                    format!("API key {} has an unknown scope {name:?}", row.id).into(),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiKey {
        id: ApiKeyId(row.id),
        user_id: UserId(row.user_id),
        name: row.name,
        scopes,
        created_at: Timestamp::new(row.created_at),
        expires_at: row.expires_at.map(Timestamp::new),
        revoked_at: row.revoked_at.map(Timestamp::new),
    })
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn create(&self, key: ApiKey) -> Result<(), StoreError> {
        api_keys::Entity::insert(api_keys::ActiveModel {
            scopes: Set(scopes_column(&key.scopes)),
            id: Set(key.id.0),
            user_id: Set(key.user_id.0),
            name: Set(key.name),
            created_at: Set(key.created_at.as_offset_date_time()),
            expires_at: Set(key.expires_at.map(Timestamp::as_offset_date_time)),
            revoked_at: Set(key.revoked_at.map(Timestamp::as_offset_date_time)),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        api_keys::Entity::find_by_id(id.0.clone())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(api_key)
            .transpose()
    }

    async fn list(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let rows = api_keys::Entity::find()
            .filter(api_keys::Column::UserId.eq(user.0))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let mut keys = rows
            .into_iter()
            .map(api_key)
            .collect::<Result<Vec<_>, _>>()?;
        newest_first(&mut keys);
        Ok(keys)
    }

    async fn revoke(&self, user: UserId, id: &ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
        // One conditional update: the owner and "not yet revoked" are part of the
        // condition, so another user's key is not found and a second revocation (even a
        // concurrent one) changes nothing and keeps the first time.
        let revoke = Query::update()
            .table(api_keys::Entity)
            .value(api_keys::Column::RevokedAt, at.as_offset_date_time())
            .and_where(Expr::col(api_keys::Column::Id).eq(id.0.as_str()))
            .and_where(Expr::col(api_keys::Column::UserId).eq(user.0))
            .and_where(Expr::col(api_keys::Column::RevokedAt).is_null())
            .to_owned();
        let result = self.db.execute(&revoke).await.map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }
}
