//! The harness the backend contract suites share (`contract`, `sessions`, `api_keys`,
//! `one_time`, `identity_links`): running one test on one backend and tearing the
//! backend down whatever happens, setting up the SQLite, PostgreSQL and Redis backends,
//! and the rule for the environment variables that name the test servers, which
//! `oidc` and `sql_schema` follow too.
//!
//! Each suite keeps its own subject, test list and macro; it includes this module with
//! `#[path = "../support/mod.rs"] mod support;` (`oidc.rs` and `sql_schema.rs`, beside
//! this folder, with `mod support;`).

// Cargo compiles this module once per test target, and no target uses all of it: only
// `sessions`, `one_time` and `rate_limit` have a Redis backend, the SQL backends need the `testing`
// feature, and `oidc` and `sql_schema` only read the environment. What one target leaves
// unused another uses, so it is not dead code.
#![allow(dead_code)]

use std::{
    fmt::Display,
    future::Future,
    io::Write,
    panic,
    sync::{Arc, Mutex as StdMutex, Once},
};

use tokio::{net::TcpListener, task::JoinHandle};

use conduit_adapters::redis::RedisSessions;
#[cfg(feature = "testing")]
use conduit_adapters::sql::testing::TestDb;

/// What a backend keeps alive during one test and tears down after it.
pub trait Backend: Send + 'static {
    /// Releases what the test used (a database, keys).
    async fn tear_down(self);
}

/// A backend with nothing to release, such as the in-memory stores.
impl Backend for () {
    async fn tear_down(self) {}
}

/// Runs `test` on the subject `setup` provides, then tears the backend down whether or
/// not the test panicked, then lets the panic through so the test still fails.
///
/// `setup` answers `None` when the backend is not available in this environment.
/// `suite` names the suite in the message of a test that did not finish.
pub async fn run<S, B, T, F>(suite: &str, setup: impl Future<Output = Option<(S, B)>>, test: T)
where
    B: Backend,
    T: FnOnce(S) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let Some((subject, backend)) = setup.await else {
        return;
    };
    // A spawned task turns a panic into a value, so tear-down still runs before it is
    // resumed.
    let outcome = tokio::spawn(test(subject)).await;
    backend.tear_down().await;
    if let Err(failure) = outcome {
        match failure.try_into_panic() {
            Ok(payload) => panic::resume_unwind(payload),
            Err(failure) => panic!("{suite} test did not finish: {failure}"),
        }
    }
}

/// The value of `var`, trimmed, or `None` when it is unset or blank outside CI, after a
/// notice (once per `notice`) that `tests`, which need it, were not run.
///
/// # Panics
///
/// When `var` is unset or blank under CI (`CI` set), where skipped tests would pass
/// unnoticed, or when it is not valid Unicode.
pub fn configured(var: &str, tests: &str, notice: &Once) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value.trim().to_owned()),
        Ok(_) | Err(std::env::VarError::NotPresent) if std::env::var_os("CI").is_none() => {
            // Written to stderr directly so the notice shows even when the test harness
            // captures output; once, rather than once per test.
            notice.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "{var} is not set: {tests} were not run (they pass empty)"
                );
            });
            None
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            panic!("under CI, {var} must name a server for {tests}")
        }
        Err(err) => panic!("{var} is unusable: {err}"),
    }
}

/// The tests of `suite` on `backend`, as the notices name them.
fn backend_tests(backend: &str, suite: &str) -> String {
    format!("the {backend}::* {suite} tests")
}

/// The keys one test writes on the Redis server (or cluster) of its backend, all under a key
/// prefix no other test uses; tearing down deletes them.
pub struct RedisKeys {
    /// The server's URL.
    pub url: String,
    /// The prefix of every key the test writes.
    pub prefix: String,
    /// A session store under `prefix`. Its `clear` deletes every key under the prefix,
    /// whichever store wrote it.
    pub sessions: RedisSessions,
}

impl Backend for RedisKeys {
    async fn tear_down(self) {
        if let Err(err) = self.sessions.clear().await {
            let _ = writeln!(std::io::stderr(), "could not delete test keys: {err}");
        }
    }
}

