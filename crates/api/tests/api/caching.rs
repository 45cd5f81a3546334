//! Conditional requests, readiness, and a Redis outage in the middle of a run.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use conduit_api::config::{RatePolicyConfig, Secret};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    task::JoinHandle,
};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn reads_carry_an_etag_and_a_matching_one_gets_304() {
    let app = spawn_app().await;
    let token = app.register("etagger").await;
    app.article(&token, "Tagged once", &[]).await;
    let url = format!("{}/api/articles", app.address);

    let first = app.client.get(&url).send().await.expect("sent");
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()[header::ETAG]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(first.headers()[header::CACHE_CONTROL], "private, no-cache");

    let again = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());
    assert!(again.bytes().await.expect("body").is_empty());

    // Another viewer sees another representation (`favorited`, `following` are theirs).
    let other = app.register("other_viewer").await;
    app.post(
        &format!("/articles/{}/favorite", "tagged-once"),
        Some(&other),
        json!({}),
    )
    .await;
    let as_other = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .header(header::AUTHORIZATION, format!("Token {other}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(as_other.status(), StatusCode::OK);

    // A write changes the representation: the old tag no longer matches.
    app.article(&token, "Tagged twice", &[]).await;
    let changed = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[header::ETAG], etag.as_str());
    let body: Value = changed.json().await.expect("json");
    assert_eq!(body["articlesCount"], 2);
    app.cleanup().await;
}

#[tokio::test]
async fn readiness_reports_every_dependency() {
    let app = spawn_app().await;
    let reply = app
        .client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), StatusCode::OK);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["database"], "up");
    assert_eq!(body["checks"]["cache"], "in use");
    let expected_redis = if std::env::var_os("TEST_REDIS_URL").is_some() {
        "up"
    } else {
        "not configured"
    };
    assert_eq!(body["checks"]["redis"], expected_redis);
    app.cleanup().await;
}

/// A TCP relay in front of Redis that can be cut (connections dropped, new ones
/// refused) and restored on the same port.
struct Relay {
    port: u16,
    target: String,
    running: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: &str) -> Arc<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let relay = Arc::new(Relay {
            port,
            target: target.to_owned(),
            running: Mutex::new(None),
            connections: Arc::new(Mutex::new(Vec::new())),
        });
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let connections = self.connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().expect("lock").push(pipe);
            }
        });
        *self.running.lock().expect("lock") = Some(task);
    }

    /// Redis "goes away": open connections are dropped, new ones refused.
    fn cut(&self) {
        if let Some(task) = self.running.lock().expect("lock").take() {
            task.abort();
        }
        for pipe in self.connections.lock().expect("lock").drain(..) {
            pipe.abort();
        }
    }

    /// Redis "comes back" on the same address.
    async fn restore(&self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket
            .bind(([127, 0, 0, 1], self.port).into())
            .expect("rebind the relay port");
        self.serve(socket.listen(64).expect("listen"));
    }
}

async fn ready(app: &crate::helpers::TestApp) -> Value {
    app.client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

/// With Redis gone mid-run, reads keep answering 200 from the database, rate limits
/// keep applying (in process), readiness says "degraded"; when Redis is back, the
/// instance uses it again without a restart.
#[tokio::test]
async fn a_redis_outage_degrades_but_does_not_stop_the_api() {
    let Ok(redis_url) = std::env::var("TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: TEST_REDIS_URL is required"
        );
        eprintln!("skipped: TEST_REDIS_URL is not set");
        return;
    };
    let target = redis_url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let relay = Relay::start(&target).await;
    const READS: u32 = 40;
    let app = spawn_app_with(|config| {
        config.redis.url = Some(Secret(format!("redis://127.0.0.1:{}", relay.port)));
        config.rate_limit.read = RatePolicyConfig {
            enabled: true,
            requests: READS,
            per_seconds: 3600,
        };
    })
    .await;
    let token = app.register("outage").await;
    let slug = app.article(&token, "Before the outage", &["redis"]).await;
    let reads = [
        "/articles".to_owned(),
        format!("/articles/{slug}"),
        format!("/articles/{slug}/comments"),
        "/profiles/outage".to_owned(),
        "/tags".to_owned(),
    ];
    for path in &reads {
        assert_eq!(app.get(path, None).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(ready(&app).await["status"], "ok");

    relay.cut();
    let started = Instant::now();
    // Every read still answers, from the database.
    for path in &reads {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {:?}", reply.body);
    }
    // Writes too, and what they change is visible at once.
    let edited = app
        .put(
            &format!("/articles/{slug}"),
            Some(&token),
            json!({"article": {"body": "written while Redis was away"}}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let seen = app.get(&format!("/articles/{slug}"), None).await;
    assert_eq!(seen.body["article"]["body"], "written while Redis was away");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "reads waited on the dead Redis"
    );
    let report = ready(&app).await;
    assert_eq!(report["status"], "degraded", "{report}");
    assert_ne!(report["checks"]["redis"], "up", "{report}");

    // Rate limiting still applies, in process: the anonymous read allowance (counted
    // afresh by the fallback) runs out.
    let mut refused = None;
    for i in 0..=READS {
        let reply = app.get("/tags", None).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.body["code"], "rate_limited");
            refused = Some(i);
            break;
        }
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    assert!(
        refused.is_some(),
        "no 429 within {} reads without Redis",
        READS + 1
    );

    // Redis returns: the same process uses it again.
    relay.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Traffic lets the cache and the limiter notice the recovery.
        let _ = app.get(&format!("/articles/{slug}"), Some(&token)).await;
        let report = ready(&app).await;
        if report["status"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "still degraded: {report}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // And the data is right after the lost invalidation.
    let seen = app.get(&format!("/articles/{slug}"), None).await;
    assert_eq!(seen.body["article"]["body"], "written while Redis was away");
    relay.cut();
    app.cleanup().await;
}
