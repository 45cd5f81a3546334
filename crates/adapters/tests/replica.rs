//! Reads from a PostgreSQL streaming replica (ADR 0032), against a real one: the store
//! sends a read to the replica only when the replica has replayed every write
//! acknowledged before it, so while replay is held back (`pg_wal_replay_pause()`, a
//! replica as far behind as we like) reads go to the primary and stay exact; a replica
//! that goes away, or is not a standby, is invisible to callers.
//!
//! Needs `TEST_DATABASE_URL` (the primary's admin URL) and `TEST_DATABASE_REPLICA_URL`
//! (a streaming replica of that server without a database, such as
//! `postgres://postgres@127.0.0.1:5433`; `tools/pg-replica/start.sh` makes one); the
//! two-instance case also `TEST_REDIS_URL`. Each is required under CI. The tests pause
//! the replica's replay, so they take turns.
#![cfg(feature = "testing")]

mod support;

use std::{
    sync::{
        Arc, Once,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use conduit_adapters::{
    redis::RedisWatermark,
    sql::{
        SqlStore,
        replica::{LocalWatermark, ReadCounts, Watermark},
        testing::TestDb,
    },
};
use conduit_domain::{
    ArticleId, UserId,
    article::{
        ArticleBody, ArticleDescription, ArticleFilter, ArticleTitle, NewArticle, Page, Slug,
    },
    comment::{CommentBody, NewComment},
    ports::{ArticleQueries, ArticleStore, CommentStore, ProfileStore, UserStore},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Username},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// The tests pause the one replica's replay: one at a time.
static TURN: Mutex<()> = Mutex::const_new(());

/// The replica's URL without a database, or `None` outside CI when unset.
fn replica_base() -> Option<String> {
    static NOTICE: Once = Once::new();
    support::configured("TEST_DATABASE_REPLICA_URL", "the replica tests", &NOTICE)
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// A migrated database on the primary, and its replica, which has replayed it.
struct Pair {
    db: TestDb,
    /// The test database on the replica.
    replica_url: String,
    /// The replica's `postgres` database, to pause and resume replay.
    replica_admin: DatabaseConnection,
    /// Resumes replay however the test ends.
    _resume: ResumeOnDrop,
}

/// The replica's admin URL: dropping this resumes its replay. A test that fails with
/// replay paused would otherwise leave the replica behind for good (the fleet in CI, and
/// every later run, would find it stale). `psql`, since the runtime may be going away.
struct ResumeOnDrop(String);

impl Drop for ResumeOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([&self.0, "-qAtc", "SELECT pg_wal_replay_resume()"])
            .output();
    }
}

impl Pair {
    async fn new() -> Option<Pair> {
        let base = replica_base()?;
        let db = support::postgres_db("the replica tests").await?;
        let name = db
            .url()
            .rsplit('/')
            .next()
            .expect("a database name")
            .to_owned();
        let replica_admin_url = format!("{base}/postgres");
        let replica_admin = Database::connect(replica_admin_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("the replica at {base} is unreachable: {e}"));
        let pair = Pair {
            replica_url: format!("{base}/{name}"),
            db,
            replica_admin,
            _resume: ResumeOnDrop(replica_admin_url),
        };
        pair.resume().await;
        // The database and its schema reach the replica by replay.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(replica) = Database::connect(pair.replica_url.as_str()).await
                && replica
                    .execute_unprepared("SELECT 1 FROM articles LIMIT 1")
                    .await
                    .is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the test database never reached the replica"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(pair)
    }

    async fn store(&self, replica_url: &str, watermark: Arc<dyn Watermark>) -> SqlStore {
        self.db
            .store()
            .with_replicas(&[replica_url.to_owned()], watermark)
            .await
            .expect("replicas configured")
    }

    async fn pause(&self) {
        self.replica_admin
            .execute_unprepared("SELECT pg_wal_replay_pause()")
            .await
            .expect("replay paused");
    }

    async fn resume(&self) {
        self.replica_admin
            .execute_unprepared("SELECT pg_wal_replay_resume()")
            .await
            .expect("replay resumed");
    }

    async fn finish(self) {
        self.resume().await;
        self.db.cleanup().await;
    }
}

fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

/// A user and an article of theirs, written through `store`, under names no other call
/// uses.
async fn author_and_article(store: &SqlStore) -> (UserId, ArticleId, Username) {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let name = format!("writer{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let user = UserStore::create(
        store,
        NewUser {
            username: Username::parse(&name).expect("valid"),
            email: Email::parse(&format!("{name}@example.com")).expect("valid"),
            password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$x".into()),
            created_at: now(),
        },
    )
    .await
    .expect("user created");
    let article = ArticleStore::create(
        store,
        NewArticle {
            author_id: user.id,
            slug: Slug::parse(&format!("replicated-{name}")).expect("valid"),
            title: ArticleTitle::parse("Replicated").expect("valid"),
            description: ArticleDescription::parse("About replicas").expect("valid"),
            body: ArticleBody::parse("Read from a replica.").expect("valid"),
            tags: Vec::new(),
            created_at: now(),
        },
    )
    .await
    .expect("article created");
    (user.id, article, Username::parse(&name).expect("valid"))
}

/// The article's favorite count and whether `viewer` favorited it, read through `store`.
async fn favorites(store: &SqlStore, article: ArticleId, viewer: UserId) -> (u64, bool) {
    let view = store
        .article(article, Some(viewer))
        .await
        .expect("read")
        .expect("found");
    (view.summary.favorites_count, view.summary.favorited)
}

/// Reads through `store` until a replica serves one (replay is asynchronous), at most
/// 10 s; the counts then.
async fn until_a_replica_serves(
    store: &SqlStore,
    article: ArticleId,
    viewer: UserId,
) -> ReadCounts {
    let deadline = Instant::now() + Duration::from_secs(10);
    let before = store.read_counts().replica;
    loop {
        favorites(store, article, viewer).await;
        let counts = store.read_counts();
        if counts.replica > before {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "no read ever went to the replica: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_lagging_replica_never_shows_a_stale_view() {
    let _turn = TURN.lock().await;
    let Some(pair) = Pair::new().await else {
        return;
    };
    let store = pair
        .store(&pair.replica_url, Arc::new(LocalWatermark::default()))
        .await;
    let (user, article, name) = author_and_article(&store).await;
    assert_eq!(favorites(&store, article, user).await, (0, false));
    until_a_replica_serves(&store, article, user).await;

    // The replica stops replaying: every write from now on is missing there.
    pair.pause().await;
    store.favorite(user, article).await.expect("favorited");
    CommentStore::add(
        &store,
        NewComment {
            article_id: article,
            author_id: user,
            body: CommentBody::parse("first").expect("valid"),
            created_at: now(),
        },
    )
    .await
    .expect("commented");
    let before = store.read_counts();
    for _ in 0..5 {
        assert_eq!(
            favorites(&store, article, user).await,
            (1, true),
            "read your write"
        );
    }
    let page = ArticleQueries::list(
        &store,
        &ArticleFilter::default(),
        Page {
            limit: 10,
            offset: 0,
        },
        Some(user),
    )
    .await
    .expect("listed");
    assert_eq!(page.articles[0].favorites_count, 1, "counts stay exact");
    assert_eq!(store.list_comments(article, Some(user)).await.len(), 1);
    let profile = store
        .profile(&name, None)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(profile.username, name.as_str());
    let after = store.read_counts();
    assert_eq!(
        after.replica, before.replica,
        "nothing was read from the lagging replica"
    );
    assert_eq!(after.primary, before.primary + 8);

    // Caught up again, it takes the reads back, with the writes.
    pair.resume().await;
    until_a_replica_serves(&store, article, user).await;
    assert_eq!(favorites(&store, article, user).await, (1, true));
    pair.finish().await;
}

/// Comments of `article` as `viewer` sees them.
trait ListComments {
    async fn list_comments(&self, article: ArticleId, viewer: Option<UserId>) -> Vec<String>;
}

impl ListComments for SqlStore {
    async fn list_comments(&self, article: ArticleId, viewer: Option<UserId>) -> Vec<String> {
        CommentStore::list(self, article, viewer)
            .await
            .expect("listed")
            .into_iter()
            .map(|comment| comment.body)
            .collect()
    }
}

#[tokio::test]
async fn a_write_through_one_instance_is_waited_for_by_the_others() {
    let _turn = TURN.lock().await;
    let Some(pair) = Pair::new().await else {
        return;
    };
    let Some(keys) = support::redis(support::RedisServer::Single, "replica").await else {
        pair.finish().await;
        return;
    };
    let watermark = || async {
        let watermark = RedisWatermark::connect(&keys.url, &keys.prefix).await;
        Arc::new(support::redis_connected(&keys.url, watermark)) as Arc<dyn Watermark>
    };
    // Two instances: their own pools, one watermark in Redis.
    let one = pair.store(&pair.replica_url, watermark().await).await;
    let other = SqlStore::connect(pair.db.url())
        .await
        .expect("connected")
        .with_replicas(std::slice::from_ref(&pair.replica_url), watermark().await)
        .await
        .expect("replicas configured");
    let (user, article, _) = author_and_article(&one).await;
    until_a_replica_serves(&other, article, user).await;

    pair.pause().await;
    one.favorite(user, article)
        .await
        .expect("favorited through one");
    let before = other.read_counts();
    assert_eq!(
        favorites(&other, article, user).await,
        (1, true),
        "seen by the other"
    );
    assert_eq!(other.read_counts().replica, before.replica);
    pair.resume().await;
    until_a_replica_serves(&other, article, user).await;
    support::Backend::tear_down(keys).await;
    pair.finish().await;
}

#[tokio::test]
async fn a_replica_that_goes_away_is_invisible() {
    let _turn = TURN.lock().await;
    let Some(pair) = Pair::new().await else {
        return;
    };
    let replica = url::Url::parse(&pair.replica_url).expect("a URL");
    let proxy = support::Proxy::start(replica.port().unwrap_or(5432)).await;
    let mut through = replica.clone();
    through.set_port(Some(proxy.port)).expect("a port");
    let store = pair
        .store(through.as_str(), Arc::new(LocalWatermark::default()))
        .await;
    let (user, article, _) = author_and_article(&store).await;
    until_a_replica_serves(&store, article, user).await;
    assert_eq!(store.replicas_in_use(), Some((1, 1)));

    proxy.take_away();
    store.favorite(user, article).await.expect("favorited");
    let before = store.read_counts();
    for _ in 0..5 {
        assert_eq!(
            favorites(&store, article, user).await,
            (1, true),
            "no error, exact"
        );
    }
    let after = store.read_counts();
    assert_eq!(after.replica, before.replica);
    assert_eq!(after.primary, before.primary + 5);
    assert_eq!(
        store.replicas_in_use(),
        Some((0, 1)),
        "left alone, for readiness"
    );
    pair.finish().await;
}

#[tokio::test]
async fn a_replica_that_never_answers_or_is_not_a_standby_is_not_used() {
    let _turn = TURN.lock().await;
    let Some(pair) = Pair::new().await else {
        return;
    };
    // Nothing listens on port 1; the primary is no standby.
    for url in ["postgres://postgres@127.0.0.1:1/none", pair.db.url()] {
        let store = pair.store(url, Arc::new(LocalWatermark::default())).await;
        let (user, article, _) = author_and_article(&store).await;
        assert_eq!(favorites(&store, article, user).await, (0, false), "{url}");
        let counts = store.read_counts();
        assert_eq!(counts.replica, 0, "{url}: {counts:?}");
        assert!(counts.primary >= 1, "{url}: {counts:?}");
    }
    pair.finish().await;
}

/// A watermark whose raises fail while `failing` is set, as when Redis refuses one.
#[derive(Debug, Default)]
struct Flaky {
    inner: LocalWatermark,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Watermark for Flaky {
    async fn get(&self) -> Result<Option<u64>, conduit_domain::StoreError> {
        self.inner.get().await
    }

    async fn raise(&self, lsn: u64) -> Result<(), conduit_domain::StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(conduit_domain::StoreError::Unavailable("refused".into()));
        }
        self.inner.raise(lsn).await
    }
}

#[tokio::test]
async fn a_write_whose_watermark_could_not_be_raised_keeps_reads_on_the_primary() {
    let _turn = TURN.lock().await;
    let Some(pair) = Pair::new().await else {
        return;
    };
    let watermark = Arc::new(Flaky::default());
    let store = pair.store(&pair.replica_url, watermark.clone()).await;
    let (user, article, _) = author_and_article(&store).await;
    until_a_replica_serves(&store, article, user).await;

    // The write commits, but the watermark stays below it.
    pair.pause().await;
    watermark.failing.store(true, Ordering::SeqCst);
    store.favorite(user, article).await.expect("favorited");
    let before = store.read_counts();
    assert_eq!(
        favorites(&store, article, user).await,
        (1, true),
        "not from the replica"
    );
    // Raising works again: the next read raises it to the primary's position, which
    // covers the write, and the paused replica is behind it.
    watermark.failing.store(false, Ordering::SeqCst);
    assert_eq!(favorites(&store, article, user).await, (1, true));
    let after = store.read_counts();
    assert_eq!(after.replica, before.replica);
    assert_eq!(after.primary, before.primary + 2);
    pair.resume().await;
    until_a_replica_serves(&store, article, user).await;
    assert_eq!(favorites(&store, article, user).await, (1, true));
    pair.finish().await;
}
