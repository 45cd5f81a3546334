//! Object-level authorization (OWASP API1) over HTTP, beyond the per-resource tests:
//! through API keys, across articles, and on the key list.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, with_key};

/// A key acts as its owner and no further: it cannot change or delete another user's
/// article or comment, even with every write scope.
#[tokio::test]
async fn a_key_cannot_touch_another_users_article_or_comment() {
    let app = spawn_app().await;
    let alice = app.register("alice_objects").await;
    let bob = app.register("bob_objects").await;
    let slug = app.article(&alice, "Alice's", &["mine"]).await;
    let comment = app
        .post(
            &format!("/articles/{slug}/comments"),
            Some(&alice),
            json!({"comment": {"body": "alice says"}}),
        )
        .await;
    let comment_id = comment.body["comment"]["id"].as_i64().expect("an id");
    let (bobs_key, _) = app
        .api_key(&bob, &["articles:write", "comments:write"])
        .await;

    let edit = with_key(
        &app,
        Method::PUT,
        &format!("/articles/{slug}"),
        &bobs_key,
        Some(json!({"article": {"body": "bob was here"}})),
    )
    .await;
    assert_error(&edit, 403, "article", "forbidden");
    let delete = with_key(
        &app,
        Method::DELETE,
        &format!("/articles/{slug}"),
        &bobs_key,
        None,
    )
    .await;
    assert_error(&delete, 403, "article", "forbidden");
    let uncomment = with_key(
        &app,
        Method::DELETE,
        &format!("/articles/{slug}/comments/{comment_id}"),
        &bobs_key,
        None,
    )
    .await;
    assert_error(&uncomment, 403, "comment", "forbidden");

    let article = app.get(&format!("/articles/{slug}"), None).await;
    assert_eq!(article.body["article"]["body"], "b", "unchanged");
    let comments = app.get(&format!("/articles/{slug}/comments"), None).await;
    assert_eq!(comments.body["comments"][0]["id"], comment_id);
    app.cleanup().await;
}

/// A comment is found only under its own article: its author cannot delete it through
/// another article's slug, and the comment stays.
#[tokio::test]
async fn a_comment_is_not_reached_through_another_article() {
    let app = spawn_app().await;
    let author = app.register("crossposter").await;
    let first = app.article(&author, "First home", &[]).await;
    let second = app.article(&author, "Second home", &[]).await;
    let comment = app
        .post(
            &format!("/articles/{first}/comments"),
            Some(&author),
            json!({"comment": {"body": "lives under the first"}}),
        )
        .await;
    let id = comment.body["comment"]["id"].as_i64().expect("an id");
    let elsewhere = app
        .delete(&format!("/articles/{second}/comments/{id}"), Some(&author))
        .await;
    assert_error(&elsewhere, 404, "comment", "not_found");
    let still = app.get(&format!("/articles/{first}/comments"), None).await;
    assert_eq!(still.body["comments"][0]["id"], id);
    app.cleanup().await;
}

/// Keys are private to their owner: another user's list leaves them out, and another
/// user's refused revocation leaves the key working.
#[tokio::test]
async fn another_users_keys_are_neither_listed_nor_revoked() {
    let app = spawn_app().await;
    let owner = app.register("keyholder").await;
    let stranger = app.register("keystranger").await;
    let (key, id) = app.api_key(&owner, &["user:read"]).await;
    app.api_key(&stranger, &["user:read"]).await;

    let theirs = app.get("/api-keys", Some(&stranger)).await;
    let ids: Vec<&str> = theirs.body["apiKeys"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "{:?}", theirs.body);
    assert!(!ids.contains(&id.as_str()));

    let revoke = app
        .delete(&format!("/api-keys/{id}"), Some(&stranger))
        .await;
    assert_error(&revoke, 404, "apiKey", "not_found");
    let me = with_key(&app, Method::GET, "/user", &key, None).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["username"], "keyholder");
    app.cleanup().await;
}
