//! Links between provider identities and accounts in `user_identities`.
//!
//! `link` never overwrites: it inserts with `ON CONFLICT DO NOTHING` and then reads the
//! row back, so of two racing links of one identity the first to commit wins and both
//! callers learn its account. (On PostgreSQL the second insert waits for the first to
//! commit before deciding there is a conflict; the read that follows, a statement of its
//! own, sees the committed row.)

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId, identity::IdentityLink, ports::IdentityLinks, time::Timestamp,
};
use sea_orm::{
    ConnectionTrait, EntityTrait, QuerySelect,
    sea_query::{OnConflict, Query},
};

use super::{SqlStore, entity::user_identities, error::store_error};

impl SqlStore {
    async fn linked_user(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<UserId>, StoreError> {
        let user = user_identities::Entity::find_by_id((provider.to_owned(), subject.to_owned()))
            .select_only()
            .column(user_identities::Column::UserId)
            .into_tuple::<i64>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(user.map(UserId))
    }
}

#[async_trait]
impl IdentityLinks for SqlStore {
    async fn user_for(&self, provider: &str, subject: &str) -> Result<Option<UserId>, StoreError> {
        self.linked_user(provider, subject).await
    }

    async fn link(&self, link: IdentityLink, at: Timestamp) -> Result<UserId, StoreError> {
        let insert = Query::insert()
            .into_table(user_identities::Entity)
            .columns([
                user_identities::Column::Provider,
                user_identities::Column::Subject,
                user_identities::Column::UserId,
                user_identities::Column::CreatedAt,
            ])
            .values_panic([
                link.provider.as_str().into(),
                link.subject.as_str().into(),
                link.user_id.0.into(),
                at.as_offset_date_time().into(),
            ])
            .on_conflict(
                OnConflict::columns([
                    user_identities::Column::Provider,
                    user_identities::Column::Subject,
                ])
                .do_nothing()
                .to_owned(),
            )
            .to_owned();
        self.db.execute(&insert).await.map_err(store_error)?;
        self.linked_user(&link.provider, &link.subject)
            .await?
            .ok_or_else(|| {
                // Only deleting the account between the two statements (the link goes
                // with it) can get here.
                StoreError::Unexpected(
                    format!(
                        "identity {}/{} vanished right after being linked",
                        link.provider, link.subject
                    )
                    .into(),
                )
            })
    }
}
