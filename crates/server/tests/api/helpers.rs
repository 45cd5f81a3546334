//! `spawn_app`: the real server, per test.

use conduit_adapters::sql::testing::TestDb;
use conduit_server::{Application, Config, config::Secret};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

/// A running server and what is needed to talk to it and clean it up.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    db: TestDb,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

/// A response: status and parsed JSON body (`Value::Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Value,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The test server, with `adjust` applied to its configuration last.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        conduit_server::telemetry::init(&Default::default());
    }
    // Under CI every HTTP test runs on PostgreSQL (with Redis): a silent fall back to
    // SQLite would leave them untested there (ADR 0026).
    assert!(
        std::env::var_os("CI").is_none()
            || std::env::var(conduit_adapters::sql::testing::TEST_DATABASE_URL)
                .is_ok_and(|url| !url.trim().is_empty()),
        "CI is set: TEST_DATABASE_URL is required"
    );
    let db = TestDb::from_env().await;
    let mut config = Config::default();
    // Sessions go to Redis when a test Redis is named, under a prefix of their own.
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        config.redis.url = Some(Secret(url));
        config.redis.key_prefix = format!("conduit-test-{}:", uuid::Uuid::new_v4().simple());
    }
    // Deterministic refresh semantics unless a test asks for the grace window.
    config.auth.refresh_grace_seconds = 0;
    config.server.port = 0;
    config.database.url = Secret(db.url().to_owned());
    config.auth.jwt_secret = Some(Secret("test-signing-key-of-at-least-32-bytes".into()));
    // The cheapest Argon2 cost keeps tests fast; production uses the default.
    config.auth.argon2_memory_kib = 8;
    config.auth.argon2_iterations = 1;
    adjust(&mut config);
    let app = Application::build(&config)
        .await
        .expect("the server starts");
    let address = format!("http://{}", app.addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        // Answers as sent: when another workspace member (the load tool) turns on
        // reqwest's decompression features, a default client would decode compressed
        // bodies and drop `Content-Encoding` before a test could see them.
        client: reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate()
            .build()
            .expect("a test client"),
        db,
        stop,
        server,
    }
}

impl TestApp {
    /// The test's database (the one the server uses).
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// Stops the server and drops the test database.
    pub async fn cleanup(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
        self.db.cleanup().await;
    }

    /// Sends a request to `/api{path}` with an optional JSON body and token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}/api{}", self.address, path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Registers `name` (email `name@test.com`, password `password123`); returns the token.
    pub async fn register(&self, name: &str) -> String {
        self.sign_up(name).await.0
    }

    /// [`TestApp::register`] with an owned name (for futures that outlive a borrow).
    pub async fn register_named(&self, name: String) -> String {
        self.sign_up(&name).await.0
    }

