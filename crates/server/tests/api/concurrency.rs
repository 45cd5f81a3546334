//! Requests that race: many clients doing the same thing to the same record at once must
//! leave exactly the state a one-at-a-time order would, with no error answers.
//!
//! Rate limiting is off here: these tests send more sign-ups from one address than the
//! sign-in policy allows (that policy has its own tests).

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app_with};

async fn racing_app() -> TestApp {
    spawn_app_with(|config| config.rate_limit.enabled = false).await
}

/// Registers `count` users named `{base}{i}` at once; returns their tokens.
async fn register_many(app: &TestApp, base: &str, count: usize) -> Vec<String> {
    join_all((0..count).map(|i| app.register_named(format!("{base}{i}")))).await
}

async fn favorites_count(app: &TestApp, slug: &str) -> Value {
    let reply = app.get(&format!("/articles/{slug}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["article"]["favoritesCount"].clone()
}

#[tokio::test]
async fn a_hundred_users_favoriting_at_once_count_a_hundred_and_unfavoriting_zero() {
    let app = racing_app().await;
    let author = app.register("race_author").await;
    let slug = app.article(&author, "Everyone likes this", &[]).await;
    let fans = register_many(&app, "race_fan", 100).await;
    let path = format!("/articles/{slug}/favorite");

    let replies = join_all(fans.iter().map(|t| app.post(&path, Some(t), json!({})))).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "every favorite succeeds"
    );
    assert_eq!(favorites_count(&app, &slug).await, 100);
    // Favoriting again, at once, changes nothing.
    let again = join_all(
        fans.iter()
            .take(20)
            .map(|t| app.post(&path, Some(t), json!({}))),
    )
    .await;
    assert!(again.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(favorites_count(&app, &slug).await, 100);
    let fan0 = app.get("/articles?favorited=race_fan0", None).await;
    assert_eq!(fan0.body["articlesCount"], 1);

    let replies = join_all(fans.iter().map(|t| app.delete(&path, Some(t)))).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "every unfavorite succeeds"
    );
    assert_eq!(favorites_count(&app, &slug).await, 0);
    let fan0 = app.get("/articles?favorited=race_fan0", None).await;
    assert_eq!(fan0.body["articlesCount"], 0);
    app.cleanup().await;
}

#[tokio::test]
async fn articles_created_at_once_with_one_title_get_distinct_slugs() {
    let app = racing_app().await;
    let author = app.register("same_titler").await;
    let body = json!({"article": {"title": "Same Title", "description": "d", "body": "b", "tagList": ["race"]}});
    let replies =
        join_all((0..20).map(|_| app.post("/articles", Some(&author), body.clone()))).await;
    let mut slugs: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            r.body["article"]["slug"].as_str().expect("slug").to_owned()
        })
        .collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 20, "every article has a slug of its own");
    assert!(
        slugs.iter().all(|s| s.starts_with("same-title")),
        "{slugs:?}"
    );
    let listed = app.get("/articles?tag=race&limit=100", None).await;
    assert_eq!(listed.body["articlesCount"], 20);
    assert_eq!(listed.body["articles"].as_array().map(Vec::len), Some(20));
    app.cleanup().await;
}

#[tokio::test]
async fn registrations_at_once_with_one_email_make_one_account() {
    let app = racing_app().await;
    let attempts = (0..20).map(|i| {
        app.post(
            "/users",
            None,
            json!({"user": {"username": format!("twin{i}"), "email": "Twin@Example.com", "password": "password123"}}),
        )
    });
    let replies = join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one registration wins");
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_error(reply, 409, "email", "conflict");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn follows_and_unfollows_at_once_leave_a_consistent_state() {
    let app = racing_app().await;
    let author = app.register("followed_one").await;
    let slug = app.article(&author, "Followed writing", &[]).await;
    let readers = register_many(&app, "follower", 30).await;
    let path = "/profiles/followed_one/follow";

    // Thirty readers follow at once: all of them follow.
    let replies = join_all(readers.iter().map(|t| app.post(path, Some(t), json!({})))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    for reader in &readers {
        let profile = app.get("/profiles/followed_one", Some(reader)).await;
        assert_eq!(profile.body["profile"]["following"], true);
    }

    // One reader follows and unfollows many times at once: whatever the order, what the
    // profile says, what the feed holds and what the list says agree.
    let reader = &readers[0];
    let shared = &app;
    let flips = (0..20).map(|i| async move {
        if i % 2 == 0 {
            shared.delete(path, Some(reader)).await
        } else {
            shared.post(path, Some(reader), json!({})).await
        }
    });
    let replies = join_all(flips).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    let following =
        app.get("/profiles/followed_one", Some(reader)).await.body["profile"]["following"].clone();
    let feed = app.get("/articles/feed", Some(reader)).await;
    let in_feed = feed.body["articles"]
        .as_array()
        .is_some_and(|a| a.iter().any(|item| item["slug"] == slug.as_str()));
    assert_eq!(
        following == true,
        in_feed,
        "profile says {following}, feed disagrees"
    );
    let listed = app.get("/articles?author=followed_one", Some(reader)).await;
    assert_eq!(listed.body["articles"][0]["author"]["following"], following);
    assert_eq!(feed.body["articlesCount"], u64::from(in_feed));
    app.cleanup().await;
}
