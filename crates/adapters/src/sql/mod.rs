//! Storage in SQLite or PostgreSQL through sea-orm: one [`SqlStore`] serves every storage
//! port. The schema comes from `conduit-migrations`; the queries here stay within what
//! both engines accept, so the same code and the same contract tests run on either.
//!
//! Reads of lists take a fixed number of queries whatever the page size: one for the
//! page, one for the total, then one each for the page's tags, the viewer's favorites
//! and the viewer's follows of the authors.

use std::time::Duration;

use conduit_domain::StoreError;
use conduit_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

mod api_keys;
mod articles;
mod comments;
mod entity;
mod error;
mod idempotency;
mod identity_links;
mod one_time;
pub mod replica;
mod rows;
pub mod seed;
mod sessions;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

use error::store_error;

/// Evaluates `$body`, an expression that reads through the connection `$db` (and awaits
/// inside), where ADR 0032 sends the read: on a replica that has replayed every write
/// acknowledged so far, else on the primary; and again on the primary when the replica
/// failed it. `$store` is a `&SqlStore`.
macro_rules! routed {
    ($store:expr, |$db:ident| $body:expr) => {{
        let store: &$crate::sql::SqlStore = $store;
        let mut on_replica = None;
        if let Some(replicas) = &store.replicas {
            if let Some(replica) = replicas.fresh(&store.db).await {
                let $db = replica.connection();
                let read: Result<_, StoreError> = $body;
                match read {
                    Ok(found) => {
                        replica.served();
                        on_replica = Some(Ok(found));
                    }
                    Err(err) => replica.failed(&err),
                }
            }
            replicas.count(on_replica.is_some());
        }
        match on_replica {
            Some(found) => found,
            None => {
                let $db = &store.db;
                $body
            }
        }
    }};
}
pub(crate) use routed;

/// How long a caller waits for a pooled connection before the store reports itself
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// The same for SQLite, whose single connection is a queue: every request waits for
/// the ones before it, and one slow disk flush holds up all of them. Waiting longer
/// beats answering 503 to a queue that is merely long.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// A failure to take or hold the migration lock, as the store reports database errors.
fn lock_error(e: sea_orm::SqlxError) -> StoreError {
    store_error(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
        std::sync::Arc::new(e),
    )))
}

/// The PostgreSQL advisory lock key that serializes migrations ("conduit" in ASCII).
const MIGRATION_LOCK: i64 = 0x0063_6f6e_6475_6974;
/// Pool size for PostgreSQL.
const PG_MAX_CONNECTIONS: u32 = 10;
/// How long SQLite waits on a lock held by another process (or another pool on the same
/// file) before failing with SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection pool's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now.
    pub size: u32,
    /// Of those, connections not in use.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Every storage port over one sea-orm connection pool, to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
    /// Streaming replicas that take the reads they are fresh enough for (ADR 0032).
    replicas: Option<std::sync::Arc<replica::Replicas>>,
}

