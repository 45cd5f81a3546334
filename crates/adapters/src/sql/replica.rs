//! Reads from PostgreSQL streaming replicas (ADR 0032).
//!
//! # The rule
//!
//! A read goes to a replica only when that replica has replayed every write this service
//! acknowledged before the read began; otherwise it goes to the primary. So a replica
//! never shows anybody a state older than one the service already confirmed: a person
//! sees what they just wrote (read-your-writes), counts are exact, and an entry the
//! read-through cache stores from a replica is as fresh as one read from the primary
//! (ADR 0013's tickets keep holding).
//!
//! - After each write that a routed read can see (users, follows, articles, favorites,
//!   comments), the store asks the primary for its WAL position (`pg_current_wal_lsn()`,
//!   at or past the write's commit) and raises the *watermark* to it: in Redis when the
//!   service has one (every instance sees every instance's writes), else in the process.
//! - A read compares the watermark with the replica's replay position
//!   (`pg_last_wal_replay_lsn()`), remembered for a second and asked again when it is
//!   behind. Replay only moves forward on one server, so a statement sent after the
//!   position was read sees at least that much.
//!
//! # When a replica fails
//!
//! A replica that fails a query, cannot be asked its position, or is not a standby is
//! left alone for [`DOWN_FOR`]; the read is run on the primary instead, so no error
//! reaches the client. A watermark that cannot be read sends that read to the primary;
//! one that could not be raised after a write sends this instance's reads to the primary
//! until a raise succeeds (each read tries one).

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use conduit_domain::StoreError;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

use super::error::store_error;

/// How long a failed replica is left alone before reads try it again.
pub const DOWN_FOR: Duration = Duration::from_secs(5);
/// How long a replay position read from a replica is trusted as a lower bound (it only
/// grows on one server; the bound covers a replica replaced behind the same address).
const POSITION_KEPT: Duration = Duration::from_secs(1);
/// How long a replica may take to connect or to answer its position.
const REPLICA_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections per replica.
const REPLICA_CONNECTIONS: u32 = 10;

/// Where the service records how far its acknowledged writes reach in the primary's WAL:
/// the highest position raised so far.
#[async_trait]
pub trait Watermark: Send + Sync + std::fmt::Debug {
    /// The highest position raised so far; `None` when none is known (nothing raised
    /// yet, or the record was lost).
    async fn get(&self) -> Result<Option<u64>, StoreError>;
    /// Raises the watermark to `lsn` if it is below.
    async fn raise(&self, lsn: u64) -> Result<(), StoreError>;
}

/// A watermark in this process: enough for one instance; several instances need the
/// shared one in Redis, or a write made through one could be missed by another's reads.
#[derive(Debug, Default)]
pub struct LocalWatermark(AtomicU64);

#[async_trait]
impl Watermark for LocalWatermark {
    async fn get(&self) -> Result<Option<u64>, StoreError> {
        Ok(Some(self.0.load(Ordering::SeqCst)).filter(|&lsn| lsn > 0))
    }

    async fn raise(&self, lsn: u64) -> Result<(), StoreError> {
        self.0.fetch_max(lsn, Ordering::SeqCst);
        Ok(())
    }
}

/// A WAL position as PostgreSQL prints it (`16/B374D848`), as a number.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let high = u64::from_str_radix(high, 16).ok()?;
    let low = u64::from_str_radix(low, 16).ok()?;
    (high <= u64::from(u32::MAX) && low <= u64::from(u32::MAX)).then_some(high << 32 | low)
}

/// One replica: its pool, the highest replay position seen and when, and until when it
/// is left alone after a failure.
#[derive(Debug)]
pub(crate) struct Replica {
    db: DatabaseConnection,
    /// `host:port`, for the logs (never the credentials).
    name: String,
    replayed: Mutex<Option<(u64, Instant)>>,
    down_until: Mutex<Option<Instant>>,
    /// Whether it failed since it last served a read (one warning per outage).
    failing: AtomicBool,
}

impl Replica {
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    fn is_down(&self) -> bool {
        let down = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        down.is_some_and(|until| Instant::now() < until)
    }

