//! Faults under load: the database connection lost while writes are in flight. Every
//! answer is a success or a `503` in the standard error shape (never a 500), no write is
//! left half done, and the service resumes by itself when the database returns.
//!
//! These run on PostgreSQL (through a relay the test cuts); CI requires it.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Reply, TestApp, spawn_app_behind_database_relay, spawn_app_behind_redis_relay,
};

/// One writer: publishes articles with two tags and favorites them, until `stop`.
async fn writer(app: &TestApp, token: &str, writer: usize, until: Instant) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        let body = json!({"article": {"title": format!("Fault {writer} {n}"), "description": "d",
            "body": "b", "tagList": ["fault", format!("w{writer}")]}});
        let created = app.post("/articles", Some(token), body).await;
        if let Some(slug) = created.body["article"]["slug"].as_str() {
            let slug = slug.to_owned();
            replies.push(created);
            replies.push(
                app.post(
                    &format!("/articles/{slug}/favorite"),
                    Some(token),
                    json!({}),
                )
                .await,
            );
        } else {
            replies.push(created);
        }
        n += 1;
    }
    replies
}

/// Every article of the list at `query` (page after page), and the list's total.
async fn every_article(app: &TestApp, query: &str) -> (Vec<Value>, u64) {
    let mut items = Vec::new();
    loop {
        let page = app
            .get(
                &format!("/articles?{query}&limit=100&offset={}", items.len()),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let total = page.body["articlesCount"].as_u64().expect("a total");
        let batch = page.body["articles"].as_array().expect("a list").clone();
        let done = batch.is_empty() || items.len() + batch.len() >= total as usize;
        items.extend(batch);
        if done {
            return (items, total);
        }
    }
}

/// An error body names no internal detail: no driver, database, address or query.
fn assert_leaks_nothing(reply: &Reply) {
    let text = reply.body.to_string().to_lowercase();
    for internal in [
        "sqlx",
        "sea_orm",
        "postgres",
        "pool",
        "connection",
        "127.0.0.1",
        "select ",
        "insert ",
        "tcp",
        "os error",
        "redis",
        "timed out",
        "panicked",
    ] {
        assert!(!text.contains(internal), "{internal:?} in {text}");
    }
}

/// The articles of `author`, after checking that the favorites counted on them equal
/// the articles `author` is listed as favoriting (both from the database's present
/// state: a stale cache or a half-written favorite would make them differ).
async fn favorites_agree(app: &TestApp, author: &str, what: &str) -> Vec<Value> {
    let (own, own_total) = every_article(app, &format!("author={author}")).await;
    let (fans, fans_total) = every_article(app, &format!("favorited={author}")).await;
    assert_eq!(own_total, own.len() as u64, "{author}");
    assert_eq!(fans_total, fans.len() as u64, "{author}");
    let favorites: u64 = own
        .iter()
        .map(|a| a["favoritesCount"].as_u64().expect("a count"))
        .sum();
    assert_eq!(favorites, fans_total, "{author}: {what}");
    own
}

fn assert_success_or_unavailable(reply: &Reply) {
    match reply.status.as_u16() {
        200 | 201 => {}
        503 => {
            assert_eq!(reply.body["code"], "unavailable", "{:?}", reply.body);
            assert!(reply.body["errors"].is_object(), "{:?}", reply.body);
            assert_leaks_nothing(reply);
        }
        other => panic!("answered {other} during the outage: {:?}", reply.body),
    }
}

#[tokio::test]
async fn losing_the_database_mid_load_answers_503_leaves_no_partial_write_and_recovers() {
    let Some((app, relay)) = spawn_app_behind_database_relay(|config| {
        config.rate_limit.enabled = false;
        // Requests that wait for a connection give up within the test's patience.
        config.server.request_timeout_seconds = 5;
    })
    .await
    else {
        return;
    };
    let tokens = join_all((0..4).map(|i| app.register_named(format!("faulty{i}")))).await;

    let until = Instant::now() + Duration::from_secs(9);
    let load = join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| writer(&app, t, i, until)),
    );
    let outage = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        relay.cut();
        // Longer than the pool waits for a connection (5 s): requests caught in the
        // outage must be answered, not only delayed until it ends.
        tokio::time::sleep(Duration::from_millis(6500)).await;
        relay.restore().await;
    };
    let (replies, ()) = tokio::join!(load, outage);
    let replies: Vec<Reply> = replies.into_iter().flatten().collect();
    replies.iter().for_each(assert_success_or_unavailable);
    let unavailable = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(
        unavailable > 0,
        "the outage was not seen: {} replies",
        replies.len()
    );

    // The service comes back without a restart.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/tags", None).await.status != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "not serving again after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Nothing half written: every article has both of its tags, its totals agree with
    // its items, and favorites counted are favorites listed.
    let (articles, total) = every_article(&app, "tag=fault").await;
    assert_eq!(total, articles.len() as u64);
    let (everything, all_total) = every_article(&app, "").await;
    assert_eq!(all_total, everything.len() as u64);
    assert_eq!(all_total, total, "only the writers' articles exist");
    for article in &articles {
        let tags = article["tagList"].as_array().expect("tags");
        assert_eq!(tags.len(), 2, "an article lost a tag: {article}");
    }
    for (i, _) in tokens.iter().enumerate() {
        let own = favorites_agree(
            &app,
            &format!("faulty{i}"),
            "counted favorites against listed",
        )
        .await;
        let (tagged, tagged_total) = every_article(&app, &format!("tag=w{i}")).await;
        assert_eq!(tagged_total, tagged.len() as u64, "writer {i}");
        assert_eq!(own.len(), tagged.len(), "writer {i}");
    }
    // And it accepts writes again.
    let after = app
        .post(
            "/articles",
            Some(&tokens[0]),
            json!({"article": {"title": "After", "description": "d", "body": "b"}}),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{:?}", after.body);
    relay.cut();
    app.cleanup().await;
}