impl SqlStore {
    /// Connects to `url` and checks the connection works.
    ///
    /// - `postgres://...`: a pool of up to 10 connections.
    /// - `sqlite::memory:` or `sqlite:PATH` / `sqlite://PATH`: the file is created if
    ///   missing; foreign keys are enforced; files use WAL with `synchronous=NORMAL` and
    ///   wait on locks. The pool holds exactly one connection, always the same one (see
    ///   below).
    ///
    /// `synchronous=NORMAL` is SQLite's recommendation for WAL: a commit is not flushed
    /// to disk by itself, only at checkpoints, so a crash of the process loses nothing
    /// and a power loss can lose the last commits (never corrupt the file). With FULL,
    /// every commit waits on the disk, and on a busy disk one flush can hold the single
    /// connection for seconds.
    ///
    /// Why one SQLite connection: SQLite allows a single writer per database. With
    /// several pooled connections, two transactions that both read and then write can
    /// each hold a read lock the other needs to upgrade, and SQLite then fails one with
    /// SQLITE_BUSY at once instead of waiting. One connection turns that into an orderly
    /// queue in the pool. It is also what keeps an in-memory database alive: the
    /// database lives only as long as a connection to it, so that connection is never
    /// closed for idleness or age.
    ///
    /// Statements are not logged (sqlx would log each one at INFO).
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_timeout(ACQUIRE_TIMEOUT);
        if url.starts_with("sqlite:") {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            options
                .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
                .max_connections(1)
                .min_connections(1)
                .map_sqlx_sqlite_pool_opts(|pool| pool.idle_timeout(None).max_lifetime(None))
                .map_sqlx_sqlite_opts(move |sqlite| {
                    let sqlite = sqlite.foreign_keys(true);
                    if in_memory {
                        sqlite
                    } else {
                        sqlite
                            .create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Normal)
                            .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    }
                });
        } else {
            options.max_connections(PG_MAX_CONNECTIONS);
        }
        let db = Database::connect(options).await.map_err(store_error)?;
        Ok(SqlStore { db, replicas: None })
    }

    /// Wraps an existing connection, configured by the caller.
    pub fn from_connection(db: DatabaseConnection) -> SqlStore {
        SqlStore { db, replicas: None }
    }

    /// Sends the reads of articles, profiles, tags and comments to the PostgreSQL
    /// streaming replicas at `urls` whenever one has replayed every write acknowledged
    /// before the read, with `watermark` recording how far those writes reach (ADR 0032;
    /// see [`replica`]). Replicas are connected when first used: one that is down now
    /// only sends its reads to the primary.
    ///
    /// # Errors
    ///
    /// When the store is not on PostgreSQL, or a URL is not one sea-orm takes.
    pub async fn with_replicas(
        mut self,
        urls: &[String],
        watermark: std::sync::Arc<dyn replica::Watermark>,
    ) -> Result<SqlStore, StoreError> {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return Err(StoreError::Unexpected(
                "read replicas need PostgreSQL".into(),
            ));
        }
        if !urls.is_empty() {
            self.replicas = Some(std::sync::Arc::new(
                replica::Replicas::new(urls, watermark).await?,
            ));
        }
        Ok(self)
    }

    /// How many replicas take reads now, of how many configured; `None` without any.
    pub fn replicas_in_use(&self) -> Option<(usize, usize)> {
        self.replicas.as_ref().map(|replicas| replicas.in_use())
    }

    /// How many routed reads replicas and the primary served (both 0 without replicas).
    pub fn read_counts(&self) -> replica::ReadCounts {
        self.replicas
            .as_ref()
            .map(|replicas| replicas.counts())
            .unwrap_or_default()
    }

    /// After a committed write that routed reads can see: raises the watermark to cover
    /// it (nothing without replicas).
    async fn wrote(&self) {
        if let Some(replicas) = &self.replicas {
            replicas.cover(&self.db).await;
        }
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// `db.system.name` of the engine (OpenTelemetry's database conventions).
    pub fn system_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => "sqlite",
            DatabaseBackend::Postgres => "postgresql",
            _ => "other_sql",
        }
    }

    /// The connection pool's counts now, for the `db.client.connection.*` metrics.
    /// sea-orm panics when asked for the pool of another engine, so the engine is
    /// checked first.
    pub fn pool_stats(&self) -> Option<PoolStats> {
        let idle = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                Some(PoolStats {
                    size: pool.size(),
                    idle: idle(pool.num_idle()),
                    max: pool.options().get_max_connections(),
                })
            }
            DatabaseBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                Some(PoolStats {
                    size: pool.size(),
                    idle: idle(pool.num_idle()),
                    max: pool.options().get_max_connections(),
                })
            }
            _ => None,
        }
    }

    /// Whether one process owns the database (SQLite: a file no other instance opens), so
    /// that state read from it can be kept in the process and forgotten on this
    /// process's own writes ([`crate::session_states::LocalSessionStates`]).
    pub fn single_process(&self) -> bool {
        self.db.get_database_backend() == DatabaseBackend::Sqlite
    }

    /// Applies every pending migration of `conduit-migrations`; the names of those it
    /// applied, oldest first (none when the schema was up to date).
    ///
    /// On PostgreSQL, instances that start at once on one database take turns: the first
    /// holds an advisory lock while it migrates, the others wait for it and then find
    /// nothing pending. Without it, two instances created the same tables at once and
    /// one failed to start (`instances_migrating_an_empty_database_at_once_both_succeed`).
    /// SQLite needs no lock: one process owns its file.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return self.changed_by(Migrator::up(&self.db, None)).await;
        }
        // A session lock, held on one connection taken out of the pool for the while;
        // the migrations run on other connections of the pool.
        let mut holder = self
            .db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(lock_error)?;
        let lock = |sql: &'static str| sea_orm::sqlx::query(sql).bind(MIGRATION_LOCK);
        lock("SELECT pg_advisory_lock($1)")
            .execute(&mut *holder)
            .await
            .map_err(lock_error)?;
        // Read under the lock, so another instance's migrations are not counted as ours.
        let migrated = self.changed_by(Migrator::up(&self.db, None)).await;
        let unlocked = lock("SELECT pg_advisory_unlock($1)")
            .execute(&mut *holder)
            .await;
        if unlocked.is_err() {
            // The lock dies with the session: close it rather than return it to the pool.
            holder.detach();
        }
        migrated
    }

    /// Reverts the `steps` most recent migrations; the names of those it reverted,
    /// newest first.
    pub async fn rollback(&self, steps: u32) -> Result<Vec<String>, StoreError> {
        let mut reverted = self
            .changed_by(Migrator::down(&self.db, Some(steps)))
            .await?;
        reverted.reverse();
        Ok(reverted)
    }

    /// Runs `change` and names the migrations whose status it changed, oldest first.
    async fn changed_by(
        &self,
        change: impl Future<Output = Result<(), sea_orm::DbErr>>,
    ) -> Result<Vec<String>, StoreError> {
        let before = self.migration_status().await?;
        change.await.map_err(store_error)?;
        let after = self.migration_status().await?;
        Ok(before
            .into_iter()
            .zip(after)
            .filter(|((_, was), (_, is))| was != is)
            .map(|((name, _), _)| name)
            .collect())
    }

    /// Every migration, oldest first, with whether it has been applied.
    pub async fn migration_status(&self) -> Result<Vec<(String, bool)>, StoreError> {
        let migrations = Migrator::get_migration_with_status(&self.db)
            .await
            .map_err(store_error)?;
        Ok(migrations
            .iter()
            .map(|m| {
                let applied = matches!(m.status(), conduit_migrations::MigrationStatus::Applied);
                (m.name().to_owned(), applied)
            })
            .collect())
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(store_error)
    }
}
