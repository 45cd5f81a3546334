//! What the SQL schema and the SQL adapter guarantee beyond the port contract: that the
//! migration goes up, down and up again; that uniqueness holds in the database itself,
//! without regard to case; that favorites count right under concurrency; and how
//! connections are set up.
//!
//! Each test runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` names an admin
//! URL (such as `postgres://postgres@127.0.0.1:5432/test`). Under CI that variable is
//! required, so the PostgreSQL half cannot be skipped unnoticed.
#![cfg(feature = "testing")]

mod support;

use std::{collections::BTreeSet, sync::Arc};

use conduit_adapters::sql::{SqlStore, testing::TestDb};
use conduit_domain::{
    ArticleId, StoreError, UniqueField,
    api_key::{ApiKey, ApiKeyId, Scope},
    article::{
        ArticleBody, ArticleDescription, ArticleFilter, ArticleTitle, NewArticle, Page,
        SearchQuery, Slug,
    },
    identity::IdentityLink,
    ports::{ApiKeyStore, ArticleQueries, ArticleStore, IdentityLinks, SessionStore, UserStore},
    session::{NewSession, RefreshTokenHash, SessionId},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, User, Username},
};
use conduit_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use time::OffsetDateTime;

const TABLES: [&str; 14] = [
    "api_keys",
    "article_counts",
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "idempotency_records",
    "one_time_values",
    "refresh_tokens",
    "sessions",
    "tags",
    "user_identities",
    "users",
];

/// The tables of the first five migrations, which remain when the idempotency records
/// are rolled back alone.
const COUNTED_TABLES: [&str; 13] = [
    "api_keys",
    "article_counts",
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "one_time_values",
    "refresh_tokens",
    "sessions",
    "tags",
    "user_identities",
    "users",
];

/// The tables of the first four migrations, which remain when the article counts are
/// rolled back alone.
const SIGN_IN_TABLES: [&str; 12] = [
    "api_keys",
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "one_time_values",
    "refresh_tokens",
    "sessions",
    "tags",
    "user_identities",
    "users",
];

/// The tables of the first three migrations, which remain when the sign-in migration is
/// rolled back too.
const API_KEY_TABLES: [&str; 10] = [
    "api_keys",
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "refresh_tokens",
    "sessions",
    "tags",
    "users",
];

/// The tables of the first two migrations, which remain when the API keys migration is
/// rolled back too.
const SESSION_TABLES: [&str; 9] = [
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "refresh_tokens",
    "sessions",
    "tags",
    "users",
];

/// The tables of the first migration, which remain when the sessions migration is
/// rolled back too.
const FIRST_TABLES: [&str; 7] = [
    "article_tags",
    "articles",
    "comments",
    "favorites",
    "follows",
    "tags",
    "users",
];

/// Every named secondary index; with the composite primary keys they give each foreign
/// key an index that leads with it.
const INDEXES: [&str; 16] = [
    "api_keys_user_id_created_at_idx",
    "article_counts_kind_articles_idx",
    "article_tags_tag_id_article_id_idx",
    "articles_author_id_id_idx",
    "articles_slug_key",
    "comments_article_id_id_idx",
    "comments_author_id_idx",
    "favorites_article_id_idx",
    "follows_followee_id_idx",
    "idempotency_records_expires_at_ms_idx",
    "refresh_tokens_session_id_idx",
    "sessions_user_id_last_used_at_idx",
    "tags_name_key",
    "user_identities_user_id_idx",
    "users_email_lower_key",
    "users_username_lower_key",
];

/// The databases a test runs on: SQLite always, PostgreSQL when configured.
async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite().await];
    dbs.extend(support::postgres_db("the PostgreSQL halves of the SQL schema tests").await);
    dbs
}

async fn strings(conn: &DatabaseConnection, sql: &str) -> BTreeSet<String> {
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a text column"))
        .collect()
}

async fn tables(conn: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match conn.get_database_backend() {
        // The search table and its shadow tables are checked by `search_objects`.
        DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' \
             AND name NOT LIKE 'articles_fts%'"
        }
        _ => {
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'seaql_migrations'"
        }
    };
    strings(conn, sql).await
}