    /// Leaves the replica alone for [`DOWN_FOR`]; warns once per outage.
    pub(crate) fn mark_down(&self, why: &dyn std::fmt::Display) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + DOWN_FOR);
        *self.replayed.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if !self.failing.swap(true, Ordering::SeqCst) {
            tracing::warn!(target: "db", replica = %self.name, error = %why,
                "replica unusable: reads go to the primary, and to it again after {} s",
                DOWN_FOR.as_secs());
        }
    }

    /// After it failed a read: left alone, unless the failure was PostgreSQL cancelling
    /// the query for a conflict with the replay (a query that ran long while replay
    /// needed to remove rows it could see), which says nothing about the replica.
    pub(crate) fn failed(&self, why: &StoreError) {
        if !why.to_string().contains("conflict with recovery") {
            self.mark_down(why);
        }
    }

    /// After a read it served: ends an outage.
    pub(crate) fn served(&self) {
        if self.failing.swap(false, Ordering::SeqCst) {
            tracing::info!(target: "db", replica = %self.name, "replica serving reads again");
        }
    }

    /// The replay position seen within [`POSITION_KEPT`].
    fn recent_position(&self) -> Option<u64> {
        let replayed = self.replayed.lock().unwrap_or_else(PoisonError::into_inner);
        replayed
            .filter(|(_, at)| at.elapsed() < POSITION_KEPT)
            .map(|(lsn, _)| lsn)
    }

    /// Asks the replica how far it has replayed; `None` (and the replica marked down)
    /// when it cannot say or is not a standby.
    async fn position(&self) -> Option<u64> {
        let asked = tokio::time::timeout(
            REPLICA_TIMEOUT,
            wal_position(&self.db, "pg_last_wal_replay_lsn"),
        )
        .await;
        let position = match asked {
            Ok(Ok(position)) => position,
            Ok(Err(err)) => {
                self.mark_down(&err);
                return None;
            }
            Err(_) => {
                self.mark_down(&"no answer within 2 s");
                return None;
            }
        };
        match position {
            Some(lsn) => {
                let mut replayed = self.replayed.lock().unwrap_or_else(PoisonError::into_inner);
                let best = replayed.map_or(lsn, |(seen, _)| seen.max(lsn));
                *replayed = Some((best, Instant::now()));
                Some(best)
            }
            None => {
                // A primary answers NULL: reading there would not be reading a replica
                // of ours (a promoted, diverged former replica, say).
                self.mark_down(&"not a standby (pg_last_wal_replay_lsn() is NULL)");
                None
            }
        }
    }
}

/// The replicas of a store, the watermark, and counts of where reads went.
#[derive(Debug)]
pub(crate) struct Replicas {
    list: Vec<Replica>,
    next: AtomicUsize,
    watermark: Arc<dyn Watermark>,
    /// Set when raising the watermark failed: a write may not be covered, so reads go
    /// to the primary until a later raise (which covers it too) succeeds.
    uncovered: AtomicBool,
    on_replica: AtomicU64,
    on_primary: AtomicU64,
}

/// How many routed reads each side served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadCounts {
    /// Served by a replica.
    pub replica: u64,
    /// Served by the primary (a replica was behind, failing, or none is configured).
    pub primary: u64,
}

impl Replicas {
    /// Pools for `urls` (PostgreSQL), connected lazily: a replica that is down at start
    /// does not stop the service.
    pub(crate) async fn new(
        urls: &[String],
        watermark: Arc<dyn Watermark>,
    ) -> Result<Self, StoreError> {
        let mut list = Vec::with_capacity(urls.len());
        for url in urls {
            list.push({
                let mut options = ConnectOptions::new(url.clone());
                options
                    .sqlx_logging(false)
                    .max_connections(REPLICA_CONNECTIONS)
                    .min_connections(0)
                    .acquire_timeout(REPLICA_TIMEOUT)
                    .connect_timeout(REPLICA_TIMEOUT)
                    .connect_lazy(true);
                let name = url::Url::parse(url)
                    .ok()
                    .map(|u| {
                        format!(
                            "{}:{}",
                            u.host_str().unwrap_or("?"),
                            u.port().unwrap_or(5432)
                        )
                    })
                    .unwrap_or_else(|| "replica".to_owned());
                Replica {
                    db: Database::connect(options).await.map_err(store_error)?,
                    name,
                    replayed: Mutex::new(None),
                    down_until: Mutex::new(None),
                    failing: AtomicBool::new(false),
                }
            });
        }
        Ok(Replicas {
            list,
            next: AtomicUsize::new(0),
            watermark,
            uncovered: AtomicBool::new(false),
            on_replica: AtomicU64::new(0),
            on_primary: AtomicU64::new(0),
        })
    }