    /// Registers `name`; returns the access token and the refresh token.
    pub async fn sign_up(&self, name: &str) -> (String, String) {
        let reply = self
            .post(
                "/users",
                None,
                json!({"user": {"username": name, "email": format!("{name}@test.com"), "password": "password123"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        let token = reply.body["user"]["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let refresh = reply.body["user"]["refreshToken"]
            .as_str()
            .expect("refresh token")
            .to_owned();
        (token, refresh)
    }

    /// Creates an API key with `scopes` as the user of `token`; returns the key and its
    /// id.
    pub async fn api_key(&self, token: &str, scopes: &[&str]) -> (String, String) {
        let created = self
            .post(
                "/api-keys",
                Some(token),
                json!({"apiKey": {"name": "test key", "scopes": scopes}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let field = |name: &str| {
            created.body["apiKey"][name]
                .as_str()
                .expect("a string")
                .to_owned()
        };
        (field("token"), field("id"))
    }

    /// Creates an article; returns its slug.
    pub async fn article(&self, token: &str, title: &str, tags: &[&str]) -> String {
        let reply = self
            .post(
                "/articles",
                Some(token),
                json!({"article": {"title": title, "description": "d", "body": "b", "tagList": tags}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["article"]["slug"]
            .as_str()
            .expect("slug")
            .to_owned()
    }
}

/// Sends a request to `/api{path}` with `key` in `X-API-Key`.
pub async fn with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{}/api{path}", app.address))
        .header("X-API-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request.send().await.expect("sent")).await
}

/// The example of an OpenAPI operation's request body (`Value::Null` when its schema
/// has none), or `None` when the operation takes no body.
pub fn request_example(document: &Value, operation: &Value) -> Option<Value> {
    let media = operation["requestBody"]["content"]
        .as_object()?
        .values()
        .next()?;
    let schema = media["schema"]["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .expect("a named request schema");
    Some(document["components"]["schemas"][schema]["example"].clone())
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.bytes().await.expect("body read");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        content_type,
        body,
    }
}

/// Asserts the standard error shape: status, `errors.<key>[0]`, and `code`.
pub fn assert_error(reply: &Reply, status: u16, key: &str, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{:?}", reply.body);
    assert!(
        reply.body["errors"][key][0].is_string(),
        "expected errors.{key} in {:?}",
        reply.body
    );
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
    assert!(
        reply
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/json")),
        "content type {:?}",
        reply.content_type
    );
}

/// Copies `from` to `to`, holding each chunk for the relay's current delay.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let delay = delay_ms.load(std::sync::atomic::Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The test server with its PostgreSQL connections going through a [`Relay`] that the
/// test can cut and restore; `None` (the test passes without running) when
/// `TEST_DATABASE_URL` is not set, which CI forbids.
pub async fn spawn_app_behind_database_relay(
    adjust: impl FnOnce(&mut Config) + Send + 'static,
) -> Option<(TestApp, Arc<Relay>)> {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: TEST_DATABASE_URL is required"
        );
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return None;
    };
    let authority = admin_url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port in TEST_DATABASE_URL")
        .to_owned();
    let relay = Relay::start(&authority).await;
    let relayed = relay.port;
    let app = spawn_app_with(move |config| {
        let url = config.database.url.expose().to_owned();
        config.database.url = Secret(url.replacen(&authority, &format!("127.0.0.1:{relayed}"), 1));
        adjust(config);
    })
    .await;
    Some((app, relay))
}

/// The test server with its Redis connections going through a [`Relay`] the test can cut
/// and restore; `None` (the test passes without running) when `TEST_REDIS_URL` is not
/// set, which CI forbids.
pub async fn spawn_app_behind_redis_relay(
    adjust: impl FnOnce(&mut Config) + Send + 'static,
) -> Option<(TestApp, Arc<Relay>)> {
    let Ok(redis_url) = std::env::var("TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: TEST_REDIS_URL is required"
        );
        eprintln!("skipped: TEST_REDIS_URL is not set");
        return None;
    };
    let target = redis_url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let relay = Relay::start(&target).await;
    let port = relay.port;
    let app = spawn_app_with(move |config| {
        config.redis.url = Some(Secret(format!("redis://127.0.0.1:{port}")));
        adjust(config);
    })
    .await;
    Some((app, relay))
}

/// A TCP relay in front of a service (Redis, PostgreSQL) that can be cut (connections
/// dropped, new ones refused) and restored on the same port: an outage on demand.
pub struct Relay {
    pub port: u16,
    target: String,
    running: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Milliseconds each chunk waits before it is passed on (0: none): a slow service.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    pub async fn start(target: &str) -> Arc<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let relay = Arc::new(Relay {
            port,
            target: target.to_owned(),
            running: Mutex::new(None),
            connections: Arc::new(Mutex::new(Vec::new())),
            delay_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        });
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let connections = self.connections.clone();
        let delay = self.delay_ms.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let delay = delay.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            forward(client_read, server_write, delay.clone()),
                            forward(server_read, client_write, delay),
                        );
                    }
                });
                connections.lock().expect("lock").push(pipe);
            }
        });
        *self.running.lock().expect("lock") = Some(task);
    }

    /// Every chunk through the relay waits `delay` first (zero: back to normal).
    pub fn slow_down(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Redis "goes away": open connections are dropped, new ones refused.
    pub fn cut(&self) {
        if let Some(task) = self.running.lock().expect("lock").take() {
            task.abort();
        }
        for pipe in self.connections.lock().expect("lock").drain(..) {
            pipe.abort();
        }
    }

    /// Redis "comes back" on the same address.
    pub async fn restore(&self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket
            .bind(([127, 0, 0, 1], self.port).into())
            .expect("rebind the relay port");
        self.serve(socket.listen(64).expect("listen"));
    }
}
