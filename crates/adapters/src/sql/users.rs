//! Accounts, profiles and follows.

use std::collections::HashSet;

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    patch::Patch,
    ports::{ProfileStore, UserStore},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Profile, User, UserChanges, Username},
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, OnConflict, Query},
};

use super::{
    SqlStore,
    entity::{follows, users},
    error::store_error,
    routed,
    rows::{Author, build_error, now},
};

/// `lower(column) = lower(value)`: the form the `users_*_lower_key` indexes serve, so a
/// case-insensitive lookup is an index lookup on both engines.
fn same_text(column: users::Column, value: &str) -> sea_orm::sea_query::Expr {
    Func::lower(Expr::col((users::Entity, column))).eq(Func::lower(Expr::val(value)))
}

fn user(row: users::Model) -> User {
    User {
        id: UserId(row.id),
        username: row.username,
        email: row.email,
        password_hash: PasswordHash::new(row.password_hash),
        bio: row.bio,
        image: row.image,
        created_at: Timestamp::new(row.created_at),
        updated_at: Timestamp::new(row.updated_at),
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create(&self, new: NewUser) -> Result<User, StoreError> {
        let at = new.created_at.as_offset_date_time();
        let row = users::ActiveModel {
            id: NotSet,
            username: Set(new.username.as_str().to_owned()),
            email: Set(new.email.as_str().to_owned()),
            password_hash: Set(new.password_hash.as_str().to_owned()),
            bio: Set(None),
            image: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        };
        let inserted = users::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        self.wrote().await;
        Ok(User {
            id: UserId(inserted.last_insert_id),
            username: new.username.into_inner(),
            email: new.email.into_inner(),
            password_hash: new.password_hash,
            bio: None,
            image: None,
            created_at: new.created_at,
            updated_at: new.created_at,
        })
    }

    async fn by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = users::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(user))
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = users::Entity::find()
            .filter(same_text(users::Column::Email, email.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(user))
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let mut update = Query::update();
        update
            .table(users::Entity)
            .value(users::Column::UpdatedAt, at.as_offset_date_time())
            .and_where(Expr::col(users::Column::Id).eq(id.0));
        if let Some(email) = changes.email {
            update.value(users::Column::Email, email.into_inner());
        }
        if let Some(username) = changes.username {
            update.value(users::Column::Username, username.into_inner());
        }
        if let Some(hash) = changes.password_hash {
            update.value(users::Column::PasswordHash, hash.as_str());
        }
        let clearable = [
            (users::Column::Bio, changes.bio.map(|b| b.into_inner())),
            (users::Column::Image, changes.image.map(|i| i.into_inner())),
        ];
        for (column, patch) in clearable {
            match patch {
                Patch::Keep => {}
                Patch::Clear => {
                    update.value(column, None::<String>);
                }
                Patch::Set(value) => {
                    update.value(column, value);
                }
            }
        }

        // The read-back shares the write's transaction, so it returns exactly what this
        // update wrote, not a concurrent writer's later change.
        let txn = self.db.begin().await.map_err(store_error)?;
        let updated = txn.execute(&update).await.map_err(store_error)?;
        if updated.rows_affected() == 0 {
            txn.rollback().await.map_err(store_error)?;
            return Ok(None);
        }
        let row = users::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        self.wrote().await;
        Ok(row.map(user))
    }
}

#[async_trait]
impl ProfileStore for SqlStore {
    async fn profile(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> Result<Option<Profile>, StoreError> {
        routed!(self, |db| async {
            let Some(row) = users::Entity::find()
                .filter(same_text(users::Column::Username, username.as_str()))
                .one(db)
                .await
                .map_err(store_error)?
            else {
                return Ok::<_, StoreError>(None);
            };
            let mut followed = HashSet::new();
            if let Some(viewer) = viewer {
                let follow = follows::Entity::find_by_id((viewer.0, row.id))
                    .one(db)
                    .await
                    .map_err(store_error)?;
                if follow.is_some() {
                    followed.insert(row.id);
                }
            }
            let author = Author {
                id: row.id,
                username: row.username,
                bio: row.bio,
                image: row.image,
            };
            Ok(Some(author.profile(&followed)))
        }
        .await)
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError> {
        let insert = Query::insert()
            .into_table(follows::Entity)
            .columns([
                follows::Column::FollowerId,
                follows::Column::FolloweeId,
                follows::Column::CreatedAt,
            ])
            .values([follower.0.into(), followee.0.into(), now().into()])
            .map_err(build_error)?
            .on_conflict(
                OnConflict::columns([follows::Column::FollowerId, follows::Column::FolloweeId])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        self.db.execute(&insert).await.map_err(store_error)?;
        self.wrote().await;
        Ok(())
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError> {
        follows::Entity::delete_many()
            .filter(follows::Column::FollowerId.eq(follower.0))
            .filter(follows::Column::FolloweeId.eq(followee.0))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        self.wrote().await;
        Ok(())
    }

    async fn followees(&self, follower: UserId, limit: u64) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<i64> = follows::Entity::find()
            .select_only()
            .column(follows::Column::FolloweeId)
            .filter(follows::Column::FollowerId.eq(follower.0))
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}