/// Which Redis the tests of a `redis` or `redis_cluster` backend run on.
#[derive(Debug, Clone, Copy)]
pub enum RedisServer {
    /// One server, `TEST_REDIS_URL` (such as `redis://127.0.0.1:6379`).
    Single,
    /// A Redis Cluster, `TEST_REDIS_CLUSTER_URL` (such as
    /// `redis-cluster://127.0.0.1:7000`, made by `tools/redis-cluster/start.sh`).
    Cluster,
    /// A primary found through Sentinel, `TEST_REDIS_SENTINEL_URL` (such as
    /// `redis-sentinel://127.0.0.1:7002?sentinelServiceName=conduit`, made by
    /// `tools/redis-cluster/sentinel.sh`).
    Sentinel,
}

/// A connection to the Redis server, cluster or Sentinel-managed primary `server` names, under a fresh key
/// prefix; `None` when its variable is unset outside CI (see [`configured`]). `suite`
/// names the suite in the notice.
pub async fn redis(server: RedisServer, suite: &str) -> Option<RedisKeys> {
    static NOTICE: Once = Once::new();
    static CLUSTER_NOTICE: Once = Once::new();
    static SENTINEL_NOTICE: Once = Once::new();
    let url = match server {
        RedisServer::Single => {
            configured("TEST_REDIS_URL", &backend_tests("redis", suite), &NOTICE)?
        }
        RedisServer::Cluster => configured(
            "TEST_REDIS_CLUSTER_URL",
            &backend_tests("redis_cluster", suite),
            &CLUSTER_NOTICE,
        )?,
        RedisServer::Sentinel => configured(
            "TEST_REDIS_SENTINEL_URL",
            &backend_tests("redis_sentinel", suite),
            &SENTINEL_NOTICE,
        )?,
    };
    let prefix = format!("conduit-test:{}:", uuid::Uuid::new_v4().simple());
    let sessions = redis_connected(&url, RedisSessions::connect(&url, &prefix).await);
    Some(RedisKeys {
        url,
        prefix,
        sessions,
    })
}

/// The store that connecting to the Redis test server at `url` gave.
///
/// # Panics
///
/// When connecting failed.
pub fn redis_connected<T>(url: &str, connected: Result<T, impl Display>) -> T {
    connected.unwrap_or_else(|e| panic!("Redis test server at {url} is unusable: {e}"))
}

#[cfg(feature = "testing")]
impl Backend for TestDb {
    async fn tear_down(self) {
        self.cleanup().await;
    }
}

/// A migrated SQLite database of its own, and the subject `subject` makes of it.
#[cfg(feature = "testing")]
pub async fn sqlite<S>(subject: impl FnOnce(&TestDb) -> S) -> Option<(S, TestDb)> {
    let db = TestDb::sqlite().await;
    Some((subject(&db), db))
}

/// A migrated PostgreSQL database of its own, on the server `TEST_DATABASE_URL` names,
/// and the subject `subject` makes of it; `None` when the variable is unset outside CI
/// (see [`configured`]). `suite` names the suite in the notice.
#[cfg(feature = "testing")]
pub async fn postgres<S>(suite: &str, subject: impl FnOnce(&TestDb) -> S) -> Option<(S, TestDb)> {
    let db = postgres_db(&backend_tests("postgres", suite)).await?;
    Some((subject(&db), db))
}

/// A migrated PostgreSQL database of its own, on the server `TEST_DATABASE_URL` names;
/// `None` when the variable is unset outside CI (see [`configured`]). `tests` names, in
/// the notice, what is not run then.
#[cfg(feature = "testing")]
pub async fn postgres_db(tests: &str) -> Option<TestDb> {
    static NOTICE: Once = Once::new();
    let url = configured("TEST_DATABASE_URL", tests, &NOTICE)?;
    Some(TestDb::postgres(&url).await)
}

/// A TCP proxy on loopback in front of a server (a replica, Redis), which a test can take
/// away: a server lost as a network fault loses it.
pub struct Proxy {
    /// The port it listens on.
    pub port: u16,
    tasks: Arc<StdMutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `to` there.
    pub async fn start(to: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let port = listener.local_addr().expect("an address").port();
        let tasks = Arc::new(StdMutex::new(Vec::new()));
        let accept = tokio::spawn({
            let tasks = tasks.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) =
                            tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                        {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().expect("not poisoned").push(task);
                }
            }
        });
        Proxy {
            port,
            tasks,
            accept,
        }
    }

    /// Closes every connection and stops listening: the replica is gone.
    pub fn take_away(&self) {
        self.accept.abort();
        for task in self.tasks.lock().expect("not poisoned").drain(..) {
            task.abort();
        }
    }
}
