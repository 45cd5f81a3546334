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

use std::collections::HashSet;

use conduit_domain::{
    StoreError,
    article::{ArticleTitle, Slug},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, TransactionTrait, Value,
};
use time::{Duration, OffsetDateTime};

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

/// Told how far seeding has got, to show progress.
pub trait SeedProgress {
    /// A phase begins, with this many rows of its main table to write.
    fn phase(&mut self, name: &'static str, total: u64);
    /// This many more rows of the current phase's main table are written.
    fn advance(&mut self, rows: u64);
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl SeedProgress for NoProgress {
    fn phase(&mut self, _: &'static str, _: u64) {}
    fn advance(&mut self, _: u64) {}
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

/// The state of one seeding run.
struct Seeder<'a> {
    db: &'a SqlStore,
    rng: StdRng,
    plan: &'a SeedPlan,
    /// Seeded rows get ids above these.
    user_base: u64,
    article_base: u64,
    comment_base: u64,
    now: OffsetDateTime,
    report: SeedReport,
}

impl Seeder<'_> {
    fn backend(&self) -> DatabaseBackend {
        self.db.db.get_database_backend()
    }

    async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        self.db.db.begin().await.map_err(store_error)
    }

    /// The id of the `index`th seeded user (0-based); its number in the username too.
    fn user_id(&self, index: u64) -> i64 {
        to_i64(self.user_base + index + 1)
    }

    /// When the first seeded article was written.
    fn history_start(&self) -> OffsetDateTime {
        self.now - HISTORY
    }

    async fn users(
        &mut self,
        password_hash: &str,
        progress: &mut dyn SeedProgress,
    ) -> Result<(), StoreError> {
        let total = self.plan.users;
        progress.phase("users", total);
        // Everyone joined during the week before the first article, in id order.
        let week_ms = Duration::days(7).whole_milliseconds();
        let joined_from = self.history_start() - Duration::days(7);
        let mut from = 0;
        while from < total {
            let to = (from + USERS_PER_TXN).min(total);
            let mut rows = Rows::new(
                "users",
                &[
                    "id",
                    "username",
                    "email",
                    "password_hash",
                    "bio",
                    "image",
                    "created_at",
                    "updated_at",
                ],
            );
            for index in from..to {
                let id = self.user_id(index);
                let name = format!("user{id:06}");
                let offset = i128::from(index) * week_ms / i128::from(total);
                let joined = millis(joined_from + Duration::milliseconds(clamp_ms(offset)));
                let bio = self
                    .rng
                    .random_bool(0.6)
                    .then(|| sentence(&mut self.rng, 6, 14));
                let image = self
                    .rng
                    .random_bool(0.3)
                    .then(|| format!("https://images.seed.example/avatars/{}.png", id % 97));
                let email = format!("{name}@seed.example");
                rows.push([
                    id.into(),
                    Value::String(Some(name)),
                    Value::String(Some(email)),
                    Value::String(Some(password_hash.to_owned())),
                    Value::String(bio),
                    Value::String(image),
                    joined.into(),
                    joined.into(),
                ]);
            }
            let txn = self.begin().await?;
            rows.flush(&txn, self.backend()).await?;
            txn.commit().await.map_err(store_error)?;
            progress.advance(to - from);
            from = to;
        }
        self.report.users = total;
        Ok(())
    }

    async fn follows(&mut self, progress: &mut dyn SeedProgress) -> Result<(), StoreError> {
        let users = self.plan.users;
        progress.phase("follows", self.plan.follows);
        if self.plan.follows == 0 {
            return Ok(());
        }
        // How many each user follows varies a little; whom they follow is skewed
        // towards the same popular users who write the most.
        let weights = pareto_weights(&mut self.rng, users, 3.0);
        let counts = allocate(&mut self.rng, self.plan.follows, &weights, users - 1);
        drop(weights);
        let popular = Zipf::new(users, 1.0);
        let span_ms = HISTORY.whole_milliseconds();
        let start = self.history_start();
        let mut from = 0;
        while from < users {
            let to = (from + USERS_PER_TXN).min(users);
            let mut rows = Rows::new("follows", &["follower_id", "followee_id", "created_at"]);
            for follower in from..to {
                let wanted = u64::from(counts[to_usize(follower)]);
                let followees =
                    distinct_skewed(&mut self.rng, &popular, users, wanted, Some(follower));
                let follower_id = self.user_id(follower);
                for followee in followees {
                    let at = start
                        + Duration::milliseconds(self.rng.random_range(0..span_ms.max(1)) as i64);
                    rows.push([
                        follower_id.into(),
                        self.user_id(followee).into(),
                        millis(at).into(),
                    ]);
                }
            }
            let txn = self.begin().await?;
            let written = rows.flush(&txn, self.backend()).await?;
            txn.commit().await.map_err(store_error)?;
            self.report.follows += written;
            progress.advance(written);
            from = to;
        }
        Ok(())
    }

    async fn articles(&mut self, progress: &mut dyn SeedProgress) -> Result<(), StoreError> {
        let total = self.plan.articles;
        progress.phase("articles", total);
        if total == 0 {
            return Ok(());
        }
        let users = self.plan.users;
        let tag_ids = self.tags().await?;
        // Popular articles draw both favorites and comments.
        let weights = pareto_weights(&mut self.rng, total, 1.3);
        let fans = allocate(&mut self.rng, self.plan.favorites, &weights, users);
        let comments = allocate(&mut self.rng, self.plan.comments, &weights, u64::MAX);
        drop(weights);
        let authors = Zipf::new(users, 0.9);
        let tag_popularity = Zipf::new(to_u64(tag_ids.len()), 1.0);
        let slot_ms = (HISTORY.whole_milliseconds() / i128::from(total)).max(1);
        let start = self.history_start();
        let mut next_comment = self.comment_base;
        let mut from = 0;
        while from < total {
            let to = (from + ARTICLES_PER_TXN).min(total);
            let mut articles = Rows::new(
                "articles",
                &[
                    "id",
                    "slug",
                    "title",
                    "description",
                    "body",
                    "author_id",
                    "favorites_count",
                    "created_at",
                    "updated_at",
                ],
            );
            let mut links = Rows::new("article_tags", &["article_id", "tag_id", "position"]);
            let mut favorites = Rows::new("favorites", &["user_id", "article_id", "created_at"]);
            let mut replies = Rows::new(
                "comments",
                &[
                    "id",
                    "article_id",
                    "author_id",
                    "body",
                    "created_at",
                    "updated_at",
                ],
            );
            for index in from..to {
                let id = to_i64(self.article_base + index + 1);
                // Dates rise with ids, as the lists (newest first, by id) assume.
                let offset = i128::from(index) * slot_ms + self.rng.random_range(0..slot_ms);
                let created = millis(start + Duration::milliseconds(clamp_ms(offset)));
                let age_ms = (self.now - created).whole_milliseconds().max(1);
                let title = title(&mut self.rng);
                let slug = slug(&title, id)?;
                let fan_count = counts_at(&fans, index);
                let author = authors.sample(&mut self.rng);
                let author = self.user_id(author);
                articles.push([
                    id.into(),
                    Value::String(Some(slug)),
                    Value::String(Some(title)),
                    Value::String(Some(sentence(&mut self.rng, 8, 16))),
                    Value::String(Some(body(&mut self.rng))),
                    author.into(),
                    to_i64(fan_count).into(),
                    created.into(),
                    created.into(),
                ]);

                let tag_count = self.rng.random_range(0..=4u64).min(to_u64(tag_ids.len()));
                let tags = distinct_skewed(
                    &mut self.rng,
                    &tag_popularity,
                    to_u64(tag_ids.len()),
                    tag_count,
                    None,
                );
                for (position, tag) in (0i32..).zip(tags) {
                    links.push([id.into(), tag_ids[to_usize(tag)].into(), position.into()]);
                }

                for fan in distinct_uniform(&mut self.rng, users, fan_count) {
                    let at = created
                        + Duration::milliseconds(clamp_ms(self.rng.random_range(0..age_ms)));
                    favorites.push([self.user_id(fan).into(), id.into(), millis(at).into()]);
                }

                let mut offsets: Vec<i128> = (0..counts_at(&comments, index))
                    .map(|_| self.rng.random_range(0..age_ms))
                    .collect();
                offsets.sort_unstable();
                for offset in offsets {
                    next_comment += 1;
                    let commenter = self.rng.random_range(0..users);
                    let commenter = self.user_id(commenter);
                    let at = millis(created + Duration::milliseconds(clamp_ms(offset)));
                    replies.push([
                        to_i64(next_comment).into(),
                        id.into(),
                        commenter.into(),
                        Value::String(Some(sentences(&mut self.rng, 1, 3))),
                        at.into(),
                        at.into(),
                    ]);
                }
            }
            let backend = self.backend();
            let txn = self.begin().await?;
            self.report.articles += articles.flush(&txn, backend).await?;
            self.report.article_tags += links.flush(&txn, backend).await?;
            self.report.favorites += favorites.flush(&txn, backend).await?;
            self.report.comments += replies.flush(&txn, backend).await?;
            txn.commit().await.map_err(store_error)?;
            progress.advance(to - from);
            from = to;
        }
        Ok(())
    }

    /// Makes sure every tag of the vocabulary exists; their ids, in vocabulary order
    /// (most popular first).
    async fn tags(&mut self) -> Result<Vec<i64>, StoreError> {
        let backend = self.backend();
        let names = tag_vocabulary();
        let mut sql = insert_sql("tags", &["name"], names.len(), backend);
        sql.push_str(" ON CONFLICT (name) DO NOTHING");
        let values: Vec<Value> = names
            .iter()
            .map(|name| Value::String(Some(name.clone())))
            .collect();
        self.db
            .db
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(store_error)?;
        let rows = self
            .db
            .db
            .query_all_raw(Statement::from_string(backend, "SELECT id, name FROM tags"))
            .await
            .map_err(store_error)?;
        let mut ids = std::collections::HashMap::new();
        for row in rows {
            let id: i64 = row.try_get("", "id").map_err(store_error)?;
            let name: String = row.try_get("", "name").map_err(store_error)?;
            ids.insert(name, id);
        }
        names
            .iter()
            .map(|name| {
                ids.get(name).copied().ok_or_else(|| {
                    StoreError::Unexpected(format!("tag {name:?} missing after its insert").into())
                })
            })
            .collect()
    }
}

/// Rows for one table, written as multi-row `INSERT`s.
struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
}

