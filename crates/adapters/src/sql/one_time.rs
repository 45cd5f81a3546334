//! Single-use values in the `one_time_values` table.
//!
//! # Why `take` is single-use
//!
//! It is one statement, `DELETE ... WHERE key = ? RETURNING value, expires_at`: the row
//! comes back only to the statement that deleted it. On PostgreSQL a second, racing
//! delete waits on the first one's row lock and then finds the row gone; SQLite (3.35 or
//! later has `RETURNING`) runs one writer at a time. The expiry is checked afterwards in
//! Rust, as in the in-memory store, because SQLite keeps timestamps as text that does not
//! compare correctly; an expired value is deleted all the same, and never returned.

use async_trait::async_trait;
use conduit_domain::{StoreError, ports::OneTimeStore, time::Timestamp};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use time::OffsetDateTime;

use super::{SqlStore, entity::one_time_values, error::store_error};

#[async_trait]
impl OneTimeStore for SqlStore {
    async fn put(&self, key: &str, value: String, expires_at: Timestamp) -> Result<(), StoreError> {
        let upsert = Query::insert()
            .into_table(one_time_values::Entity)
            .columns([
                one_time_values::Column::Key,
                one_time_values::Column::Value,
                one_time_values::Column::ExpiresAt,
            ])
            .values_panic([
                key.into(),
                value.into(),
                expires_at.as_offset_date_time().into(),
            ])
            .on_conflict(
                OnConflict::column(one_time_values::Column::Key)
                    .update_columns([
                        one_time_values::Column::Value,
                        one_time_values::Column::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .to_owned();
        self.db.execute(&upsert).await.map_err(store_error)?;
        Ok(())
    }

    async fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let delete = Query::delete()
            .from_table(one_time_values::Entity)
            .and_where(Expr::col(one_time_values::Column::Key).eq(key))
            .returning(Query::returning().columns([
                one_time_values::Column::Value,
                one_time_values::Column::ExpiresAt,
            ]))
            .to_owned();
        let Some(row) = self.db.query_one(&delete).await.map_err(store_error)? else {
            return Ok(None);
        };
        let value: String = row.try_get("", "value").map_err(store_error)?;
        let expires_at: OffsetDateTime = row.try_get("", "expires_at").map_err(store_error)?;
        Ok((now < Timestamp::new(expires_at)).then_some(value))
    }
}
