//! OWASP API3 (broken object property level authorization): a request body can set only
//! the properties its operation documents. Server-owned properties (author, counts,
//! flags, timestamps, slugs) sent by a client are ignored, and no body reaches another
//! user's record.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, reply, spawn_app};

/// Properties a client must not be able to choose, with values no server would pick.
fn forged() -> Value {
    json!({
        "slug": "chosen-slug",
        "author": {"username": "prop_victim", "bio": "forged", "following": true},
        "favorited": true,
        "favoritesCount": 999,
        "createdAt": "2000-01-01T00:00:00.000Z",
        "updatedAt": "2000-01-01T00:00:00.000Z",
        "id": 1
    })
}

fn assert_server_owned(article: &Value, caller: &str) {
    assert_eq!(article["author"]["username"], caller, "{article}");
    assert_eq!(article["author"]["following"], false, "{article}");
    assert_ne!(article["author"]["bio"], "forged", "{article}");
    assert_eq!(article["favorited"], false, "{article}");
    assert_eq!(article["favoritesCount"], 0, "{article}");
    assert_ne!(article["slug"], "chosen-slug", "{article}");
    for stamp in ["createdAt", "updatedAt"] {
        let value = article[stamp].as_str().expect("a timestamp");
        assert!(
            !value.starts_with("2000-"),
            "{stamp} was taken from the body: {value}"
        );
    }
    assert!(article.get("id").is_none(), "{article}");
}

#[tokio::test]
async fn article_bodies_cannot_set_author_counts_flags_timestamps_or_slug() {
    let app = spawn_app().await;
    app.register("prop_victim").await;
    let caller = app.register("prop_caller").await;

    let mut create = json!({"title": "Mine", "description": "d", "body": "b", "tagList": []});
    merge(&mut create, forged());
    let created = app
        .post("/articles", Some(&caller), json!({"article": create}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_server_owned(&created.body["article"], "prop_caller");
    let slug = created.body["article"]["slug"]
        .as_str()
        .expect("slug")
        .to_owned();

    let mut update = json!({"body": "edited"});
    merge(&mut update, forged());
    let updated = app
        .put(
            &format!("/articles/{slug}"),
            Some(&caller),
            json!({"article": update}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_server_owned(&updated.body["article"], "prop_caller");
    assert_eq!(updated.body["article"]["slug"], slug.as_str());
    assert_eq!(updated.body["article"]["body"], "edited");

    // The victim's own view of their profile and articles is untouched.
    let victim = app.get("/profiles/prop_victim", None).await;
    assert_ne!(victim.body["profile"]["bio"], "forged");
    let theirs = app.get("/articles?author=prop_victim", None).await;
    assert_eq!(theirs.body["articlesCount"], 0);
    app.cleanup().await;
}

#[tokio::test]
async fn comment_bodies_cannot_choose_their_author_or_id() {
    let app = spawn_app().await;
    app.register("comment_victim").await;
    let caller = app.register("comment_caller").await;
    let slug = app.article(&caller, "Commented", &[]).await;
    let reply = app
        .post(
            &format!("/articles/{slug}/comments"),
            Some(&caller),
            json!({"comment": {"body": "hi", "id": 4242, "author": {"username": "comment_victim"},
                   "createdAt": "2000-01-01T00:00:00.000Z"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let comment = &reply.body["comment"];
    assert_eq!(comment["author"]["username"], "comment_caller");
    assert_ne!(comment["id"], 4242);
    assert!(
        !comment["createdAt"]
            .as_str()
            .expect("a timestamp")
            .starts_with("2000-")
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_user_update_changes_only_the_caller() {
    let app = spawn_app().await;
    let victim = app.register("upd_victim").await;
    let caller = app.register("upd_caller").await;

    // Taking another user's email or username is refused and changes nothing.
    let email = app
        .put(
            "/user",
            Some(&caller),
            json!({"user": {"email": "upd_victim@test.com"}}),
        )
        .await;
    assert_error(&email, 409, "email", "conflict");
    let name = app
        .put(
            "/user",
            Some(&caller),
            json!({"user": {"username": "upd_victim"}}),
        )
        .await;
    assert_error(&name, 409, "username", "conflict");

    // Properties that name another account or a server-owned value are ignored.
    let reply = app
        .put(
            "/user",
            Some(&caller),
            json!({"user": {"bio": "mine", "id": 1, "token": "forged", "following": true}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["user"]["username"], "upd_caller");
    assert_eq!(reply.body["user"]["bio"], "mine");
    assert_ne!(reply.body["user"]["token"], "forged");

    let me = app.get("/user", Some(&victim)).await;
    assert_eq!(me.body["user"]["username"], "upd_victim");
    assert_eq!(me.body["user"]["email"], "upd_victim@test.com");
    assert_ne!(me.body["user"]["bio"], "mine");
    app.cleanup().await;
}

/// Adds `extra`'s properties to `target` (both objects).
fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

/// A new API key's id, token, owner, creation and revocation are the server's, whatever
/// the body says.
#[tokio::test]
async fn an_api_key_body_cannot_choose_its_id_token_owner_or_dates() {
    let app = spawn_app().await;
    let owner = app.register("keyforger").await;
    let created = app
        .post(
            "/api-keys",
            Some(&owner),
            json!({"apiKey": {"name": "forged", "scopes": ["user:read"], "id": "ak_chosen",
                "token": "chosen-token", "userId": 1, "username": "someone_else",
                "createdAt": "2000-01-01T00:00:00Z", "revokedAt": "2000-01-01T00:00:00Z"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = &created.body["apiKey"];
    assert_ne!(key["id"], "ak_chosen");
    assert_ne!(key["token"], "chosen-token");
    assert!(key["revokedAt"].is_null(), "{key}");
    assert!(
        !key["createdAt"]
            .as_str()
            .expect("a date")
            .starts_with("2000-")
    );
    let me = reply(
        app.client
            .get(format!("{}/api/user", app.address))
            .header("X-API-Key", key["token"].as_str().expect("a token"))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(me.body["user"]["username"], "keyforger", "{:?}", me.body);
    app.cleanup().await;
}

/// Another user's email appears nowhere: not in profiles, nor in the authors of
/// articles, lists, the feed or comments. Only `GET /user` shows one, the caller's own.
#[tokio::test]
async fn no_answer_about_someone_else_carries_their_email() {
    let app = spawn_app().await;
    let author = app.register("private_author").await;
    let reader = app.register("private_reader").await;
    let slug = app.article(&author, "Private author", &["private"]).await;
    app.post(
        &format!("/articles/{slug}/comments"),
        Some(&author),
        json!({"comment": {"body": "by the author"}}),
    )
    .await;
    app.post("/profiles/private_author/follow", Some(&reader), json!({}))
        .await;
    for path in [
        "/profiles/private_author".to_owned(),
        format!("/articles/{slug}"),
        "/articles?author=private_author".to_owned(),
        "/articles/feed".to_owned(),
        format!("/articles/{slug}/comments"),
    ] {
        let answer = app.get(&path, Some(&reader)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {:?}", answer.body);
        let text = answer.body.to_string();
        assert!(text.contains("private_author"), "{path}: {text}");
        assert!(!text.contains("private_author@test.com"), "{path}: {text}");
        assert!(!text.contains("\"email\""), "{path}: {text}");
    }
    app.cleanup().await;
}