impl Rows {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Rows {
        Rows {
            table,
            columns,
            values: Vec::new(),
        }
    }

    fn push<const N: usize>(&mut self, row: [Value; N]) {
        debug_assert_eq!(N, self.columns.len(), "a row of {}", self.table);
        self.values.extend(row);
    }

    /// Writes every pushed row, in as few statements as the parameter limit allows;
    /// how many rows.
    async fn flush(
        &mut self,
        conn: &impl ConnectionTrait,
        backend: DatabaseBackend,
    ) -> Result<u64, StoreError> {
        let width = self.columns.len();
        let per_statement = MAX_PARAMS / width;
        let rows = self.values.len() / width;
        let mut values = std::mem::take(&mut self.values).into_iter();
        let mut written = 0;
        while written < rows {
            let count = per_statement.min(rows - written);
            let sql = insert_sql(self.table, self.columns, count, backend);
            let batch: Vec<Value> = values.by_ref().take(count * width).collect();
            conn.execute_raw(Statement::from_sql_and_values(backend, sql, batch))
                .await
                .map_err(store_error)?;
            written += count;
        }
        Ok(to_u64(rows))
    }
}

/// `INSERT INTO table (columns) VALUES (...), (...)` with `rows` rows of placeholders.
fn insert_sql(table: &str, columns: &[&str], rows: usize, backend: DatabaseBackend) -> String {
    use std::fmt::Write as _;
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if backend == DatabaseBackend::Postgres {
                let _ = write!(sql, "${n}");
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Zipf-like popularity over `0..n`: item `k` is drawn in proportion to `1 / (k+1)^s`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|k| {
                total += 1.0 / ((k + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> u64 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random::<f64>() * total;
        let k = self.cumulative.partition_point(|c| *c <= target);
        to_u64(k.min(self.cumulative.len().saturating_sub(1)))
    }
}

/// A heavy-tailed weight per item (Pareto with shape `alpha`): most items get little,
/// a few get a lot.
fn pareto_weights(rng: &mut StdRng, n: u64, alpha: f64) -> Vec<f64> {
    (0..n)
        .map(|_| (1.0 - rng.random::<f64>()).powf(-1.0 / alpha).min(10_000.0))
        .collect()
}

/// Splits `total` among items in proportion to `weights`, at most `cap` each, summing to
/// exactly `total` (the caller made sure `total <= cap * items`).
fn allocate(rng: &mut StdRng, total: u64, weights: &[f64], cap: u64) -> Vec<u32> {
    let cap = cap.min(u64::from(u32::MAX));
    let mut counts = vec![0u32; weights.len()];
    if total == 0 || weights.is_empty() {
        return counts;
    }
    let sum: f64 = weights.iter().sum();
    let mut given = 0u64;
    for (count, weight) in counts.iter_mut().zip(weights) {
        let share = ((total as f64) * weight / sum).floor() as u64;
        let share = share.min(cap).min(total - given);
        *count = u32::try_from(share).unwrap_or(u32::MAX);
        given += share;
    }
    // The rounding left-overs go one by one to random items with room...
    let len = to_u64(counts.len());
    let mut attempts = 0;
    while given < total && attempts < 4 * len + 1_000 {
        attempts += 1;
        let i = to_usize(rng.random_range(0..len));
        if u64::from(counts[i]) < cap {
            counts[i] += 1;
            given += 1;
        }
    }
    // ...and what still remains (caps hit) to whoever has room.
    for count in &mut counts {
        if given == total {
            break;
        }
        let more = (cap - u64::from(*count)).min(total - given);
        *count += u32::try_from(more).unwrap_or(0);
        given += more;
    }
    counts
}

fn counts_at(counts: &[u32], index: u64) -> u64 {
    counts.get(to_usize(index)).copied().map_or(0, u64::from)
}

/// `k` distinct numbers below `n`, uniformly (Floyd's algorithm), in a reproducible
/// order.
fn distinct_uniform(rng: &mut StdRng, n: u64, k: u64) -> Vec<u64> {
    let k = k.min(n);
    let mut seen = HashSet::with_capacity(to_usize(k));
    let mut chosen = Vec::with_capacity(to_usize(k));
    for j in (n - k)..n {
        let t = rng.random_range(0..=j);
        let pick = if seen.insert(t) { t } else { j };
        seen.insert(pick);
        chosen.push(pick);
    }
    chosen
}

/// `k` distinct numbers below `n` drawn from `popularity`, never `except`; once
/// popularity keeps repeating itself, uniformly.
fn distinct_skewed(
    rng: &mut StdRng,
    popularity: &Zipf,
    n: u64,
    k: u64,
    except: Option<u64>,
) -> Vec<u64> {
    let room = n - u64::from(except.is_some_and(|e| e < n));
    let k = k.min(room);
    let mut seen = HashSet::with_capacity(to_usize(k));
    let mut chosen = Vec::with_capacity(to_usize(k));
    let mut attempts = 0;
    while to_u64(chosen.len()) < k {
        attempts += 1;
        let candidate = if attempts <= 8 * k + 32 {
            popularity.sample(rng)
        } else {
            rng.random_range(0..n)
        };
        if Some(candidate) != except && seen.insert(candidate) {
            chosen.push(candidate);
        }
    }
    chosen
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

/// The slug the API would give `title`, with the article id as its suffix: unique,
/// since titles are words only and every id differs.
fn slug(title: &str, id: i64) -> Result<String, StoreError> {
    let title = ArticleTitle::parse(title)
        .map_err(|e| StoreError::Unexpected(format!("seeded title {title:?}: {e}").into()))?;
    Ok(Slug::from_title(&title, Some(&id.to_string())).into_inner())
}

const WORDS: &[&str] = &[
    "async",
    "build",
    "cache",
    "data",
    "deploy",
    "design",
    "error",
    "event",
    "fast",
    "guide",
    "handle",
    "index",
    "lesson",
    "memory",
    "model",
    "network",
    "notes",
    "pattern",
    "query",
    "queue",
    "release",
    "review",
    "scale",
    "schema",
    "secure",
    "server",
    "simple",
    "stream",
    "system",
    "test",
    "thread",
    "trace",
    "type",
    "update",
    "write",
    "zero",
    "better",
    "small",
    "large",
    "modern",
    "legacy",
    "hidden",
    "practical",
    "quiet",
    "robust",
    "clean",
    "shared",
    "lazy",
    "eager",
    "strict",
    "gentle",
    "brief",
    "deep",
    "first",
    "last",
    "real",
    "world",
    "code",
    "team",
    "product",
    "rust",
    "python",
    "garden",
    "coffee",
    "travel",
    "music",
    "writing",
    "reading",
    "habit",
    "morning",
    "city",
    "river",
    "mountain",
    "kitchen",
    "story",
    "history",
    "future",
    "idea",
    "question",
    "answer",
];

const TOPICS: &[&str] = &[
    "rust",
    "go",
    "python",
    "javascript",
    "typescript",
    "java",
    "kotlin",
    "swift",
    "ruby",
    "elixir",
    "haskell",
    "sql",
    "postgres",
    "sqlite",
    "redis",
    "kafka",
    "docker",
    "kubernetes",
    "linux",
    "security",
    "testing",
    "devops",
    "cloud",
    "web",
    "api",
    "design",
    "career",
    "productivity",
    "writing",
    "books",
    "music",
    "travel",
    "cooking",
    "coffee",
    "gardening",
    "photography",
    "science",
    "history",
    "startups",
    "health",
];

const QUALIFIERS: &[&str] = &["tips", "news", "beginners", "deep-dive"];

/// About 200 tag names, the plain topics first (the popular end of the Zipf draw).
fn tag_vocabulary() -> Vec<String> {
    let mut names: Vec<String> = TOPICS.iter().map(|t| (*t).to_owned()).collect();
    for qualifier in QUALIFIERS {
        names.extend(TOPICS.iter().map(|t| format!("{t}-{qualifier}")));
    }
    names
}

fn word(rng: &mut StdRng) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

fn title(rng: &mut StdRng) -> String {
    let count = rng.random_range(3..=7);
    let mut words: Vec<String> = (0..count).map(|_| word(rng).to_owned()).collect();
    words[0] = capitalized(&words[0]);
    words.join(" ")
}

fn sentence(rng: &mut StdRng, min: usize, max: usize) -> String {
    let count = rng.random_range(min..=max);
    let mut text = capitalized(word(rng));
    for _ in 1..count {
        text.push(' ');
        text.push_str(word(rng));
    }
    text.push('.');
    text
}

fn sentences(rng: &mut StdRng, min: usize, max: usize) -> String {
    let count = rng.random_range(min..=max);
    (0..count)
        .map(|_| sentence(rng, 5, 14))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A few hundred characters, in one to three paragraphs.
fn body(rng: &mut StdRng) -> String {
    let paragraphs = rng.random_range(1..=3);
    (0..paragraphs)
        .map(|_| sentences(rng, 2, 4))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_sum_exactly_and_respect_the_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        let weights = pareto_weights(&mut rng, 1_000, 1.3);
        for (total, cap) in [(5_000, 50), (0, 10), (10_000, 10), (1, 1)] {
            let counts = allocate(&mut rng, total, &weights, cap);
            assert_eq!(counts.iter().map(|c| u64::from(*c)).sum::<u64>(), total);
            assert!(counts.iter().all(|c| u64::from(*c) <= cap));
        }
    }

    #[test]
    fn distinct_draws_are_distinct_and_skip_the_excluded() {
        let mut rng = StdRng::seed_from_u64(1);
        let zipf = Zipf::new(10, 1.0);
        for k in 0..=9 {
            let drawn = distinct_skewed(&mut rng, &zipf, 10, k, Some(3));
            assert_eq!(drawn.len() as u64, k);
            assert!(!drawn.contains(&3));
            assert_eq!(drawn.iter().collect::<HashSet<_>>().len() as u64, k);
            let uniform = distinct_uniform(&mut rng, 10, k);
            assert_eq!(uniform.iter().collect::<HashSet<_>>().len() as u64, k);
            assert!(uniform.iter().all(|u| *u < 10));
        }
    }

    #[test]
    fn the_vocabulary_has_about_two_hundred_valid_tags() {
        let names = tag_vocabulary();
        assert_eq!(names.len(), 200);
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), 200);
        for name in &names {
            conduit_domain::article::TagName::parse(name).expect(name);
        }
    }

    #[test]
    fn slugs_end_with_the_id() {
        assert_eq!(slug("Fast async notes", 42).unwrap(), "fast-async-notes-42");
    }

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            insert_sql("t", &["a", "b"], 2, DatabaseBackend::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql("t", &["a"], 2, DatabaseBackend::Sqlite),
            "INSERT INTO t (a) VALUES (?), (?)"
        );
    }
}
