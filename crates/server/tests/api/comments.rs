use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn add_list_and_delete_comments() {
    let app = spawn_app().await;
    let author = app.register("commenter").await;
    let other = app.register("other").await;
    let slug = app.article(&author, "Discussed", &[]).await;
    let path = format!("/articles/{slug}/comments");

    let first = app
        .post(&path, Some(&author), json!({"comment": {"body": "First"}}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.body["comment"]["id"].is_i64());
    assert_eq!(first.body["comment"]["author"]["username"], "commenter");
    let first_id = first.body["comment"]["id"].as_i64().expect("id");
    app.post(&path, Some(&other), json!({"comment": {"body": "Second"}}))
        .await;

    let listed = app.get(&path, None).await;
    let bodies: Vec<_> = listed.body["comments"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    assert_eq!(bodies, [json!("First"), json!("Second")]);

    let forbidden = app
        .delete(&format!("{path}/{first_id}"), Some(&other))
        .await;
    assert_error(&forbidden, 403, "comment", "forbidden");
    assert_eq!(
        app.delete(&format!("{path}/{first_id}"), Some(&author))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &app.delete(&format!("{path}/{first_id}"), Some(&author))
            .await,
        404,
        "comment",
        "not_found",
    );
    let remaining = app.get(&path, None).await;
    assert_eq!(remaining.body["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(remaining.body["comments"][0]["body"], "Second");
    app.cleanup().await;
}

#[tokio::test]
async fn comment_errors() {
    let app = spawn_app().await;
    let token = app.register("critic").await;
    let slug = app.article(&token, "Target", &[]).await;
    let blank = app
        .post(
            &format!("/articles/{slug}/comments"),
            Some(&token),
            json!({"comment": {"body": ""}}),
        )
        .await;
    assert_error(&blank, 422, "body", "validation_failed");
    assert_error(
        &app.get("/articles/missing/comments", None).await,
        404,
        "article",
        "not_found",
    );
    assert_error(
        &app.post(
            "/articles/missing/comments",
            Some(&token),
            json!({"comment": {"body": "x"}}),
        )
        .await,
        404,
        "article",
        "not_found",
    );
    assert_error(
        &app.delete("/articles/missing/comments/1", Some(&token))
            .await,
        404,
        "article",
        "not_found",
    );
    assert_error(
        &app.delete(&format!("/articles/{slug}/comments/99999"), Some(&token))
            .await,
        404,
        "comment",
        "not_found",
    );
    assert_error(
        &app.delete("/articles/any/comments/1", None).await,
        401,
        "token",
        "token_missing",
    );
    // Deleting the article takes its comments with it.
    app.post(
        &format!("/articles/{slug}/comments"),
        Some(&token),
        json!({"comment": {"body": "x"}}),
    )
    .await;
    app.delete(&format!("/articles/{slug}"), Some(&token)).await;
    assert_error(
        &app.get(&format!("/articles/{slug}/comments"), None).await,
        404,
        "article",
        "not_found",
    );
    app.cleanup().await;
}
