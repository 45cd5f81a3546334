//! Conditional requests, readiness, and a Redis outage in the middle of a run.

use std::time::{Duration, Instant};

use crate::helpers::{spawn_app, spawn_app_behind_database_relay, spawn_app_behind_redis_relay};
use conduit_server::config::RatePolicyConfig;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

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

/// Rendered list pages (ADR 0019) are served from the cache after the first read; every
/// kind of write that changes a page must retire it, for every viewer, while a page of
/// another viewer must never be served.
#[tokio::test]
async fn rendered_list_pages_follow_every_write_that_changes_them() {
    let app = spawn_app().await;
    let author = app.register("rl_author").await;
    let reader = app.register("rl_reader").await;
    let slug = app.article(&author, "Rendered once", &["cached"]).await;
    let pages = [
        "/articles",
        "/articles?tag=cached",
        "/articles?author=rl_author",
    ];
    // Reads every page twice (the second from the cache when it is on) as anonymous and
    // as the reader; both reads must agree. Returns the reader's and anonymous first items.
    let read = || async {
        let mut seen = Vec::new();
        for page in pages {
            for token in [Some(reader.as_str()), None] {
                let first = app.get(page, token).await;
                let second = app.get(page, token).await;
                assert_eq!(first.status, StatusCode::OK, "{page}: {:?}", first.body);
                assert_eq!(first.body, second.body, "{page}: two reads disagree");
                seen.push(first.body["articles"][0].clone());
            }
        }
        seen
    };
    let as_reader = |seen: &[Value]| seen.iter().step_by(2).cloned().collect::<Vec<_>>();
    let as_anonymous = |seen: &[Value]| seen.iter().skip(1).step_by(2).cloned().collect::<Vec<_>>();

    let before = read().await;
    assert!(before.iter().all(|item| item["favorited"] == false));

    // A favorite: the reader sees `favorited`, everyone sees the count.
    let fav = app
        .post(
            &format!("/articles/{slug}/favorite"),
            Some(&reader),
            json!({}),
        )
        .await;
    assert_eq!(fav.status, StatusCode::OK);
    let seen = read().await;
    assert!(
        as_reader(&seen)
            .iter()
            .all(|i| i["favorited"] == true && i["favoritesCount"] == 1)
    );
    assert!(
        as_anonymous(&seen)
            .iter()
            .all(|i| i["favorited"] == false && i["favoritesCount"] == 1)
    );

    // A follow: only the follower's pages change.
    let follow = app
        .post("/profiles/rl_author/follow", Some(&reader), json!({}))
        .await;
    assert_eq!(follow.status, StatusCode::OK);
    let seen = read().await;
    assert!(
        as_reader(&seen)
            .iter()
            .all(|i| i["author"]["following"] == true)
    );
    assert!(
        as_anonymous(&seen)
            .iter()
            .all(|i| i["author"]["following"] == false)
    );

    // A profile change and an edit: everyone sees them.
    let bio = app
        .put(
            "/user",
            Some(&author),
            json!({"user": {"bio": "rendered bio"}}),
        )
        .await;
    assert_eq!(bio.status, StatusCode::OK);
    let edit = app
        .put(
            &format!("/articles/{slug}"),
            Some(&author),
            json!({"article": {"description": "edited"}}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    let seen = read().await;
    assert!(
        seen.iter()
            .all(|i| i["author"]["bio"] == "rendered bio" && i["description"] == "edited")
    );

    // Unfavoriting, then deleting: the pages empty.
    app.delete(&format!("/articles/{slug}/favorite"), Some(&reader))
        .await;
    let seen = read().await;
    assert!(
        seen.iter()
            .all(|i| i["favoritesCount"] == 0 && i["favorited"] == false)
    );
    // Replacing its tags moves it from one tag's list to the other's, and a search finds
    // it by its new words, for every viewer.
    let count = |page: &'static str| {
        let app = &app;
        let reader = reader.clone();
        async move {
            let mut counts = Vec::new();
            for token in [Some(reader.as_str()), None] {
                counts.push(app.get(page, token).await.body["articlesCount"].clone());
            }
            counts
        }
    };
    for page in ["/articles?tag=moved", "/articles?q=retagged"] {
        assert_eq!(count(page).await, [0, 0], "{page} warmed empty");
    }
    let retag = app
        .put(
            &format!("/articles/{slug}"),
            Some(&author),
            json!({"article": {"tagList": ["moved"], "body": "retagged words"}}),
        )
        .await;
    assert_eq!(retag.status, StatusCode::OK);
    assert_eq!(count("/articles?tag=cached").await, [0, 0]);
    assert_eq!(count("/articles?tag=moved").await, [1, 1]);
    assert_eq!(count("/articles?q=retagged").await, [1, 1]);
    let deleted = app
        .delete(&format!("/articles/{slug}"), Some(&author))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(read().await.iter().all(Value::is_null));
    assert_eq!(count("/articles?tag=moved").await, [0, 0]);
    app.cleanup().await;
}

/// The feed is cached (decorator and rendered page) and stays exact after every kind
/// of write that can change it: a follow, an unfollow, a followed author's new, edited
/// and deleted article, favorites by the reader and by others, the author's profile;
/// and it ignores what cannot change it (an unfollowed author's article).
#[tokio::test]
async fn the_feed_follows_every_write_that_changes_it() {
    let app = spawn_app().await;
    let author = app.register("fd_author").await;
    let other = app.register("fd_other").await;
    let reader = app.register("fd_reader").await;
    let fan = app.register("fd_fan").await;
    // Reads the reader's feed twice (the second from the cache when it is on): both
    // reads must agree.
    let feed = || async {
        let first = app.get("/articles/feed", Some(&reader)).await;
        let second = app.get("/articles/feed", Some(&reader)).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        assert_eq!(first.body, second.body, "two reads of the feed disagree");
        first.body
    };
    let titles = |body: &Value| -> Vec<String> {
        body["articles"]
            .as_array()
            .expect("articles")
            .iter()
            .map(|a| a["title"].as_str().expect("title").to_owned())
            .collect()
    };

    let first = app.article(&author, "Feed one", &[]).await;
    app.article(&other, "Not followed", &[]).await;
    assert_eq!(feed().await["articlesCount"], 0);

    let followed = app
        .post("/profiles/fd_author/follow", Some(&reader), json!({}))
        .await;
    assert_eq!(followed.status, StatusCode::OK);
    let seen = feed().await;
    assert_eq!(titles(&seen), ["Feed one"]);
    assert_eq!(seen["articles"][0]["author"]["following"], true);

    let second = app.article(&author, "Feed two", &[]).await;
    app.article(&other, "Still not followed", &[]).await;
    assert_eq!(titles(&feed().await), ["Feed two", "Feed one"]);

    let edited = app
        .put(
            &format!("/articles/{first}"),
            Some(&author),
            json!({"article": {"description": "edited"}}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert_eq!(feed().await["articles"][1]["description"], "edited");

    // Someone else's favorite changes the count; the reader's also `favorited`.
    app.post(
        &format!("/articles/{second}/favorite"),
        Some(&fan),
        json!({}),
    )
    .await;
    let seen = feed().await;
    assert_eq!(
        (
            &seen["articles"][0]["favoritesCount"],
            &seen["articles"][0]["favorited"]
        ),
        (&json!(1), &json!(false))
    );
    app.post(
        &format!("/articles/{second}/favorite"),
        Some(&reader),
        json!({}),
    )
    .await;
    let seen = feed().await;
    assert_eq!(
        (
            &seen["articles"][0]["favoritesCount"],
            &seen["articles"][0]["favorited"]
        ),
        (&json!(2), &json!(true))
    );

    let bio = app
        .put("/user", Some(&author), json!({"user": {"bio": "feed bio"}}))
        .await;
    assert_eq!(bio.status, StatusCode::OK);
    assert!(
        feed().await["articles"]
            .as_array()
            .expect("articles")
            .iter()
            .all(|a| a["author"]["bio"] == "feed bio")
    );

    let deleted = app
        .delete(&format!("/articles/{second}"), Some(&author))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(titles(&feed().await), ["Feed one"]);

    let unfollowed = app
        .delete("/profiles/fd_author/follow", Some(&reader))
        .await;
    assert_eq!(unfollowed.status, StatusCode::OK);
    assert_eq!(feed().await["articlesCount"], 0);
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
    const READS: u32 = 40;
    let Some((app, relay)) = spawn_app_behind_redis_relay(|config| {
        config.rate_limit.read = RatePolicyConfig {
            enabled: true,
            requests: READS,
            per_seconds: 3600,
        };
    })
    .await
    else {
        return;
    };
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

/// Readiness follows the database: 503 while PostgreSQL is unreachable, 200 again once
/// it is back, without a restart. (SQLite is a file: it cannot go away like this.)
#[tokio::test]
async fn readiness_is_503_while_the_database_is_down() {
    let Some((app, relay)) = spawn_app_behind_database_relay(|_| {}).await else {
        return;
    };
    let report = ready(&app).await;
    assert_eq!(report["status"], "ok", "{report}");

    relay.cut();
    let down = app
        .client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = down.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "down");
    // The API answers 503 in the standard shape, never 500.
    let reply = app.get("/tags", None).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body["code"], "unavailable");

    relay.restore().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app
            .client
            .get(format!("{}/health/ready", app.address))
            .send()
            .await
            .expect("sent");
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not ready after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(app.get("/tags", None).await.status, StatusCode::OK);
    relay.cut();
    app.cleanup().await;
}
