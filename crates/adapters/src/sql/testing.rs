//! Disposable, migrated databases for tests (feature `testing`).
//!
//! Every [`TestDb`] is a database of its own, so tests can run in parallel without
//! seeing each other's rows.

use std::path::PathBuf;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

use super::SqlStore;

/// Names the PostgreSQL server the tests use; SQLite when unset.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A fresh database with the schema applied. Dropping it without [`TestDb::cleanup`]
/// still removes it, from a helper thread.
#[derive(Debug)]
pub struct TestDb {
    store: SqlStore,
    url: String,
    kind: Kind,
    cleaned: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Sqlite { path: PathBuf },
    Postgres { admin_url: String, name: String },
}

fn unique_name() -> String {
    format!("conduit_test_{}", uuid::Uuid::new_v4().simple())
}

impl TestDb {
    /// A migrated SQLite database in a new temporary file (not `sqlite::memory:`, which
    /// a second pool could not open: [`TestDb::url`] must name the same database).
    pub async fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = SqlStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open test SQLite database {url}: {e}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("cannot migrate test SQLite database {url}: {e}"));
        TestDb {
            store,
            url,
            kind: Kind::Sqlite { path },
            cleaned: false,
        }
    }

    /// A freshly created, migrated PostgreSQL database named `conduit_test_<uuid>` on the
    /// server of `admin_url` (a database URL the tests may create databases with).
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or refuses: a test configured for PostgreSQL
    /// must fail, not pass silently on nothing.
    pub async fn postgres(admin_url: &str) -> TestDb {
        let name = unique_name();
        let mut url = url::Url::parse(admin_url)
            .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL}={admin_url} is not a URL: {e}"));
        url.set_path(&name);
        let url = url.to_string();

        let admin = admin_connect(admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL test server at {admin_url} is unreachable ({e}); start it or \
                 unset {TEST_DATABASE_URL} to test on SQLite"
            )
        });
        // The name is ours (lowercase letters, digits, underscores), so quoting is safe.
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name} on {admin_url}: {e}"));
        let _ = admin.close().await;

        let store = SqlStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {url}: {e}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("cannot migrate test database {url}: {e}"));
        TestDb {
            store,
            url,
            kind: Kind::Postgres {
                admin_url: admin_url.to_owned(),
                name,
            },
            cleaned: false,
        }
    }

    /// PostgreSQL when `TEST_DATABASE_URL` is set (to the admin URL), else SQLite.
    pub async fn from_env() -> TestDb {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.trim().is_empty() => TestDb::postgres(url.trim()).await,
            _ => TestDb::sqlite().await,
        }
    }

    /// A store on this database (the same pool each time).
    pub fn store(&self) -> SqlStore {
        self.store.clone()
    }

    /// A URL another pool (an app under test, say) can connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database (PostgreSQL, forcibly closing other sessions) or removes the
    /// file (SQLite).
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        self.store.connection().clone().close().await.ok();
        match &self.kind {
            Kind::Sqlite { path } => remove_sqlite_files(path),
            Kind::Postgres { admin_url, name } => drop_postgres(admin_url, name).await,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        match self.kind.clone() {
            Kind::Sqlite { path } => remove_sqlite_files(&path),
            // Drop cannot await, and may run inside a runtime that is shutting down, so
            // the database is dropped from a thread with a runtime of its own.
            Kind::Postgres { admin_url, name } => {
                let dropper = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(drop_postgres(&admin_url, &name));
                    }
                });
                let _ = dropper.join();
            }
        }
    }
}

fn remove_sqlite_files(path: &std::path::Path) {
    // WAL mode keeps two companion files next to the database.
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

async fn drop_postgres(admin_url: &str, name: &str) {
    if let Ok(admin) = admin_connect(admin_url).await {
        let _ = admin
            .execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
            .await;
        let _ = admin.close().await;
    }
}

async fn admin_connect(admin_url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(admin_url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(5));
    Database::connect(options).await
}
