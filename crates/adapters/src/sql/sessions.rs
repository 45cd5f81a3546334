//! Sessions and their refresh-token families.
//!
//! Time rules (idle and absolute lifetimes, the grace window) are applied in Rust with the
//! same functions as the in-memory store, not in SQL: SQLite keeps timestamps as RFC 3339
//! text with a variable number of fractional digits, which does not compare correctly as
//! text, and the reference semantics then live in one place.
//!
//! # Why `rotate` is atomic
//!
//! One transaction per rotation. It locks the session row (`SELECT ... FOR UPDATE` on
//! PostgreSQL; SQLite starts the transaction `IMMEDIATE`, which takes the database's
//! write lock at once), so rotations within one session run one after the other, as the
//! in-memory store's mutex makes them. Under that lock the presented token is retired
//! with a conditional `UPDATE ... WHERE retired_at IS NULL`, and the rows it affected
//! decide the winner: 1 means this caller saw the token current. Losers then read the
//! retirement time (PostgreSQL runs the transaction at READ COMMITTED, where each
//! statement sees what committed before it began, so the winner's retirement is visible)
//! and apply the grace rule. Even without the lock, the conditional update alone would
//! let only one transaction affect the row: a second one waits on the row lock and
//! re-checks `retired_at IS NULL` against the committed row.

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    ports::SessionStore,
    session::{
        Decision, NewSession, RefreshTokenHash, Rotation, RotationRules, Session, SessionId,
        SessionStatus,
    },
    time::Timestamp,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    IsolationLevel, QueryFilter, QuerySelect, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use super::{
    SqlStore,
    entity::{refresh_tokens, sessions},
    error::store_error,
    rows::now,
};

fn session(row: sessions::Model) -> Session {
    Session {
        id: SessionId(row.id),
        user_id: UserId(row.user_id),
        user_agent: row.user_agent,
        created_at: Timestamp::new(row.created_at),
        last_used_at: Timestamp::new(row.last_used_at),
        expires_at: Timestamp::new(row.expires_at),
    }
}

/// Most recently used first; ties by id, descending, as the in-memory store orders them.
/// Sorted here rather than in SQL because PostgreSQL may compare text by locale, and
/// SQLite's timestamps do not sort as text.
fn most_recent_first(sessions: &mut [Session]) {
    sessions.sort_by(|a, b| {
        b.last_used_at
            .cmp(&a.last_used_at)
            .then_with(|| b.id.cmp(&a.id))
    });
}

impl SqlStore {
    /// A transaction in which a read followed by a write cannot interleave with another
    /// writer's: `IMMEDIATE` on SQLite (the write lock is taken at `BEGIN`, so another
    /// process sharing the file waits instead of failing mid-transaction); READ
    /// COMMITTED, stated rather than assumed from the server's default, on PostgreSQL.
    async fn begin_for_rotation(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            },
            _ => TransactionOptions {
                isolation_level: Some(IsolationLevel::ReadCommitted),
                ..TransactionOptions::default()
            },
        };
        self.db
            .begin_with_options(options)
            .await
            .map_err(store_error)
    }
}

/// The body of [`SessionStore::rotate`], inside the caller's transaction.
async fn rotate_in(
    txn: &DatabaseTransaction,
    presented: &RefreshTokenHash,
    next: RefreshTokenHash,
    rules: RotationRules,
) -> Result<Rotation, StoreError> {
    let Some(token) = refresh_tokens::Entity::find_by_id(presented.0.clone())
        .one(txn)
        .await
        .map_err(store_error)?
    else {
        return Ok(Rotation::Rejected);
    };
    // Serialises every rotation of this session from here to commit. SQLite ignores the
    // clause; its IMMEDIATE transaction already excludes other writers.
    let Some(row) = sessions::Entity::find_by_id(token.session_id.clone())
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(store_error)?
    else {
        return Ok(Rotation::Rejected);
    };
    let revoked = row.revoked_at.is_some();
    let mut current = session(row);
    // The decision as the token looked before this rotation: a live session and a
    // current token rotate unless a concurrent rotation wins the update below.
    let live = (!revoked).then_some(&current);
    if rules.decide(live, token.retired_at.map(Timestamp::new)) == Decision::Reject {
        return Ok(Rotation::Rejected);
    }

    let at = rules.now.as_offset_date_time();
    let won = retire_if_current(txn, presented, at).await?;

    let decision = if won {
        Decision::Rotate
    } else {
        // Read after the lock and the update: this is the retirement time the winner
        // (or an earlier rotation) committed.
        let Some(retired_at) = retired_at(txn, presented).await? else {
            // Not current and not retired: the token vanished meanwhile, which only
            // deleting its session (and so the session lock) could do.
            return Ok(Rotation::Rejected);
        };
        let decision = rules.decide(Some(&current), Some(Timestamp::new(retired_at)));
        if decision == Decision::Revoke {
            let revoke = Query::update()
                .table(sessions::Entity)
                .value(sessions::Column::RevokedAt, at)
                .and_where(Expr::col(sessions::Column::Id).eq(current.id.0.as_str()))
                .to_owned();
            txn.execute(&revoke).await.map_err(store_error)?;
            return Ok(Rotation::Reused(current));
        }
        decision
    };

    issue_next(txn, &current.id.0, next, at).await?;
    current.last_used_at = rules.now;
    Ok(if decision == Decision::Rotate {
        Rotation::Rotated(current)
    } else {
        Rotation::GraceReissue(current)
    })
}

