//! One seeding run: the users, follows and articles (with their tags, favorites and
//! comments) phase by phase.

use conduit_domain::StoreError;
use rand::{Rng, rngs::StdRng};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, TransactionTrait, Value,
};
use time::{Duration, OffsetDateTime};

use super::{
    super::{SqlStore, error::store_error},
    ARTICLES_PER_TXN, HISTORY, SeedPlan, SeedProgress, SeedReport, USERS_PER_TXN, clamp_ms,
    content::{body, sentence, sentences, slug, tag_vocabulary, title},
    millis,
    random::{Zipf, allocate, counts_at, distinct_skewed, distinct_uniform, pareto_weights},
    to_i64, to_u64, to_usize,
    writing::{Rows, insert_sql},
};

/// The state of one seeding run.
pub(super) struct Seeder<'a> {
    pub(super) db: &'a SqlStore,
    pub(super) rng: StdRng,
    pub(super) plan: &'a SeedPlan,
    /// Seeded rows get ids above these.
    pub(super) user_base: u64,
    pub(super) article_base: u64,
    pub(super) comment_base: u64,
    pub(super) now: OffsetDateTime,
    pub(super) report: SeedReport,
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

    pub(super) async fn users(
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

    pub(super) async fn follows(
        &mut self,
        progress: &mut dyn SeedProgress,
    ) -> Result<(), StoreError> {
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

    pub(super) async fn articles(
        &mut self,
        progress: &mut dyn SeedProgress,
    ) -> Result<(), StoreError> {
        let total = self.plan.articles;
        progress.phase("articles", total);
        if total == 0 {
            return Ok(());
        }
        let draws = self.article_draws(total).await?;
        let mut next_comment = self.comment_base;
        let mut from = 0;
        while from < total {
            let to = (from + ARTICLES_PER_TXN).min(total);
            let mut batch = ArticleBatch::new();
            for index in from..to {
                self.article(index, &draws, &mut batch, &mut next_comment)?;
            }
            let txn = self.begin().await?;
            batch.flush(&txn, self.backend(), &mut self.report).await?;
            txn.commit().await.map_err(store_error)?;
            progress.advance(to - from);
            from = to;
        }
        Ok(())
    }

    /// What every article of the run is drawn from (the draws made once, up front).
    async fn article_draws(&mut self, total: u64) -> Result<ArticleDraws, StoreError> {
        let users = self.plan.users;
        let tag_ids = self.tags().await?;
        // Popular articles draw both favorites and comments.
        let weights = pareto_weights(&mut self.rng, total, 1.3);
        let fans = allocate(&mut self.rng, self.plan.favorites, &weights, users);
        let comments = allocate(&mut self.rng, self.plan.comments, &weights, u64::MAX);
        drop(weights);
        let tag_popularity = Zipf::new(to_u64(tag_ids.len()), 1.0);
        Ok(ArticleDraws {
            authors: Zipf::new(users, 0.9),
            tag_popularity,
            tag_ids,
            fans,
            comments,
            slot_ms: (HISTORY.whole_milliseconds() / i128::from(total)).max(1),
            start: self.history_start(),
        })
    }

    /// The `index`th seeded article, with its tag links, favorites and comments.
    fn article(
        &mut self,
        index: u64,
        draws: &ArticleDraws,
        batch: &mut ArticleBatch,
        next_comment: &mut u64,
    ) -> Result<(), StoreError> {
        let id = to_i64(self.article_base + index + 1);
        // Dates rise with ids, as the lists (newest first, by id) assume.
        let slot_ms = draws.slot_ms;
        let offset = i128::from(index) * slot_ms + self.rng.random_range(0..slot_ms);
        let created = millis(draws.start + Duration::milliseconds(clamp_ms(offset)));
        let title = title(&mut self.rng);
        let slug = slug(&title, id)?;
        let fan_count = counts_at(&draws.fans, index);
        let author = draws.authors.sample(&mut self.rng);
        let author = self.user_id(author);
        batch.articles.push([
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
        self.tag_links(id, draws, batch);
        let age_ms = (self.now - created).whole_milliseconds().max(1);
        for fan in distinct_uniform(&mut self.rng, self.plan.users, fan_count) {
            let at = created + Duration::milliseconds(clamp_ms(self.rng.random_range(0..age_ms)));
            batch
                .favorites
                .push([self.user_id(fan).into(), id.into(), millis(at).into()]);
        }
        let replies = counts_at(&draws.comments, index);
        self.replies(id, created, age_ms, replies, batch, next_comment);
        Ok(())
    }

    /// Up to four distinct tags of article `id`, popular ones more often.
    fn tag_links(&mut self, id: i64, draws: &ArticleDraws, batch: &mut ArticleBatch) {
        let tag_ids = &draws.tag_ids;
        let tag_count = self.rng.random_range(0..=4u64).min(to_u64(tag_ids.len()));
        let tags = distinct_skewed(
            &mut self.rng,
            &draws.tag_popularity,
            to_u64(tag_ids.len()),
            tag_count,
            None,
        );
        for (position, tag) in (0i32..).zip(tags) {
            batch
                .links
                .push([id.into(), tag_ids[to_usize(tag)].into(), position.into()]);
        }
    }

    /// `count` comments on article `id`, dated after it, in id order.
    fn replies(
        &mut self,
        id: i64,
        created: OffsetDateTime,
        age_ms: i128,
        count: u64,
        batch: &mut ArticleBatch,
        next_comment: &mut u64,
    ) {
        let mut offsets: Vec<i128> = (0..count)
            .map(|_| self.rng.random_range(0..age_ms))
            .collect();
        offsets.sort_unstable();
        for offset in offsets {
            *next_comment += 1;
            let commenter = self.rng.random_range(0..self.plan.users);
            let commenter = self.user_id(commenter);
            let at = millis(created + Duration::milliseconds(clamp_ms(offset)));
            batch.replies.push([
                to_i64(*next_comment).into(),
                id.into(),
                commenter.into(),
                Value::String(Some(sentences(&mut self.rng, 1, 3))),
                at.into(),
                at.into(),
            ]);
        }
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

/// What the articles of one run are drawn from.
struct ArticleDraws {
    /// The vocabulary's tag ids, most popular first.
    tag_ids: Vec<i64>,
    /// Favorites per article.
    fans: Vec<u32>,
    /// Comments per article.
    comments: Vec<u32>,
    /// Who writes: a few users write most.
    authors: Zipf,
    /// Which tags: a few are on most articles.
    tag_popularity: Zipf,
    /// Each article's slot of the history, in milliseconds.
    slot_ms: i128,
    /// When the first article was written.
    start: OffsetDateTime,
}

/// The rows of the articles one transaction writes.
struct ArticleBatch {
    articles: Rows,
    links: Rows,
    favorites: Rows,
    replies: Rows,
}

impl ArticleBatch {
    fn new() -> ArticleBatch {
        ArticleBatch {
            articles: Rows::new(
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
            ),
            links: Rows::new("article_tags", &["article_id", "tag_id", "position"]),
            favorites: Rows::new("favorites", &["user_id", "article_id", "created_at"]),
            replies: Rows::new(
                "comments",
                &[
                    "id",
                    "article_id",
                    "author_id",
                    "body",
                    "created_at",
                    "updated_at",
                ],
            ),
        }
    }

    /// Writes the batch, counting its rows in `report`.
    async fn flush(
        &mut self,
        txn: &DatabaseTransaction,
        backend: DatabaseBackend,
        report: &mut SeedReport,
    ) -> Result<(), StoreError> {
        report.articles += self.articles.flush(txn, backend).await?;
        report.article_tags += self.links.flush(txn, backend).await?;
        report.favorites += self.favorites.flush(txn, backend).await?;
        report.comments += self.replies.flush(txn, backend).await?;
        Ok(())
    }
}
