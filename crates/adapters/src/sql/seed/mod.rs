//! Realistic, reproducible bulk data for load tests (`conduit seed`).
//!
//! The rows are written straight into the tables, in multi-row `INSERT`s of thousands of
//! rows inside transactions, rather than through the ports one entity at a time: a
//! million articles through the ports would take hours. In exchange this module keeps
//! the invariants the ports keep by hand:
//!
//! - ids are given explicitly (above the largest one in use), so tags, favorites and
//!   comments can point at rows not yet read back; PostgreSQL's identity sequences are
//!   moved past them at the end (SQLite's AUTOINCREMENT follows by itself);
//! - `articles.favorites_count` is exactly the number of `favorites` rows of the article
//!   (each article's fans are chosen before the article is written);
//! - no self-follows, no duplicate follows or favorites, distinct tags per article with
//!   positions from 0, slugs unique, every timestamp in whole milliseconds;
//! - an article's id order is its date order, as the lists assume (newest = highest id),
//!   and an article's comments are dated after it, in id order.
//!
//! Everything random comes from one RNG seeded with [`SeedPlan::rng_seed`], so the same
//! plan on an empty database writes the same rows.

mod content;
mod progress;
mod random;
mod seeder;
mod writing;

use conduit_domain::StoreError;
use rand::{SeedableRng, rngs::StdRng};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use time::{Duration, OffsetDateTime};

pub use progress::{NoProgress, SeedProgress};
use seeder::Seeder;

use super::{SqlStore, error::store_error, rows::now};

/// How much to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPlan {
    /// Users, named `user000001`, `user000002`...
    pub users: u64,
    /// Articles.
    pub articles: u64,
    /// Favorites (distinct user and article pairs).
    pub favorites: u64,
    /// Follows (distinct, never of oneself).
    pub follows: u64,
    /// Comments.
    pub comments: u64,
    /// Seed of the pseudo-random generator.
    pub rng_seed: u64,
    /// Add to a database that already has users instead of refusing.
    pub append: bool,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Users written.
    pub users: u64,
    /// Articles written.
    pub articles: u64,
    /// Tag links written (tags per article, summed).
    pub article_tags: u64,
    /// Favorites written.
    pub favorites: u64,
    /// Follows written.
    pub follows: u64,
    /// Comments written.
    pub comments: u64,
}

/// Why seeding did not happen or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The database has users and `append` was not asked for.
    #[error(
        "the database already has {0} users: refusing to seed it (pass --append to add \
         the seeded rows to what is there, or point DATABASE_URL at an empty database)"
    )]
    NotEmpty(u64),
    /// The plan cannot be carried out (more favorites than user and article pairs...).
    #[error("{0}")]
    Impossible(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bind parameters per statement: under SQLite's limit (32766) and PostgreSQL's (65535).
const MAX_PARAMS: usize = 30_000;
/// Articles generated (with their tags, favorites and comments) per transaction.
const ARTICLES_PER_TXN: u64 = 2_000;
/// Users per transaction, in the user and follow phases.
const USERS_PER_TXN: u64 = 5_000;
/// How far back the seeded articles go.
const HISTORY: Duration = Duration::days(730);

impl SqlStore {
    /// Migrates, then writes `plan`'s rows; every user gets `password_hash` (a PHC string
    /// from the server's hasher), so all of them can sign in with the one password.
    ///
    /// Refuses with [`SeedError::NotEmpty`] when there are users already, unless
    /// `plan.append`. Seeding commits as it goes: a failure part-way leaves the rows
    /// written so far.
    pub async fn seed(
        &self,
        plan: &SeedPlan,
        password_hash: &str,
        progress: &mut dyn SeedProgress,
    ) -> Result<SeedReport, SeedError> {
        check(plan)?;
        self.migrate().await?;
        let existing = self.scalar("SELECT COUNT(*) AS n FROM users").await?;
        if existing > 0 && !plan.append {
            return Err(SeedError::NotEmpty(existing));
        }
        let mut seeder = Seeder {
            db: self,
            rng: StdRng::seed_from_u64(plan.rng_seed),
            plan,
            user_base: self.scalar("SELECT MAX(id) AS n FROM users").await?,
            article_base: self.scalar("SELECT MAX(id) AS n FROM articles").await?,
            comment_base: self.scalar("SELECT MAX(id) AS n FROM comments").await?,
            now: now(),
            report: SeedReport::default(),
        };
        seeder.users(password_hash, progress).await?;
        seeder.follows(progress).await?;
        seeder.articles(progress).await?;
        self.realign_sequences().await?;
        // The rows went in around the adapter: count the sets once, from the rows.
        progress.phase("counts", 1);
        let txn = self.db.begin().await.map_err(store_error)?;
        super::articles::recount(&txn).await?;
        txn.commit().await.map_err(store_error)?;
        progress.advance(1);
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            // Fresh statistics for the planner and a visibility map for index-only
            // scans: without them, right after a bulk load, plans are wrong and every
            // index-only scan visits the table (measured: a feed at 2 ms instead of 0.6).
            progress.phase("vacuum", 1);
            self.db
                .execute_unprepared("VACUUM (ANALYZE)")
                .await
                .map_err(store_error)?;
            progress.advance(1);
        }
        Ok(seeder.report)
    }

    /// A single integer answer (0 for NULL).
    async fn scalar(&self, sql: &str) -> Result<u64, StoreError> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .map_err(store_error)?;
        let value = match row {
            Some(row) => row.try_get::<Option<i64>>("", "n").map_err(store_error)?,
            None => None,
        };
        Ok(value.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// Moves PostgreSQL's identity sequences past the ids given explicitly, so the next
    /// row the API inserts does not collide with a seeded one.
    async fn realign_sequences(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for table in ["users", "articles", "comments"] {
            self.db
                .execute_unprepared(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT MAX(id) FROM {table}))"
                ))
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

fn check(plan: &SeedPlan) -> Result<(), SeedError> {
    let too_many = |what: &str, asked: u64, most: u128| {
        if u128::from(asked) > most {
            Err(SeedError::Impossible(format!(
                "{asked} {what} cannot be made with {} users and {} articles (at most {most})",
                plan.users, plan.articles
            )))
        } else {
            Ok(())
        }
    };
    let users = u128::from(plan.users);
    if plan.users == 0 && (plan.articles > 0 || plan.comments > 0) {
        return Err(SeedError::Impossible(
            "articles and comments need at least one user".into(),
        ));
    }
    if plan.comments > 0 && plan.articles == 0 {
        return Err(SeedError::Impossible(
            "comments need at least one article".into(),
        ));
    }
    too_many(
        "favorites",
        plan.favorites,
        users * u128::from(plan.articles),
    )?;
    too_many("follows", plan.follows, users * users.saturating_sub(1))?;
    Ok(())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn clamp_ms(ms: i128) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// `at` cut to whole milliseconds, like every stored timestamp.
fn millis(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(at)
}
