use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn register_login_and_current_user() {
    let app = spawn_app().await;
    let reg = app
        .post(
            "/users",
            None,
            json!({"user": {"username": "Jake", "email": "Jake@Test.com", "password": "jakejake"}}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED);
    assert_eq!(reg.body["user"]["username"], "Jake");
    assert_eq!(reg.body["user"]["email"], "Jake@Test.com");
    assert!(reg.body["user"]["bio"].is_null() && reg.body["user"].get("bio").is_some());
    assert!(reg.body["user"]["image"].is_null() && reg.body["user"].get("image").is_some());

    // Login matches the email without regard to case.
    let login = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "jake@test.com", "password": "jakejake"}}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let me = app.get("/user", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["username"], "Jake");

    // `Bearer` is accepted as well as the contract's `Token`.
    let bearer = app
        .client
        .get(format!("{}/api/user", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(bearer.status(), StatusCode::OK);
    app.cleanup().await;
}

#[tokio::test]
async fn registration_errors_follow_the_contract() {
    let app = spawn_app().await;
    let blank = app
        .post(
            "/users",
            None,
            json!({"user": {"username": "", "email": "", "password": ""}}),
        )
        .await;
    assert_error(&blank, 422, "username", "validation_failed");
    assert_eq!(blank.body["errors"]["username"][0], "can't be blank");
    assert_eq!(blank.body["errors"]["email"][0], "can't be blank");
    assert_eq!(blank.body["errors"]["password"][0], "can't be blank");

    app.register("taken").await;
    let same_name = app
        .post("/users", None, json!({"user": {"username": "TAKEN", "email": "new@test.com", "password": "password123"}}))
        .await;
    assert_error(&same_name, 409, "username", "conflict");
    assert_eq!(
        same_name.body["errors"]["username"][0],
        "has already been taken"
    );
    let same_email = app
        .post("/users", None, json!({"user": {"username": "fresh", "email": "TAKEN@test.com", "password": "password123"}}))
        .await;
    assert_error(&same_email, 409, "email", "conflict");

    let short = app
        .post(
            "/users",
            None,
            json!({"user": {"username": "shorty", "email": "s@test.com", "password": "short7c"}}),
        )
        .await;
    assert_error(&short, 422, "password", "validation_failed");
    app.cleanup().await;
}

#[tokio::test]
async fn login_failures() {
    let app = spawn_app().await;
    app.register("known").await;
    let wrong = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "known@test.com", "password": "wrongpassword"}}),
        )
        .await;
    assert_error(&wrong, 401, "credentials", "invalid_credentials");
    assert_eq!(wrong.body["errors"]["credentials"][0], "invalid");
    let unknown = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "ghost@test.com", "password": "password123"}}),
        )
        .await;
    assert_eq!(unknown.body, wrong.body);
    let blank = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "", "password": ""}}),
        )
        .await;
    assert_error(&blank, 422, "email", "validation_failed");
    assert_eq!(blank.body["errors"]["password"][0], "can't be blank");
    app.cleanup().await;
}

#[tokio::test]
async fn missing_and_bad_tokens_are_401() {
    let app = spawn_app().await;
    let missing = app.get("/user", None).await;
    assert_error(&missing, 401, "token", "token_missing");
    assert_eq!(missing.body["errors"]["token"][0], "is missing");
    let bad = app.get("/user", Some("not-a-jwt")).await;
    assert_error(&bad, 401, "token", "token_invalid");
    // Optional-auth endpoints refuse a bad token instead of serving the anonymous view.
    assert_error(
        &app.get("/articles", Some("not-a-jwt")).await,
        401,
        "token",
        "token_invalid",
    );
    app.register("someone").await;
    assert_error(
        &app.get("/profiles/someone", Some("x.y.z")).await,
        401,
        "token",
        "token_invalid",
    );
    let scheme = app
        .client
        .get(format!("{}/api/user", app.address))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect("sent");
    assert_eq!(scheme.status(), StatusCode::UNAUTHORIZED);
    app.cleanup().await;
}

#[tokio::test]
async fn update_user_fields_and_normalisation() {
    let app = spawn_app().await;
    let token = app.register("updater").await;
    let bio = app
        .put(
            "/user",
            Some(&token),
            json!({"user": {"bio": "Hello", "image": "https://example.com/a.jpg"}}),
        )
        .await;
    assert_eq!(bio.status, StatusCode::OK);
    assert_eq!(bio.body["user"]["bio"], "Hello");
    let cleared = app
        .put(
            "/user",
            Some(&token),
            json!({"user": {"bio": "", "image": null}}),
        )
        .await;
    assert!(cleared.body["user"]["bio"].is_null());
    assert!(cleared.body["user"]["image"].is_null());
    assert!(app.get("/user", Some(&token)).await.body["user"]["bio"].is_null());

    for body in [
        json!({"user": {"email": ""}}),
        json!({"user": {"email": null}}),
        json!({"user": {"username": null}}),
        json!({"user": {"password": "short7c"}}),
        json!({"user": {"password": null}}),
        json!({"user": {"image": "javascript:alert(1)"}}),
    ] {
        let reply = app.put("/user", Some(&token), body.clone()).await;
        assert_eq!(reply.status.as_u16(), 422, "{body} -> {:?}", reply.body);
        assert_eq!(reply.body["code"], "validation_failed");
    }

    let renamed = app
        .put("/user", Some(&token), json!({"user": {"username": "renamed", "email": "renamed@test.com", "password": "a-new-password"}}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let new_token = renamed.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.get("/user", Some(&new_token)).await.body["user"]["username"],
        "renamed"
    );
    let login = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "renamed@test.com", "password": "a-new-password"}}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);

    app.register("other").await;
    let clash = app
        .put(
            "/user",
            Some(&new_token),
            json!({"user": {"email": "OTHER@test.com"}}),
        )
        .await;
    assert_error(&clash, 409, "email", "conflict");
    app.cleanup().await;
}