async fn indexes(conn: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match conn.get_database_backend() {
        // Indexes SQLite makes for primary keys have no SQL and are not named by us.
        DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        }
        // The search index is checked by `search_objects`.
        _ => {
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' \
             AND indexname NOT LIKE '%_pkey' AND indexname <> 'articles_search_idx'"
        }
    };
    strings(conn, sql).await
}

/// What full-text search adds, each backend its own: PostgreSQL's generated column and
/// GIN index, SQLite's FTS5 table and the triggers that keep it.
async fn search_objects(conn: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match conn.get_database_backend() {
        DatabaseBackend::Sqlite => {
            "SELECT type || ' ' || name FROM sqlite_master \
             WHERE name LIKE 'articles_fts%' AND name NOT LIKE 'articles_fts\\_%' ESCAPE '\\' \
             OR type = 'trigger'"
        }
        _ => {
            "SELECT 'index ' || indexname || ' ' || \
             CASE WHEN indexdef LIKE '%USING gin (search)' THEN 'gin' ELSE indexdef END \
             FROM pg_indexes WHERE indexname = 'articles_search_idx' \
             UNION ALL SELECT 'column ' || column_name || ' ' || data_type || ' ' || \
             is_generated FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'articles' \
             AND column_name = 'search'"
        }
    };
    strings(conn, sql).await
}

/// The objects [`search_objects`] finds when search is migrated.
fn expected_search_objects(backend: DatabaseBackend) -> BTreeSet<String> {
    match backend {
        DatabaseBackend::Sqlite => set(&[
            "table articles_fts",
            "trigger articles_fts_delete",
            "trigger articles_fts_insert",
            "trigger articles_fts_update",
        ]),
        _ => set(&[
            "column search tsvector ALWAYS",
            "index articles_search_idx gin",
        ]),
    }
}

/// The columns of `table`.
async fn columns(conn: &DatabaseConnection, table: &str) -> BTreeSet<String> {
    let sql = match conn.get_database_backend() {
        DatabaseBackend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
        _ => format!(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}'"
        ),
    };
    strings(conn, &sql).await
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

fn new_user(name: &str, email: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).expect("valid username"),
        email: Email::parse(email).expect("valid email"),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at: now(),
    }
}

async fn register(store: &SqlStore, name: &str) -> User {
    UserStore::create(store, new_user(name, &format!("{name}@example.com")))
        .await
        .expect("registered")
}

fn new_article(author: &User, slug: &str) -> NewArticle {
    NewArticle {
        author_id: author.id,
        slug: Slug::parse(slug).expect("valid slug"),
        title: ArticleTitle::parse(slug).expect("valid title"),
        description: ArticleDescription::parse("about").expect("valid description"),
        body: ArticleBody::parse("body").expect("valid body"),
        tags: Vec::new(),
        created_at: now(),
    }
}

#[tokio::test]
async fn migration_goes_up_down_and_up_again() {
    for db in databases().await {
        let store = db.store();
        let conn = store.connection();
        assert_eq!(tables(conn).await, set(&TABLES), "{}", db.url());
        assert_eq!(indexes(conn).await, set(&INDEXES), "{}", db.url());

        Migrator::down(conn, None).await.expect("down");
        assert!(tables(conn).await.is_empty(), "{}", db.url());
        assert!(indexes(conn).await.is_empty(), "{}", db.url());
        assert!(search_objects(conn).await.is_empty(), "{}", db.url());

        Migrator::up(conn, None).await.expect("up again");
        assert_eq!(tables(conn).await, set(&TABLES), "{}", db.url());
        assert_eq!(indexes(conn).await, set(&INDEXES), "{}", db.url());
        // A second run finds nothing pending.
        store.migrate().await.expect("idempotent");
        db.cleanup().await;
    }
}

/// How many migrations are applied.
async fn applied(store: &SqlStore) -> usize {
    let status = store.migration_status().await.expect("status");
    status.iter().filter(|(_, applied)| *applied).count()
}

