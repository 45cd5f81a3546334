//! The real `conduit` binary as an operator runs it: JSON request logs that never
//! contain a secret, and a SIGTERM that lets an in-flight request finish.

use std::{
    fs::File,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

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
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("conduit-process-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let log = File::create(dir.join("server.log")).expect("log file");
    let process = Command::new(env!("CARGO_BIN_EXE_conduit"))
        .env_clear()
        .env("DATABASE_URL", database_url(&dir))
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

    terminate(&server);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut process = server;
    while process.process.try_wait().expect("status").is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut log = String::new();
    File::open(process.dir.join("server.log"))
        .and_then(|mut f| f.read_to_string(&mut log))
        .expect("log read");
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