#[tokio::test]
async fn a_slow_database_makes_requests_time_out_cleanly_and_then_recover() {
    let Some((app, relay)) = spawn_app_behind_database_relay(|config| {
        config.rate_limit.enabled = false;
        config.cache.enabled = false;
        config.server.request_timeout_seconds = 1;
    })
    .await
    else {
        return;
    };
    let token = app.register("slowpoke").await;
    app.article(&token, "Before the slowness", &["slow"]).await;

    // Every database round trip now takes 3 s, longer than the request time limit.
    relay.slow_down(Duration::from_secs(3));
    let started = Instant::now();
    let reads = join_all((0..30).map(|_| app.get("/articles?tag=slow", None))).await;
    let writes = join_all((0..5).map(|i| {
        app.post(
            "/articles",
            Some(&token),
            json!({"article": {"title": format!("Slow {i}"), "description": "d", "body": "b"}}),
        )
    }))
    .await;
    for reply in reads.iter().chain(&writes) {
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            reply.body
        );
        assert_eq!(reply.body["code"], "unavailable", "{:?}", reply.body);
    }
    // Answered at the time limit, not after the database: the 35 requests did not queue
    // behind each other (a generous bound: the limit is 1 s, the database 3 s per trip).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // Back to normal speed: the service answers again without a restart, and the writes
    // that were cut off left nothing half done.
    relay.slow_down(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = app.get("/articles?tag=slow", None).await;
        if reply.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not serving again: {:?}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (items, total) = every_article(&app, "author=slowpoke").await;
    assert_eq!(items.len() as u64, total);
    assert!(items.iter().all(|a| a["title"].as_str().is_some()));
    relay.cut();
    app.cleanup().await;
}

#[tokio::test]
async fn losing_redis_under_load_keeps_answering_and_serves_no_stale_read_after() {
    let Some((app, relay)) =
        spawn_app_behind_redis_relay(|config| config.rate_limit.enabled = false).await
    else {
        return;
    };
    let tokens = join_all((0..3).map(|i| app.register_named(format!("redisless{i}")))).await;

    // Writers publish and favorite; readers read the lists and articles the cache serves.
    let until = Instant::now() + Duration::from_secs(6);
    let writers = join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| writer(&app, t, i, until)),
    );
    let readers = join_all((0..4).map(|_| async {
        let mut replies = Vec::new();
        while Instant::now() < until {
            replies.push(app.get("/articles?tag=fault", None).await);
            replies.push(app.get("/tags", None).await);
        }
        replies
    }));
    let outage = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        relay.cut();
        tokio::time::sleep(Duration::from_millis(3000)).await;
        relay.restore().await;
    };
    let (written, read, ()) = tokio::join!(writers, readers, outage);
    let replies: Vec<Reply> = written.into_iter().chain(read).flatten().collect();
    replies.iter().for_each(assert_success_or_unavailable);

    // Once Redis is back (and used again), reads show every write, including those made
    // while invalidations could not be delivered.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app
            .client
            .get(format!("{}/health/ready", app.address))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still degraded after Redis returned"
        );
        let _ = app.get("/articles?tag=fault", None).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (articles, total) = every_article(&app, "tag=fault").await;
    assert_eq!(total, articles.len() as u64);
    for (i, _) in tokens.iter().enumerate() {
        let own = favorites_agree(
            &app,
            &format!("redisless{i}"),
            "stale counts after the outage",
        )
        .await;
        assert!(!own.is_empty(), "writer {i} wrote nothing");
    }
    let listed: usize = articles.len();
    let ids_written = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        listed, ids_written,
        "every acknowledged article is listed, no more"
    );
    relay.cut();
    app.cleanup().await;
}
