//! API keys over HTTP: scopes, attenuation, revocation, expiry.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, assert_error, spawn_app, with_key};

async fn create_key(
    app: &TestApp,
    token: &str,
    scopes: &[&str],
    expires_at: Option<&str>,
) -> Reply {
    let mut key = json!({"name": "bot", "scopes": scopes});
    if let Some(expires_at) = expires_at {
        key["expiresAt"] = json!(expires_at);
    }
    app.post("/api-keys", Some(token), json!({"apiKey": key}))
        .await
}

fn article(title: &str) -> Value {
    json!({"article": {"title": title, "description": "d", "body": "b"}})
}

#[tokio::test]
async fn a_key_acts_as_its_owner_within_its_scopes() {
    let app = spawn_app().await;
    let owner = app.register("keyowner").await;
    let slug = app.article(&owner, "Owned", &[]).await;
    let created = create_key(&app, &owner, &["comments:write", "user:read"], None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["apiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        created.body["apiKey"]["scopes"],
        json!(["comments:write", "user:read"])
    );

    let listed = app.get("/api-keys", Some(&owner)).await;
    assert_eq!(listed.body["apiKeys"].as_array().map(Vec::len), Some(1));
    assert!(
        listed.body["apiKeys"][0].get("token").is_none(),
        "the token is shown only once"
    );

    // comments:write allows commenting, as the owner...
    let comment = with_key(
        &app,
        Method::POST,
        &format!("/articles/{slug}/comments"),
        &key,
        Some(json!({"comment": {"body": "via key"}})),
    )
    .await;
    assert_eq!(comment.status, StatusCode::CREATED, "{:?}", comment.body);
    assert_eq!(comment.body["comment"]["author"]["username"], "keyowner");
    // ...but not creating an article.
    let denied = with_key(&app, Method::POST, "/articles", &key, Some(article("Nope"))).await;
    assert_error(&denied, 403, "apiKey", "insufficient_scope");
    assert_eq!(
        denied.body["errors"]["apiKey"][0],
        "does not allow articles:write"
    );
    // user:read shows the account; the token in the answer is the key itself.
    let me = with_key(&app, Method::GET, "/user", &key, None).await;
    assert_eq!(me.body["user"]["username"], "keyowner");
    assert_eq!(me.body["user"]["token"], key.as_str());
    // Keys cannot manage keys or change credentials.
    let nested = with_key(
        &app,
        Method::POST,
        "/api-keys",
        &key,
        Some(json!({"apiKey": {"name": "x", "scopes": ["user:read"]}})),
    )
    .await;
    assert_error(&nested, 401, "token", "token_missing");
    app.cleanup().await;
}

#[tokio::test]
async fn revoked_expired_and_foreign_keys_get_401() {
    let app = spawn_app().await;
    let owner = app.register("revoker").await;
    let key_reply = create_key(&app, &owner, &["articles:write"], None).await;
    let key = key_reply.body["apiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let id = key_reply.body["apiKey"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        with_key(
            &app,
            Method::POST,
            "/articles",
            &key,
            Some(article("First"))
        )
        .await
        .status,
        StatusCode::CREATED
    );

    // Another user cannot revoke it.
    let stranger = app.register("stranger").await;
    assert_error(
        &app.delete(&format!("/api-keys/{id}"), Some(&stranger))
            .await,
        404,
        "apiKey",
        "not_found",
    );
    assert_eq!(
        app.delete(&format!("/api-keys/{id}"), Some(&owner))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let revoked = with_key(
        &app,
        Method::POST,
        "/articles",
        &key,
        Some(article("Second")),
    )
    .await;
    assert_error(&revoked, 401, "apiKey", "api_key_invalid");
    let listed = app.get("/api-keys", Some(&owner)).await;
    assert!(listed.body["apiKeys"][0]["revokedAt"].is_string());

    // Expiry: a key that expires in a moment stops working once it has.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatted");
    let short = create_key(&app, &owner, &["articles:write"], Some(&soon)).await;
    let short = short.body["apiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        with_key(
            &app,
            Method::POST,
            "/articles",
            &short,
            Some(article("Quick"))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_error(
        &with_key(
            &app,
            Method::POST,
            "/articles",
            &short,
            Some(article("Late")),
        )
        .await,
        401,
        "apiKey",
        "api_key_invalid",
    );

    // Garbage and past expiries.
    assert_error(
        &with_key(
            &app,
            Method::POST,
            "/articles",
            "not-a-biscuit",
            Some(article("X")),
        )
        .await,
        401,
        "apiKey",
        "api_key_invalid",
    );
    let past = create_key(
        &app,
        &owner,
        &["articles:write"],
        Some("2020-01-01T00:00:00Z"),
    )
    .await;
    assert_error(&past, 422, "expiresAt", "validation_failed");
    let unknown = create_key(&app, &owner, &["articles:read"], None).await;
    assert_error(&unknown, 422, "scopes", "validation_failed");
    app.cleanup().await;
}

/// `user:write` lets a key change the profile, never the credentials: an email or a
/// password in the body refuses the whole update, and nothing of it is applied.
#[tokio::test]
async fn a_user_write_key_changes_the_profile_but_not_the_email_or_password() {
    let app = spawn_app().await;
    let owner = app.register("profilekey").await;
    let (key, _) = app.api_key(&owner, &["user:write"]).await;
    let update = |user: Value| json!({"user": user});

    let profile = with_key(
        &app,
        Method::PUT,
        "/user",
        &key,
        Some(update(
            json!({"bio": "set by a key", "username": "renamedbykey"}),
        )),
    )
    .await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    assert_eq!(profile.body["user"]["bio"], "set by a key");
    assert_eq!(profile.body["user"]["username"], "renamedbykey");

    for credentials in [
        json!({"email": "taken-over@test.com"}),
        json!({"password": "taken-over-123"}),
        json!({"bio": "not applied", "email": "taken-over@test.com"}),
        json!({"bio": "not applied", "password": "taken-over-123"}),
    ] {
        let refused = with_key(&app, Method::PUT, "/user", &key, Some(update(credentials))).await;
        assert_error(&refused, 403, "user", "forbidden");
    }
    let me = app.get("/user", Some(&owner)).await;
    assert_eq!(me.body["user"]["email"], "profilekey@test.com");
    assert_eq!(me.body["user"]["bio"], "set by a key");
    let login = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "profilekey@test.com", "password": "password123"}}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "the password is unchanged");
    // The owner's session may change both.
    let own = app
        .put(
            "/user",
            Some(&owner),
            update(json!({"email": "moved@test.com", "password": "new-password-123"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
    app.cleanup().await;
}

/// `favorites:write` allows favoriting and unfavoriting, and no other write.
#[tokio::test]
async fn a_favorites_key_favorites_and_nothing_else() {
    let app = spawn_app().await;
    let author = app.register("favauthor").await;
    let slug = app.article(&author, "Liked", &[]).await;
    let owner = app.register("favowner").await;
    let (key, _) = app.api_key(&owner, &["favorites:write"]).await;
    let path = format!("/articles/{slug}/favorite");
    let favorited = with_key(&app, Method::POST, &path, &key, None).await;
    assert_eq!(favorited.status, StatusCode::OK, "{:?}", favorited.body);
    assert_eq!(favorited.body["article"]["favoritesCount"], 1);
    let read = app.get(&format!("/articles/{slug}"), Some(&owner)).await;
    assert_eq!(read.body["article"]["favorited"], true, "as the owner");
    let unfavorited = with_key(&app, Method::DELETE, &path, &key, None).await;
    assert_eq!(unfavorited.body["article"]["favoritesCount"], 0);
    let follow = with_key(&app, Method::POST, "/profiles/favauthor/follow", &key, None).await;
    assert_error(&follow, 403, "apiKey", "insufficient_scope");
    app.cleanup().await;
}

#[tokio::test]
async fn attenuated_keys_cannot_exceed_their_parent() {
    let app = spawn_app().await;
    let owner = app.register("attenuator").await;
    let slug = app.article(&owner, "Target", &[]).await;
    let parent = create_key(&app, &owner, &["articles:write", "comments:write"], None).await;
    let parent = parent.body["apiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // The holder narrows the key offline, with the Biscuit library, no server involved.
    let unverified = biscuit_auth::UnverifiedBiscuit::from_base64(&parent).expect("parsed");
    let block = biscuit_auth::builder::BlockBuilder::new()
        .code(r#"check if operation($op), ["comments:write"].contains($op);"#)
        .expect("datalog");
    let narrowed = unverified
        .append(block)
        .expect("attenuated")
        .to_base64()
        .expect("encoded");

    let comment = with_key(
        &app,
        Method::POST,
        &format!("/articles/{slug}/comments"),
        &narrowed,
        Some(json!({"comment": {"body": "narrow"}})),
    )
    .await;
    assert_eq!(comment.status, StatusCode::CREATED, "{:?}", comment.body);
    let article_reply = with_key(
        &app,
        Method::POST,
        "/articles",
        &narrowed,
        Some(article("Wide")),
    )
    .await;
    assert_error(&article_reply, 403, "apiKey", "insufficient_scope");
    // The parent still has both scopes.
    assert_eq!(
        with_key(
            &app,
            Method::POST,
            "/articles",
            &parent,
            Some(article("Parent"))
        )
        .await
        .status,
        StatusCode::CREATED
    );

    // An attenuation that tries to add a right gains nothing.
    let widen = biscuit_auth::builder::BlockBuilder::new()
        .code(r#"right("follows:write");"#)
        .expect("datalog");
    let widened = biscuit_auth::UnverifiedBiscuit::from_base64(&parent)
        .expect("parsed")
        .append(widen)
        .expect("attenuated")
        .to_base64()
        .expect("encoded");
    app.register("celebrity").await;
    let follow = with_key(
        &app,
        Method::POST,
        "/profiles/celebrity/follow",
        &widened,
        None,
    )
    .await;
    assert_error(&follow, 403, "apiKey", "insufficient_scope");

    // An earlier expiry added offline is honoured.
    let expired = biscuit_auth::UnverifiedBiscuit::from_base64(&parent)
        .expect("parsed")
        .append(
            biscuit_auth::builder::BlockBuilder::new()
                .code("check if time($t), $t <= 2020-01-01T00:00:00Z;")
                .expect("datalog"),
        )
        .expect("attenuated")
        .to_base64()
        .expect("encoded");
    assert_error(
        &with_key(
            &app,
            Method::POST,
            "/articles",
            &expired,
            Some(article("Old")),
        )
        .await,
        401,
        "apiKey",
        "api_key_invalid",
    );
    app.cleanup().await;
}