#[tokio::test]
async fn later_migrations_go_down_and_up_one_at_a_time() {
    for db in databases().await {
        let store = db.store();
        let conn = store.connection();
        let backend = conn.get_database_backend();
        assert_eq!(search_objects(conn).await, expected_search_objects(backend));
        store.rollback(1).await.expect("article search down");
        assert!(search_objects(conn).await.is_empty(), "{}", db.url());
        assert_eq!(tables(conn).await, set(&TABLES), "{}", db.url());
        assert_eq!(indexes(conn).await, set(&INDEXES), "{}", db.url());
        assert_eq!(applied(&store).await, 7, "{}", db.url());
        store.rollback(1).await.expect("idempotency records down");
        assert_eq!(tables(conn).await, set(&COUNTED_TABLES), "{}", db.url());
        assert_eq!(applied(&store).await, 6, "{}", db.url());
        let refreshed_at = || async { columns(conn, "sessions").await.contains("refreshed_at") };
        assert!(refreshed_at().await, "{}", db.url());
        store.rollback(1).await.expect("sessions.refreshed_at down");
        assert!(!refreshed_at().await, "{}", db.url());
        assert_eq!(tables(conn).await, set(&COUNTED_TABLES), "{}", db.url());
        assert_eq!(applied(&store).await, 5, "{}", db.url());
        store.rollback(1).await.expect("article counts down");
        assert_eq!(tables(conn).await, set(&SIGN_IN_TABLES), "{}", db.url());
        assert_eq!(applied(&store).await, 4, "{}", db.url());
        store.rollback(1).await.expect("sign-in tables down");
        assert_eq!(tables(conn).await, set(&API_KEY_TABLES), "{}", db.url());
        assert_eq!(applied(&store).await, 3, "{}", db.url());
        store.rollback(1).await.expect("API keys down");
        assert_eq!(tables(conn).await, set(&SESSION_TABLES), "{}", db.url());
        assert_eq!(applied(&store).await, 2, "{}", db.url());
        store.rollback(1).await.expect("sessions down");
        assert_eq!(tables(conn).await, set(&FIRST_TABLES), "{}", db.url());
        assert_eq!(applied(&store).await, 1, "{}", db.url());
        store.migrate().await.expect("up again");
        assert_eq!(tables(conn).await, set(&TABLES), "{}", db.url());
        assert_eq!(indexes(conn).await, set(&INDEXES), "{}", db.url());
        assert!(refreshed_at().await, "{}", db.url());
        assert_eq!(search_objects(conn).await, expected_search_objects(backend));
        db.cleanup().await;
    }
}