    /// How many replicas are in use (not left alone after a failure), of how many.
    pub(crate) fn in_use(&self) -> (usize, usize) {
        let up = self
            .list
            .iter()
            .filter(|replica| !replica.is_down())
            .count();
        (up, self.list.len())
    }

    pub(crate) fn counts(&self) -> ReadCounts {
        ReadCounts {
            replica: self.on_replica.load(Ordering::Relaxed),
            primary: self.on_primary.load(Ordering::Relaxed),
        }
    }

    /// Raises the watermark to the primary's WAL position now (after a write's commit).
    pub(crate) async fn cover(&self, primary: &DatabaseConnection) {
        let raised = async {
            let lsn = primary_position(primary).await?;
            self.watermark.raise(lsn).await
        }
        .await;
        match raised {
            Ok(()) => {
                if self.uncovered.swap(false, Ordering::SeqCst) {
                    tracing::info!(target: "db", "replica watermark raised again: reads may use replicas");
                }
            }
            Err(err) => {
                if !self.uncovered.swap(true, Ordering::SeqCst) {
                    tracing::warn!(target: "db", error = %err,
                        "could not raise the replica watermark: reads go to the primary");
                }
            }
        }
    }

    /// A replica that has replayed past the watermark, if any.
    pub(crate) async fn fresh(&self, primary: &DatabaseConnection) -> Option<&Replica> {
        // Every replica left alone: the watermark would not be used.
        if self.list.iter().all(Replica::is_down) {
            return None;
        }
        if self.uncovered.load(Ordering::SeqCst) {
            // A raise failed: the primary's position now covers that write too. Until
            // a raise succeeds, every read costs this attempt and goes to the primary.
            self.cover(primary).await;
            if self.uncovered.load(Ordering::SeqCst) {
                return None;
            }
        }
        let watermark = match self.watermark.get().await {
            Ok(Some(lsn)) => lsn,
            // Nothing known (a new Redis, say): the primary's position now covers every
            // write acknowledged so far.
            Ok(None) => {
                self.cover(primary).await;
                self.watermark.get().await.ok().flatten()?
            }
            Err(_) => return None,
        };
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.list.len() {
            let replica = &self.list[(start + i) % self.list.len()];
            if replica.is_down() {
                continue;
            }
            if replica
                .recent_position()
                .is_some_and(|lsn| lsn >= watermark)
            {
                return Some(replica);
            }
            if replica.position().await.is_some_and(|lsn| lsn >= watermark) {
                return Some(replica);
            }
        }
        None
    }

    pub(crate) fn count(&self, on_replica: bool) {
        let counter = if on_replica {
            &self.on_replica
        } else {
            &self.on_primary
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The primary's current WAL write position.
async fn primary_position(primary: &DatabaseConnection) -> Result<u64, StoreError> {
    wal_position(primary, "pg_current_wal_lsn")
        .await?
        .ok_or_else(|| StoreError::Unexpected("pg_current_wal_lsn() is NULL".into()))
}

/// The WAL position `function` (a PostgreSQL function without arguments) answers on
/// `db`; `None` when it answers NULL.
async fn wal_position(db: &DatabaseConnection, function: &str) -> Result<Option<u64>, StoreError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {function}()::text AS lsn"),
        ))
        .await
        .map_err(store_error)?;
    let text: Option<String> = row
        .map(|row| row.try_get("", "lsn"))
        .transpose()
        .map_err(store_error)?
        .flatten();
    text.map(|text| {
        parse_lsn(&text)
            .ok_or_else(|| StoreError::Unexpected(format!("not a WAL position: {text:?}").into()))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
        assert!(parse_lsn("1/2") < parse_lsn("2/1"));
        for bad in ["", "16", "/1", "1/", "x/1", "100000000/0", "1/2/3"] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_local_watermark_only_rises() {
        let watermark = LocalWatermark::default();
        assert_eq!(watermark.get().await.expect("read"), None);
        watermark.raise(10).await.expect("raised");
        watermark.raise(7).await.expect("raised");
        assert_eq!(watermark.get().await.expect("read"), Some(10));
    }
}
