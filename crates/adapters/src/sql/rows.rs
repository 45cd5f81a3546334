//! Conversions between stored rows and domain values, shared by the port
//! implementations.

use std::collections::HashSet;

use conduit_domain::{StoreError, UserId, time::Timestamp, user::Profile};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use time::OffsetDateTime;

use super::{entity::follows, error::store_error};

/// The current time as stored: whole milliseconds, UTC, like every domain [`Timestamp`].
pub(super) fn now() -> OffsetDateTime {
    Timestamp::new(OffsetDateTime::now_utc()).as_offset_date_time()
}

/// A stored count as the domain's unsigned count. Counters only ever drop when a row they
/// count is deleted in the same transaction, so a negative value would be a broken
/// invariant rather than something to report to a caller.
pub(super) fn count(stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored)
        .map_err(|_| StoreError::Unexpected(format!("negative count {stored} in storage").into()))
}

/// A statement sea-query refused to build: always a bug in this adapter.
pub(super) fn build_error(err: sea_orm::sea_query::error::Error) -> StoreError {
    StoreError::Unexpected(Box::new(err))
}

/// The columns of a user that make up their public profile.
#[derive(Debug)]
pub(super) struct Author {
    pub(super) id: i64,
    pub(super) username: String,
    pub(super) bio: Option<String>,
    pub(super) image: Option<String>,
}

impl Author {
    pub(super) fn profile(self, followed: &HashSet<i64>) -> Profile {
        Profile {
            user_id: UserId(self.id),
            following: followed.contains(&self.id),
            username: self.username,
            bio: self.bio,
            image: self.image,
        }
    }
}

/// Which of `authors` the viewer follows, in one query; nobody for anonymous viewers.
pub(super) async fn followed_among(
    conn: &impl ConnectionTrait,
    viewer: Option<UserId>,
    authors: impl IntoIterator<Item = i64>,
) -> Result<HashSet<i64>, StoreError> {
    let Some(viewer) = viewer else {
        return Ok(HashSet::new());
    };
    let authors: HashSet<i64> = authors.into_iter().collect();
    if authors.is_empty() {
        return Ok(HashSet::new());
    }
    let followed = follows::Entity::find()
        .select_only()
        .column(follows::Column::FolloweeId)
        .filter(follows::Column::FollowerId.eq(viewer.0))
        .filter(follows::Column::FolloweeId.is_in(authors))
        .into_tuple::<i64>()
        .all(conn)
        .await
        .map_err(store_error)?;
    Ok(followed.into_iter().collect())
}