/// The search migration indexes the articles there already are, and its rollback
/// leaves them listed as before.
#[tokio::test]
async fn the_search_migration_indexes_existing_articles() {
    for db in databases().await {
        let store = db.store();
        store.rollback(1).await.expect("article search down");
        let author = register(&store, "early").await;
        let id = ArticleStore::create(&store, new_article(&author, "written-before-search"))
            .await
            .expect("article written");
        store.migrate().await.expect("article search up");
        let filter = ArticleFilter {
            search: SearchQuery::parse("Before").expect("short"),
            ..ArticleFilter::default()
        };
        let found = ArticleQueries::list(&store, &filter, Page::default(), None)
            .await
            .expect("searched");
        let ids: Vec<_> = found.articles.iter().map(|a| a.id).collect();
        assert_eq!((ids, found.total), (vec![id], 1), "{}", db.url());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_user_deletes_their_sessions_and_tokens() {
    for db in databases().await {
        let store = db.store();
        let conn = store.connection();
        let gone = register(&store, "gone").await;
        let stays = register(&store, "stays").await;
        for (user, id) in [(&gone, "s-gone"), (&stays, "s-stays")] {
            let created_at = now();
            SessionStore::start(
                &store,
                NewSession {
                    id: SessionId(id.into()),
                    user_id: user.id,
                    user_agent: None,
                    created_at,
                    expires_at: Timestamp::new(
                        created_at.as_offset_date_time() + time::Duration::days(1),
                    ),
                    first_token: RefreshTokenHash(format!("hash-{id}")),
                },
            )
            .await
            .expect("session started");
        }
        conn.execute_unprepared(&format!("DELETE FROM users WHERE id = {}", gone.id.0))
            .await
            .expect("user deleted");
        assert_eq!(
            strings(conn, "SELECT id FROM sessions").await,
            set(&["s-stays"]),
            "{}",
            db.url()
        );
        assert_eq!(
            strings(conn, "SELECT hash FROM refresh_tokens").await,
            set(&["hash-s-stays"]),
            "{}",
            db.url()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_user_deletes_their_api_keys() {
    for db in databases().await {
        let store = db.store();
        let conn = store.connection();
        let gone = register(&store, "gone").await;
        let stays = register(&store, "stays").await;
        for (user, id) in [(&gone, "ak_gone"), (&stays, "ak_stays")] {
            ApiKeyStore::create(
                &store,
                ApiKey {
                    id: ApiKeyId(id.into()),
                    user_id: user.id,
                    name: id.into(),
                    scopes: vec![Scope::UserRead],
                    created_at: now(),
                    expires_at: None,
                    revoked_at: None,
                },
            )
            .await
            .expect("key created");
        }
        conn.execute_unprepared(&format!("DELETE FROM users WHERE id = {}", gone.id.0))
            .await
            .expect("user deleted");
        assert_eq!(
            strings(conn, "SELECT id FROM api_keys").await,
            set(&["ak_stays"]),
            "{}",
            db.url()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn deleting_a_user_deletes_their_identity_links() {
    for db in databases().await {
        let store = db.store();
        let conn = store.connection();
        let gone = register(&store, "gone").await;
        let stays = register(&store, "stays").await;
        for (user, subject) in [(&gone, "sub-gone"), (&stays, "sub-stays")] {
            IdentityLinks::link(
                &store,
                IdentityLink {
                    provider: "github".into(),
                    subject: subject.into(),
                    user_id: user.id,
                },
                now(),
            )
            .await
            .expect("identity linked");
        }
        conn.execute_unprepared(&format!("DELETE FROM users WHERE id = {}", gone.id.0))
            .await
            .expect("user deleted");
        assert_eq!(
            strings(conn, "SELECT subject FROM user_identities").await,
            set(&["sub-stays"]),
            "{}",
            db.url()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sqlite_ids_are_autoincrement_rowids() {
    let db = TestDb::sqlite().await;
    let sql = strings(
        db.store().connection(),
        "SELECT sql FROM sqlite_master WHERE name = 'users'",
    )
    .await;
    let sql = sql.first().expect("users table");
    assert!(
        sql.contains(r#""id" integer NOT NULL PRIMARY KEY AUTOINCREMENT"#),
        "{sql}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn unique_indexes_reject_case_variants_in_the_database_itself() {
    for db in databases().await {
        let store = db.store();
        let conn = store.connection();
        register(&store, "Jake").await;
        let at = "2024-01-01 00:00:00+00";
        for (username, email) in [("jake", "other@example.com"), ("other", "JAKE@EXAMPLE.COM")] {
            let insert = format!(
                "INSERT INTO users (username, email, password_hash, created_at, updated_at) \
                 VALUES ('{username}', '{email}', 'x', '{at}', '{at}')"
            );
            let refused = conn.execute_unprepared(&insert).await;
            assert!(
                refused.is_err(),
                "{} accepted {username} / {email}",
                db.url()
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unique_violations_map_to_the_field() {
    for db in databases().await {
        let store = db.store();
        let jake = register(&store, "Jake").await;

        let same_email = new_user("someone", "JAKE@example.COM");
        let err = UserStore::create(&store, same_email)
            .await
            .expect_err("taken email");
        assert!(
            matches!(err, StoreError::Duplicate(UniqueField::Email)),
            "{err:?}"
        );

        let same_name = new_user("JAKE", "fresh@example.com");
        let err = UserStore::create(&store, same_name)
            .await
            .expect_err("taken username");
        assert!(
            matches!(err, StoreError::Duplicate(UniqueField::Username)),
            "{err:?}"
        );

        ArticleStore::create(&store, new_article(&jake, "dragons"))
            .await
            .expect("created");
        let err = ArticleStore::create(&store, new_article(&jake, "dragons"))
            .await
            .expect_err("taken slug");
        assert!(
            matches!(err, StoreError::Duplicate(UniqueField::Slug)),
            "{err:?}"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn missing_references_are_unexpected_not_duplicates() {
    for db in databases().await {
        let store = db.store();
        let jake = register(&store, "jake").await;
        let err = ArticleStore::favorite(&store, jake.id, ArticleId(424_242))
            .await
            .expect_err("no such article");
        assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_favorites_count_exactly() {
    for db in databases().await {
        let store = Arc::new(db.store());
        let author = register(&store, "author").await;
        let article = ArticleStore::create(&*store, new_article(&author, "popular"))
            .await
            .expect("created");
        let mut fans = Vec::new();
        for i in 0..12 {
            fans.push(register(&store, &format!("fan{i}")).await);
        }

        // Every fan favorites twice at once, so duplicates race with each other too.
        let mut tasks = Vec::new();
        for fan in fans.iter().chain(fans.iter()) {
            let (store, user) = (store.clone(), fan.id);
            tasks.push(tokio::spawn(async move {
                ArticleStore::favorite(&*store, user, article).await
            }));
        }
        for task in tasks {
            task.await.expect("task").expect("favorited");
        }
        let seen = store
            .article(article, None)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(seen.summary.favorites_count, 12, "{}", db.url());

        let mut tasks = Vec::new();
        for fan in fans.iter().take(5).chain(fans.iter().take(5)) {
            let (store, user) = (store.clone(), fan.id);
            tasks.push(tokio::spawn(async move {
                ArticleStore::unfavorite(&*store, user, article).await
            }));
        }
        for task in tasks {
            task.await.expect("task").expect("unfavorited");
        }
        let seen = store
            .article(article, None)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(seen.summary.favorites_count, 7, "{}", db.url());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn timestamps_round_trip_at_millisecond_precision() {
    for db in databases().await {
        let store = db.store();
        let created = register(&store, "clock").await;
        let read = store
            .by_id(created.id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(read.created_at, created.created_at, "{}", db.url());
        assert_eq!(read.updated_at, created.updated_at, "{}", db.url());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sqlite_file_is_created_with_foreign_keys_and_wal() {
    let dir = std::env::temp_dir().join(format!("conduit_sql_schema_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("fresh.db");
    let _ = std::fs::remove_file(&path);

    let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connects and creates the file");
    assert!(path.exists());
    store.ping().await.expect("ping");
    let conn = store.connection();
    let pragma = |name: &str| {
        let sql = format!("PRAGMA {name}");
        async move {
            let row = conn
                .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
                .await
                .expect("pragma")
                .expect("a row");
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .expect("a value")
        }
    };
    assert_eq!(pragma("foreign_keys").await, "1");
    assert_eq!(pragma("journal_mode").await, "wal");
    store.connection().clone().close().await.expect("closed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sqlite_memory_database_lives_as_long_as_the_store() {
    let store = SqlStore::connect("sqlite::memory:")
        .await
        .expect("connects");
    store.migrate().await.expect("migrated");
    let first = register(&store, "memo").await;
    // Concurrent callers share the pool's single connection, and with it the database.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            register(&store, &format!("memo{i}")).await
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let read = store.by_id(first.id).await.expect("read");
    assert_eq!(read.map(|u| u.username), Some("memo".to_owned()));
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Port 1 is never a PostgreSQL server: the connection is refused at once.
    let err = SqlStore::connect("postgres://postgres@127.0.0.1:1/none")
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// Two instances starting at once on an empty database both migrate it: the migrations
/// apply exactly once and neither start fails (PostgreSQL; SQLite files are not shared
/// by instances).
#[tokio::test]
async fn instances_migrating_an_empty_database_at_once_both_succeed() {
    let Some(db) = support::postgres_db("the concurrent migration test").await else {
        return;
    };
    let conn = db.store().connection().clone();
    Migrator::down(&conn, None).await.expect("down to empty");
    assert!(tables(&conn).await.is_empty());
    for round in 0..3 {
        let (one, two) = tokio::join!(
            async {
                SqlStore::connect(db.url())
                    .await
                    .expect("connects")
                    .migrate()
                    .await
            },
            async {
                SqlStore::connect(db.url())
                    .await
                    .expect("connects")
                    .migrate()
                    .await
            },
        );
        assert!(
            one.is_ok() && two.is_ok(),
            "round {round}: {one:?} / {two:?}"
        );
        assert_eq!(tables(&conn).await, set(&TABLES), "round {round}");
        let applied = strings(&conn, "SELECT version FROM seaql_migrations").await;
        assert_eq!(
            applied.len(),
            Migrator::migrations().len(),
            "round {round}: each migration once: {applied:?}"
        );
        Migrator::down(&conn, None).await.expect("down again");
    }
    Migrator::up(&conn, None).await.expect("up for cleanup");
    db.cleanup().await;
}
