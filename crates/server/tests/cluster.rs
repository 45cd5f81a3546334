//! Two server processes on one PostgreSQL and one Redis, as production runs them:
//! what one instance acknowledges, the other serves at once; a per-user rate limit
//! holds for both together; a refresh token rotated through one cannot be replayed
//! through the other.
//!
//! Needs `TEST_DATABASE_URL` (an admin URL; a fresh database is made) and
//! `TEST_REDIS_URL`. Without them the test is skipped, unless `CI` is set, when it
//! fails.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use conduit_adapters::sql::testing::TestDb;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// The per-user allowance of the `read` policy in this test.
const READS: u32 = 12;

/// A server process, stopped when dropped.
struct Instance {
    origin: String,
    process: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn services() -> Option<(String, String)> {
    let db = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let redis = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    match (db, redis) {
        (Some(db), Some(redis)) => Some((db, redis)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set: TEST_DATABASE_URL and TEST_REDIS_URL are required")
        }
        _ => {
            eprintln!("skipped: TEST_DATABASE_URL and TEST_REDIS_URL are not both set");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start(database_url: &str, redis_url: &str, prefix: &str) -> Instance {
    let port = free_port();
    let process = Command::new(env!("CARGO_BIN_EXE_conduit"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url)
        .env("CONDUIT_SERVER__HOST", "127.0.0.1")
        .env("CONDUIT_SERVER__PORT", port.to_string())
        .env("CONDUIT_REDIS__KEY_PREFIX", prefix)
        .env(
            "CONDUIT_AUTH__JWT_SECRET",
            "cluster-test-signing-key-0123456789abcdef",
        )
        .env("CONDUIT_AUTH__REFRESH_GRACE_SECONDS", "0")
        .env("CONDUIT_AUTH__ARGON2_MEMORY_KIB", "8")
        .env("CONDUIT_AUTH__ARGON2_ITERATIONS", "1")
        .env("CONDUIT_RATE_LIMIT__READ__REQUESTS", READS.to_string())
        .env("CONDUIT_RATE_LIMIT__READ__PER_SECONDS", "3600")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server binary starts");
    let mut instance = Instance {
        origin: format!("http://127.0.0.1:{port}"),
        process,
    };
    let origin = instance.origin.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = Client::new();
    loop {
        if let Ok(r) = client.get(format!("{origin}/health/live")).send().await
            && r.status().is_success()
        {
            break;
        }
        let exited = instance.process.try_wait().ok().flatten();
        assert!(exited.is_none(), "instance on {origin} exited: {exited:?}");
        assert!(
            Instant::now() < deadline,
            "instance on {origin} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    instance
}

async fn call(
    client: &Client,
    at: &Instance,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, format!("{}/api{path}", at.origin));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn two_instances_share_one_truth() {
    let Some((admin_url, redis_url)) = services() else {
        return;
    };
    let db = TestDb::postgres(&admin_url).await;
    let prefix = format!("conduit-cluster-{}:", uuid::Uuid::new_v4().simple());
    let a = start(db.url(), &redis_url, &prefix).await;
    let b = start(db.url(), &redis_url, &prefix).await;
    let client = Client::new();

    // Sign up through A.
    let (status, body) = call(
        &client,
        &a,
        Method::POST,
        "/users",
        None,
        Some(json!({"user": {"username": "clustered", "email": "clustered@test.com", "password": "password123"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["user"]["token"].as_str().expect("token").to_owned();
    let refresh = body["user"]["refreshToken"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    // (a) B's cache is warm with the empty list; a write through A shows at once on B.
    let (_, before) = call(&client, &b, Method::GET, "/articles", None, None).await;
    assert_eq!(before["articlesCount"], 0, "{before}");
    let (status, created) = call(
        &client,
        &a,
        Method::POST,
        "/articles",
        Some(&token),
        Some(json!({"article": {"title": "Shared truth", "description": "d", "body": "one", "tagList": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let slug = created["article"]["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    let (_, after) = call(&client, &b, Method::GET, "/articles", None, None).await;
    assert_eq!(after["articlesCount"], 1, "B served a stale list: {after}");
    let (_, seen) = call(
        &client,
        &b,
        Method::GET,
        &format!("/articles/{slug}"),
        None,
        None,
    )
    .await;
    assert_eq!(seen["article"]["body"], "one");
    let (status, _) = call(
        &client,
        &a,
        Method::PUT,
        &format!("/articles/{slug}"),
        Some(&token),
        Some(json!({"article": {"body": "two"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, seen) = call(
        &client,
        &b,
        Method::GET,
        &format!("/articles/{slug}"),
        None,
        None,
    )
    .await;
    assert_eq!(seen["article"]["body"], "two", "B served a stale article");

    // (b) B's cache is warm with a reader's feed; a follow, a new article and an
    // unfollow through A each show at once in that feed on B.
    let (status, body) = call(
        &client,
        &b,
        Method::POST,
        "/users",
        None,
        Some(json!({"user": {"username": "clusterreader", "email": "clusterreader@test.com", "password": "password123"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let reader = body["user"]["token"].as_str().expect("token").to_owned();
    let feed_count = |feed: &Value| feed["articlesCount"].as_u64();
    let feed_on_b = || async {
        call(
            &client,
            &b,
            Method::GET,
            "/articles/feed",
            Some(&reader),
            None,
        )
        .await
        .1
    };
    let feed = feed_on_b().await;
    assert_eq!(feed_count(&feed), Some(0), "{feed}");
    let (status, _) = call(
        &client,
        &a,
        Method::POST,
        "/profiles/clustered/follow",
        Some(&reader),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let feed = feed_on_b().await;
    assert_eq!(feed_count(&feed), Some(1), "B served a stale feed: {feed}");
    let (status, _) = call(
        &client,
        &a,
        Method::POST,
        "/articles",
        Some(&token),
        Some(json!({"article": {"title": "Shared feed", "description": "d", "body": "b", "tagList": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let feed = feed_on_b().await;
    assert_eq!(feed_count(&feed), Some(2), "B served a stale feed: {feed}");
    assert_eq!(feed["articles"][0]["title"], "Shared feed", "{feed}");
    let (status, _) = call(
        &client,
        &a,
        Method::DELETE,
        "/profiles/clustered/follow",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let feed = feed_on_b().await;
    assert_eq!(feed_count(&feed), Some(0), "B served a stale feed: {feed}");

    // (c) A refresh token rotated through A cannot be replayed through B.
    let (status, rotated) = call(
        &client,
        &a,
        Method::POST,
        "/auth/refresh",
        None,
        Some(json!({"refreshToken": refresh})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let (status, replayed) = call(
        &client,
        &b,
        Method::POST,
        "/auth/refresh",
        None,
        Some(json!({"refreshToken": refresh})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "replay accepted: {replayed}"
    );
    // The replay ended the session: the rotated token is refused too, on either side.
    let newer = rotated["user"]["refreshToken"].as_str().expect("token");
    let (status, _) = call(
        &client,
        &a,
        Method::POST,
        "/auth/refresh",
        None,
        Some(json!({"refreshToken": newer})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // (b) The user's read allowance is shared: alternate instances until it runs out.
    // Reads made above under this user's token count too, so count from a fresh one.
    let (status, body) = call(
        &client,
        &b,
        Method::POST,
        "/users",
        None,
        Some(json!({"user": {"username": "limited", "email": "limited@test.com", "password": "password123"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let limited = body["user"]["token"].as_str().expect("token").to_owned();
    let mut allowed = 0;
    for i in 0..READS {
        let at = if i % 2 == 0 { &a } else { &b };
        let (status, body) = call(&client, at, Method::GET, "/user", Some(&limited), None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "request {} refused early: {body}",
            i + 1
        );
        allowed += 1;
    }
    assert_eq!(allowed, READS);
    for at in [&a, &b] {
        let (status, body) = call(&client, at, Method::GET, "/user", Some(&limited), None).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "request beyond the shared allowance went through on {}: {body}",
            at.origin
        );
        assert_eq!(body["code"], "rate_limited", "{body}");
    }

    drop((a, b));
    db.cleanup().await;
}
