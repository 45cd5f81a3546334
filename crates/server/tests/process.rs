//! The real `conduit` binary as an operator runs it: JSON request logs that never
//! contain a secret, a SIGTERM that lets an in-flight request finish, a SIGKILL in the
//! middle of writes that leaves nothing half written, and `conduit migrate` saying what
//! it applied or reverted.

use std::{
    fs::File,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use conduit_adapters::sql::testing::TestDb;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// A server process on a temporary SQLite file, logging JSON to a file; killed when
/// dropped.
struct Server {
    origin: String,
    port: u16,
    process: Child,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The API-key signing key every process of a test shares.
const API_KEY_ROOT: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn database_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display())
}

fn start() -> Server {
    start_with(None, &[])
}

/// A server on `database` (a new SQLite file in its directory when `None`), with
/// `settings` added to its environment.
fn start_with(database: Option<&str>, settings: &[(&str, &str)]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("conduit-process-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let log = File::create(dir.join("server.log")).expect("log file");
    let database = database.map_or_else(|| database_url(&dir), str::to_owned);
    let process = Command::new(env!("CARGO_BIN_EXE_conduit"))
        .env_clear()
        .env("DATABASE_URL", database)
        .env("CONDUIT_AUTH__API_KEY_PRIVATE_KEY", API_KEY_ROOT)
        .env("CONDUIT_SERVER__PORT", port.to_string())
        .env(
            "CONDUIT_AUTH__JWT_SECRET",
            "process-test-signing-key-0123456789abcdef",
        )
        .env("CONDUIT_AUTH__ARGON2_MEMORY_KIB", "8")
        .env("CONDUIT_AUTH__ARGON2_ITERATIONS", "1")
        .env("CONDUIT_LOG__FORMAT", "json")
        // Everything the service and its libraries log, not just the default level.
        .env("RUST_LOG", "debug")
        .envs(settings.iter().copied())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let mut server = Server {
        origin: format!("http://127.0.0.1:{port}"),
        port,
        process,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = server.process.try_wait().ok().flatten();
        assert!(exited.is_none(), "the server exited: {exited:?}");
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn terminate(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.process.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

async fn post(client: &Client, url: String, body: Value, headers: &[(&str, &str)]) -> Value {
    let mut request = client.post(url).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

/// Stops `server` with SIGTERM, waits for it to exit, and returns everything it logged.
fn stop_and_read_log(mut server: Server) -> String {
    terminate(&server);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.process.try_wait().expect("status").is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut log = String::new();
    File::open(server.dir.join("server.log"))
        .and_then(|mut f| f.read_to_string(&mut log))
        .expect("log read");
    log
}

/// The JSON log lines of `target`.
fn lines_of(log: &str, target: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == target)
        .collect()
}

/// CORS explains itself: the allowed origins at start (the development defaults plus an
/// extra one), and each refused origin at `warn` with its route, at most ten a minute
/// however many a scanner sends. The API's own pages are not refusals.
#[tokio::test]
async fn refused_origins_are_logged_with_their_route_and_rate_limited() {
    let server = start_with(
        None,
        &[("CONDUIT_HTTP__CORS_EXTRA_ORIGINS", "https://extra.example")],
    );
    let client = Client::new();
    let preflight = |origin: &str, path: &str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.origin))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    for allowed in ["https://extra.example", "http://localhost:4200"] {
        let answer = preflight(allowed, "/api/articles").await.expect("sent");
        assert_eq!(answer.status(), StatusCode::NO_CONTENT, "{allowed}");
    }
    let refused = preflight(
        "https://blank-page.example",
        "/api/articles/some-slug/comments",
    )
    .await
    .expect("sent");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // A simple cross-origin GET is answered without CORS headers, and logged too.
    let simple = client
        .get(format!("{}/api/tags", server.origin))
        .header("origin", "https://other.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(simple.status(), StatusCode::OK);
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // The API's own documentation page calling it is same-origin, not a refusal.
    let own = client
        .get(format!("{}/api/tags", server.origin))
        .header("origin", server.origin.as_str())
        .send()
        .await
        .expect("sent");
    assert_eq!(own.status(), StatusCode::OK);
    for i in 0..40 {
        let _ = preflight(&format!("https://scanner{i}.example"), "/api/user").await;
    }

    let own_origin = server.origin.clone();
    let log = stop_and_read_log(server);
    let started: Vec<String> = lines_of(&log, "conduit_server::application")
        .iter()
        .filter_map(|l| l["origins"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(started.len(), 1, "{log}");
    assert!(
        started[0].contains("http://localhost:4200")
            && started[0].ends_with("https://extra.example"),
        "{}",
        started[0]
    );
    let refusals = lines_of(&log, "cors");
    assert!(
        refusals.iter().all(|l| l["level"] == "WARN"),
        "{refusals:?}"
    );
    let first = &refusals[0];
    assert_eq!(first["origin"], "https://blank-page.example", "{first}");
    assert_eq!(first["route"], "/api/articles/{slug}/comments", "{first}");
    assert_eq!(first["method"], "POST", "{first}");
    assert_eq!(first["preflight"], true, "{first}");
    let second = &refusals[1];
    assert_eq!(second["origin"], "https://other.example", "{second}");
    assert_eq!(
        (&second["route"], &second["preflight"]),
        (&json!("/api/tags"), &json!(false))
    );
    // 42 refusals in well under a minute: the burst of ten is written, no more (one more
    // may be allowed if a sixth of a minute passed).
    assert!(
        (10..=11).contains(&refusals.len()),
        "{} refusal lines: {refusals:?}",
        refusals.len()
    );
    assert!(
        refusals.iter().all(|l| l["origin"] != own_origin),
        "the API's own origin was logged as refused: {refusals:?}"
    );
}

#[tokio::test]
async fn logs_name_requests_but_never_secrets() {
    let server = start();
    let client = Client::new();
    let api = format!("{}/api", server.origin);
    let password = "Correct-Horse-Battery-Staple-42";
    let signed_up = post(
        &client,
        format!("{api}/users"),
        json!({"user": {"username": "logged", "email": "logged@test.com", "password": password}}),
        &[],
    )
    .await;
    let login = post(
        &client,
        format!("{api}/users/login"),
        json!({"user": {"email": "logged@test.com", "password": password}}),
        &[],
    )
    .await;
    let token = login["user"]["token"].as_str().expect("token").to_owned();
    let refresh = signed_up["user"]["refreshToken"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let bearer = format!("Token {token}");
    let key = post(
        &client,
        format!("{api}/api-keys"),
        json!({"apiKey": {"name": "logged-bot", "scopes": ["user:read"]}}),
        &[("authorization", &bearer)],
    )
    .await["apiKey"]["token"]
        .as_str()
        .expect("api key")
        .to_owned();
    let me = client
        .get(format!("{api}/user"))
        .header("x-api-key", &key)
        .header("x-request-id", "trace-me-please")
        .send()
        .await
        .expect("sent");
    assert_eq!(me.status(), StatusCode::OK);
    let rotated = post(
        &client,
        format!("{api}/auth/refresh"),
        json!({"refreshToken": refresh}),
        &[],
    )
    .await;
    let new_refresh = rotated["user"]["refreshToken"]
        .as_str()
        .expect("rotated")
        .to_owned();
    // A wrong password and a bad token are logged as failures, still without secrets.
    let _ = client
        .post(format!("{api}/users/login"))
        .json(&json!({"user": {"email": "logged@test.com", "password": "Wrong-Password-123"}}))
        .send()
        .await;
    let _ = client
        .get(format!("{api}/user"))
        .header("authorization", "Token not.a.valid-token-xyz")
        .send()
        .await;

    let log = stop_and_read_log(server);
    assert!(log.lines().count() > 10, "too few log lines:\n{log}");
    for secret in [
        password,
        "Wrong-Password-123",
        token.as_str(),
        refresh.as_str(),
        new_refresh.as_str(),
        key.as_str(),
        "not.a.valid-token-xyz",
    ] {
        for line in log.lines() {
            assert!(!line.contains(secret), "a secret reached the log: {line}");
        }
    }
    // The request line: request id, method, route template, status, latency, caller.
    let traced: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.to_string().contains("trace-me-please") && line["status"].is_number())
        .collect();
    assert_eq!(traced.len(), 1, "one line per request:\n{log}");
    let line = traced[0].to_string();
    for expected in [
        "\"GET\"",
        "/api/user",
        "\"status\":200",
        "latency_ms",
        "api_key_id",
        "user_id",
    ] {
        assert!(line.contains(expected), "{expected} missing from {line}");
    }
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let server = start();
    let client = Client::new();
    let signed_up = post(
        &client,
        format!("{}/api/users", server.origin),
        json!({"user": {"username": "patient", "email": "patient@test.com", "password": "password123"}}),
        &[],
    )
    .await;
    let token = signed_up["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let body = json!({"article": {"title": "Finished after SIGTERM", "description": "d", "body": "b", "tagList": []}}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    // A slow client: headers and half the body, then the signal, then the rest.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connects");
    write!(
        stream,
        "POST /api/articles HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .expect("sent the first half");
    stream.flush().expect("flushed");
    std::thread::sleep(Duration::from_millis(300));
    terminate(&server);
    std::thread::sleep(Duration::from_millis(500));
    // New connections are no longer accepted...
    assert!(
        client
            .get(format!("{}/health/live", server.origin))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err(),
        "still accepting after SIGTERM"
    );
    // ...but the request in flight completes.
    stream.write_all(rest.as_bytes()).expect("sent the rest");
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.read_to_string(&mut answer).expect("answer read");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("Finished after SIGTERM"), "{answer}");
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.process.try_wait().expect("status") {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no exit after the request finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn operators_issue_api_keys_from_the_command_line() {
    let server = start();
    let client = Client::new();
    post(
        &client,
        format!("{}/api/users", server.origin),
        json!({"user": {"username": "machine_owner", "email": "owner@test.com", "password": "password123"}}),
        &[],
    )
    .await;
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_conduit"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", database_url(&server.dir))
            .env("CONDUIT_AUTH__API_KEY_PRIVATE_KEY", API_KEY_ROOT)
            .env("RUST_LOG", "error")
            .output()
            .expect("the binary runs")
    };
    let issued = cli(&[
        "api-key",
        "create",
        "machine_owner",
        "nightly export",
        "user:read",
        "7",
    ]);
    assert!(issued.status.success(), "{issued:?}");
    let stdout = String::from_utf8(issued.stdout).expect("utf-8");
    let token = stdout
        .lines()
        .nth(1)
        .expect("the token line")
        .trim()
        .to_owned();
    let me = client
        .get(format!("{}/api/user", server.origin))
        .header("x-api-key", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(me.status(), StatusCode::OK);
    let body: Value = me.json().await.expect("json");
    assert_eq!(body["user"]["username"], "machine_owner");
    // The key is limited to its scopes.
    let write = client
        .put(format!("{}/api/user", server.origin))
        .header("x-api-key", &token)
        .json(&json!({"user": {"bio": "not allowed"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(write.status(), StatusCode::FORBIDDEN);

    let unknown = cli(&["api-key", "create", "nobody_here", "bot", "user:read"]);
    assert!(!unknown.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&unknown.stdout),
        String::from_utf8_lossy(&unknown.stderr)
    );
    assert!(said.contains("nobody_here"), "{said}");
    let bad_scope = cli(&[
        "api-key",
        "create",
        "machine_owner",
        "bot",
        "root:everything",
    ]);
    assert!(!bad_scope.status.success());
}

async fn get_json(client: &Client, url: String) -> Value {
    let response = client.get(url).send().await.expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

/// What one writer was told succeeded before the kill.
#[derive(Default)]
struct Acknowledged {
    /// Slugs of articles answered 201, with the tags they were created with.
    articles: Vec<(String, Vec<String>)>,
    /// Slugs the writer's favorite of was answered 200.
    favorites: Vec<String>,
    /// Slugs and ids of comments answered 200.
    comments: Vec<(String, u64)>,
}

/// Publishes, favorites and comments as `token` until the server stops answering.
async fn write_until_killed(origin: String, token: String, writer: usize) -> Acknowledged {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let auth = format!("Token {token}");
    let mut done = Acknowledged::default();
    for n in 0.. {
        let tags = vec![
            "crash".to_owned(),
            format!("writer{writer}"),
            format!("round{n}"),
        ];
        let body = json!({"article": {"title": format!("Crash {writer} {n}"), "description": "d",
            "body": "b", "tagList": tags}});
        let Ok(created) = client
            .post(format!("{origin}/api/articles"))
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await
        else {
            break;
        };
        assert_eq!(created.status(), StatusCode::CREATED, "before the kill");
        let Ok(created) = created.json::<Value>().await else {
            break;
        };
        let slug = created["article"]["slug"]
            .as_str()
            .expect("a slug")
            .to_owned();
        done.articles.push((slug.clone(), tags));
        let Ok(favorited) = client
            .post(format!("{origin}/api/articles/{slug}/favorite"))
            .header("authorization", &auth)
            .send()
            .await
        else {
            break;
        };
        if favorited.status() == StatusCode::OK {
            done.favorites.push(slug.clone());
        }
        let Ok(commented) = client
            .post(format!("{origin}/api/articles/{slug}/comments"))
            .header("authorization", &auth)
            .json(&json!({"comment": {"body": format!("comment {writer} {n}")}}))
            .send()
            .await
        else {
            break;
        };
        if let Ok(comment) = commented.json::<Value>().await
            && let Some(id) = comment["comment"]["id"].as_u64()
        {
            done.comments.push((slug, id));
        }
    }
    done
}

/// Counts the rows `sql` (one `COUNT(*)` column) finds.
async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a count")
}

/// The rows of `sql` (three integer columns), sorted.
async fn triples(db: &sea_orm::DatabaseConnection, sql: &str) -> Vec<(i64, i64, i64)> {
    use sea_orm::{ConnectionTrait, Statement};
    let mut rows: Vec<(i64, i64, i64)> = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            let at = |i| row.try_get_by_index::<i64>(i).expect("an integer");
            (at(0), at(1), at(2))
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// Asserts that no row is half written: every article has all its tags, every count kept
/// by the writes equals a count of the rows, and nothing refers to a missing row.
async fn assert_whole(db: &sea_orm::DatabaseConnection) {
    for (what, sql) in [
        (
            "articles without all three tags",
            "SELECT COUNT(*) FROM articles a \
             WHERE (SELECT COUNT(*) FROM article_tags t WHERE t.article_id = a.id) <> 3",
        ),
        (
            "articles whose favoritesCount is not their favorites",
            "SELECT COUNT(*) FROM articles a WHERE a.favorites_count <> \
             (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id)",
        ),
        (
            "tags no article uses",
            "SELECT COUNT(*) FROM tags t \
             WHERE NOT EXISTS (SELECT 1 FROM article_tags x WHERE x.tag_id = t.id)",
        ),
        (
            "tag links to a missing article",
            "SELECT COUNT(*) FROM article_tags x \
             WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = x.article_id)",
        ),
        (
            "favorites of a missing article",
            "SELECT COUNT(*) FROM favorites f \
             WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = f.article_id)",
        ),
        (
            "comments on a missing article",
            "SELECT COUNT(*) FROM comments c \
             WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = c.article_id)",
        ),
    ] {
        assert_eq!(count(db, sql).await, 0, "{what}");
    }
    let kept = triples(
        db,
        "SELECT CAST(kind AS BIGINT), CAST(key AS BIGINT), CAST(articles AS BIGINT) \
         FROM article_counts WHERE articles <> 0",
    )
    .await;
    let counted = triples(
        db,
        "SELECT CAST(0 AS BIGINT), CAST(0 AS BIGINT), COUNT(*) FROM articles \
         HAVING COUNT(*) > 0 \
         UNION ALL SELECT CAST(1 AS BIGINT), CAST(tag_id AS BIGINT), COUNT(*) \
         FROM article_tags GROUP BY tag_id \
         UNION ALL SELECT CAST(2 AS BIGINT), CAST(author_id AS BIGINT), COUNT(*) \
         FROM articles GROUP BY author_id \
         UNION ALL SELECT CAST(3 AS BIGINT), CAST(user_id AS BIGINT), COUNT(*) \
         FROM favorites GROUP BY user_id",
    )
    .await;
    assert_eq!(kept, counted, "article_counts against the rows");
}

/// A fresh SQLite database, and a PostgreSQL one when `TEST_DATABASE_URL` is set
/// (required under CI).
async fn databases() -> Vec<TestDb> {
    let mut databases = vec![TestDb::sqlite().await];
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => databases.push(TestDb::postgres(&url).await),
        Err(_) => assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: TEST_DATABASE_URL is required"
        ),
    }
    databases
}

/// A server killed with SIGKILL while writers publish, favorite and comment leaves no
/// half-written article, tag, favorite or count, and loses nothing it acknowledged: each
/// write is one transaction, and a commit is durable before the answer is sent. Runs on
/// SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set (required under CI).
#[tokio::test]
async fn sigkill_mid_write_leaves_no_half_written_record() {
    let databases = databases().await;
    for db in databases {
        let url = db.url().to_owned();
        let store = db.store();
        let rows = store.connection();
        let settings = [
            ("CONDUIT_RATE_LIMIT__ENABLED", "false"),
            ("RUST_LOG", "warn"),
        ];
        let mut server = start_with(Some(&url), &settings);
        let client = Client::new();
        let mut tokens = Vec::new();
        for writer in 0..6 {
            let user = post(
                &client,
                format!("{}/api/users", server.origin),
                json!({"user": {"username": format!("writer{writer}"),
                    "email": format!("writer{writer}@test.com"), "password": "password123"}}),
                &[],
            )
            .await;
            tokens.push(user["user"]["token"].as_str().expect("token").to_owned());
        }
        let writers: Vec<_> = tokens
            .into_iter()
            .enumerate()
            .map(|(writer, token)| {
                tokio::spawn(write_until_killed(server.origin.clone(), token, writer))
            })
            .collect();
        // Kill while every writer is mid-way, once some of each kind of write is done.
        let enough = Instant::now() + Duration::from_secs(30);
        while count(rows, "SELECT COUNT(*) FROM comments").await < 60 {
            assert!(Instant::now() < enough, "the writers made no progress");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.process.kill().expect("SIGKILL sent");
        server.process.wait().expect("the server is gone");
        let mut acknowledged = Vec::new();
        for writer in writers {
            acknowledged.push(writer.await.expect("a writer"));
        }

        assert_whole(rows).await;

        // Restarted on the same database, it serves every acknowledged write.
        let server = start_with(Some(&url), &settings);
        let api = format!("{}/api", server.origin);
        for done in &acknowledged {
            for (slug, tags) in &done.articles {
                let article = get_json(&client, format!("{api}/articles/{slug}")).await;
                let mut listed: Vec<String> =
                    serde_json::from_value(article["article"]["tagList"].clone()).expect("tags");
                let mut expected = tags.clone();
                listed.sort();
                expected.sort();
                assert_eq!(listed, expected, "{slug} after the restart");
                let favorited = done.favorites.contains(slug);
                if favorited {
                    assert_eq!(article["article"]["favoritesCount"], 1, "{slug}");
                }
            }
            for (slug, id) in &done.comments {
                let comments = get_json(&client, format!("{api}/articles/{slug}/comments")).await;
                let ids: Vec<u64> = comments["comments"]
                    .as_array()
                    .expect("comments")
                    .iter()
                    .filter_map(|c| c["id"].as_u64())
                    .collect();
                assert!(ids.contains(id), "comment {id} on {slug} after the restart");
            }
        }
        let total =
            get_json(&client, format!("{api}/articles?tag=crash&limit=1")).await["articlesCount"]
                .as_i64()
                .expect("a total");
        assert_eq!(total, count(rows, "SELECT COUNT(*) FROM articles").await);
        let acknowledged_articles: usize = acknowledged.iter().map(|a| a.articles.len()).sum();
        assert!(total as usize >= acknowledged_articles);
        drop(server);
        drop(store);
        db.cleanup().await;
    }
}

/// `conduit migrate` tells the operator what it did: each migration it applied or
/// reverted by name, and that nothing was pending when so. Runs on SQLite, and on
/// PostgreSQL when `TEST_DATABASE_URL` is set (required under CI).
#[tokio::test]
async fn migrate_names_what_it_applied_and_reverted() {
    let databases = databases().await;
    for db in databases {
        let migrate = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_conduit"))
                .arg("migrate")
                .args(args)
                .env_clear()
                .env("DATABASE_URL", db.url())
                .env("RUST_LOG", "error")
                .output()
                .expect("the binary runs");
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8(out.stdout).expect("utf-8")
        };
        // The test database comes migrated: every migration listed as applied.
        let names: Vec<String> = migrate(&["status"])
            .lines()
            .map(|line| {
                let name = line.strip_prefix("applied ");
                name.unwrap_or_else(|| panic!("not applied: {line}"))
                    .to_owned()
            })
            .collect();
        assert!(names.len() >= 8, "{names:?}");
        let total = names.len();
        assert_eq!(
            migrate(&["up"]),
            format!("the schema is up to date: all {total} migrations applied\n")
        );
        let newest_two = [names[total - 1].as_str(), names[total - 2].as_str()];
        assert_eq!(
            migrate(&["down", "2"]),
            format!("reverted {}\nreverted {}\n", newest_two[0], newest_two[1])
        );
        assert_eq!(
            migrate(&["up"]),
            format!(
                "applied {}\napplied {}\n2 of {total} migrations applied now\n",
                newest_two[1], newest_two[0]
            )
        );
        db.cleanup().await;
    }
}