/// Retires `presented` if it is still the session's current token; whether it was
/// (this rotation won).
async fn retire_if_current(
    txn: &DatabaseTransaction,
    presented: &RefreshTokenHash,
    at: time::OffsetDateTime,
) -> Result<bool, StoreError> {
    let retire = Query::update()
        .table(refresh_tokens::Entity)
        .value(refresh_tokens::Column::RetiredAt, at)
        .and_where(Expr::col(refresh_tokens::Column::Hash).eq(presented.0.as_str()))
        .and_where(Expr::col(refresh_tokens::Column::RetiredAt).is_null())
        .to_owned();
    let result = txn.execute(&retire).await.map_err(store_error)?;
    Ok(result.rows_affected() == 1)
}

/// When `presented` was retired, if it still exists and was.
async fn retired_at(
    txn: &DatabaseTransaction,
    presented: &RefreshTokenHash,
) -> Result<Option<time::OffsetDateTime>, StoreError> {
    Ok(refresh_tokens::Entity::find_by_id(presented.0.clone())
        .one(txn)
        .await
        .map_err(store_error)?
        .and_then(|t| t.retired_at))
}

/// Marks session `id` used and refreshed at `at`, and makes `next` its current token.
async fn issue_next(
    txn: &DatabaseTransaction,
    id: &str,
    next: RefreshTokenHash,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    let touch = Query::update()
        .table(sessions::Entity)
        .value(sessions::Column::LastUsedAt, at)
        .value(sessions::Column::RefreshedAt, at)
        .and_where(Expr::col(sessions::Column::Id).eq(id))
        .to_owned();
    txn.execute(&touch).await.map_err(store_error)?;
    refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
        hash: Set(next.0),
        session_id: Set(id.to_owned()),
        created_at: Set(at),
        retired_at: Set(None),
    })
    .exec_without_returning(txn)
    .await
    .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn start(&self, new: NewSession) -> Result<(), StoreError> {
        let created_at = new.created_at.as_offset_date_time();
        let txn = self.db.begin().await.map_err(store_error)?;
        sessions::Entity::insert(sessions::ActiveModel {
            id: Set(new.id.0.clone()),
            user_id: Set(new.user_id.0),
            user_agent: Set(new.user_agent),
            created_at: Set(created_at),
            last_used_at: Set(created_at),
            expires_at: Set(new.expires_at.as_offset_date_time()),
            revoked_at: Set(None),
            refreshed_at: Set(Some(created_at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
            hash: Set(new.first_token.0),
            session_id: Set(new.id.0),
            created_at: Set(created_at),
            retired_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: RefreshTokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, StoreError> {
        let txn = self.begin_for_rotation().await?;
        // On an error the transaction is dropped uncommitted, which rolls it back.
        let outcome = rotate_in(&txn, presented, next, rules).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(outcome)
    }

    async fn active(
        &self,
        user: UserId,
        now: Timestamp,
        idle: time::Duration,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user.0))
            .filter(sessions::Column::RevokedAt.is_null())
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let mut live: Vec<Session> = rows
            .into_iter()
            .map(session)
            .filter(|s| s.is_live(now, idle))
            .collect();
        most_recent_first(&mut live);
        Ok(live)
    }

    async fn revoke(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError> {
        // The owner is part of the condition, so another user's session is simply not
        // found.
        let revoke = Query::update()
            .table(sessions::Entity)
            .value(sessions::Column::RevokedAt, now())
            .and_where(Expr::col(sessions::Column::Id).eq(session.0.as_str()))
            .and_where(Expr::col(sessions::Column::UserId).eq(user.0))
            .and_where(Expr::col(sessions::Column::RevokedAt).is_null())
            .to_owned();
        let result = self.db.execute(&revoke).await.map_err(store_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn revoke_all(&self, user: UserId, keep: Option<&SessionId>) -> Result<u64, StoreError> {
        let mut revoke = Query::update();
        revoke
            .table(sessions::Entity)
            .value(sessions::Column::RevokedAt, now())
            .and_where(Expr::col(sessions::Column::UserId).eq(user.0))
            .and_where(Expr::col(sessions::Column::RevokedAt).is_null());
        if let Some(keep) = keep {
            revoke.and_where(Expr::col(sessions::Column::Id).ne(keep.0.as_str()));
        }
        let result = self.db.execute(&revoke).await.map_err(store_error)?;
        Ok(result.rows_affected())
    }

    async fn status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        let row = sessions::Entity::find_by_id(id.0.clone())
            .filter(sessions::Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(|row| SessionStatus {
            user_id: UserId(row.user_id),
            last_used_at: Timestamp::new(row.last_used_at),
            // Sessions started before the column existed were never refreshed since.
            refreshed_at: Timestamp::new(row.refreshed_at.unwrap_or(row.created_at)),
            expires_at: Timestamp::new(row.expires_at),
        }))
    }

    async fn touch(&self, id: &SessionId, at: Timestamp) -> Result<(), StoreError> {
        // Unconditional on the old value: SQLite's timestamps do not compare as text (see
        // the module docs). Two touches racing may leave the earlier of two instants a
        // few milliseconds apart, which no idle lifetime can tell from the later one.
        let touch = Query::update()
            .table(sessions::Entity)
            .value(sessions::Column::LastUsedAt, at.as_offset_date_time())
            .and_where(Expr::col(sessions::Column::Id).eq(id.0.as_str()))
            .and_where(Expr::col(sessions::Column::RevokedAt).is_null())
            .to_owned();
        self.db.execute(&touch).await.map_err(store_error)?;
        Ok(())
    }
}
