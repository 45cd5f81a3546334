//! Refresh-token rotation, sessions and access-token rejection over HTTP.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, reply, spawn_app, spawn_app_with};

/// The key the test server signs with (see `spawn_app`).
const TEST_KEY: &[u8] = b"test-signing-key-of-at-least-32-bytes";

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::Reply {
    app.post("/auth/refresh", None, json!({"refreshToken": token}))
        .await
}

fn tokens_of(reply: &crate::helpers::Reply) -> (String, String) {
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    (
        reply.body["user"]["token"]
            .as_str()
            .expect("token")
            .to_owned(),
        reply.body["user"]["refreshToken"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    )
}

#[tokio::test]
async fn sign_in_gives_a_refresh_token_and_refresh_rotates_it() {
    let app = spawn_app().await;
    let (access, first) = app.sign_up("rotor").await;
    assert!(first.starts_with("rt_") && first.len() > 40);
    // GET /user carries no refresh token.
    let me = app.get("/user", Some(&access)).await;
    assert!(me.body["user"].get("refreshToken").is_none());

    let (access2, second) = tokens_of(&refresh(&app, &first).await);
    assert_ne!(second, first);
    assert_eq!(
        app.get("/user", Some(&access2)).await.body["user"]["username"],
        "rotor"
    );
    let (_, third) = tokens_of(&refresh(&app, &second).await);

    // The first token was retired: presenting it again ends the whole session...
    let reuse = refresh(&app, &first).await;
    assert_error(&reuse, 401, "refreshToken", "refresh_token_invalid");
    // ...so the newest token of that family fails too.
    assert_error(
        &refresh(&app, &third).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    assert_error(
        &refresh(&app, "rt_never-issued").await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    assert_error(
        &app.post("/auth/refresh", None, json!({})).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    app.cleanup().await;
}

#[tokio::test]
async fn parallel_refreshes_of_one_token_without_grace_have_one_winner() {
    let app = spawn_app().await;
    let (_, token) = app.sign_up("racer").await;
    let attempts = (0..8).map(|_| refresh(&app, &token));
    let replies = futures_util::future::join_all(attempts).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "exactly one refresh wins");
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::UNAUTHORIZED)
    );
    app.cleanup().await;
}

#[tokio::test]
async fn within_the_grace_window_concurrent_refreshes_all_succeed() {
    let app = spawn_app_with(|config| config.auth.refresh_grace_seconds = 30).await;
    let (_, token) = app.sign_up("tabs").await;
    let attempts = (0..6).map(|_| refresh(&app, &token));
    let replies = futures_util::future::join_all(attempts).await;
    let issued: Vec<(String, String)> = replies.iter().map(tokens_of).collect();
    let mut distinct: Vec<&String> = issued.iter().map(|(_, r)| r).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "each tab gets its own refresh token");
    // Every tab can go on refreshing.
    for (_, next) in &issued {
        tokens_of(&refresh(&app, next).await);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn sessions_can_be_listed_and_ended() {
    let app = spawn_app().await;
    let (laptop, laptop_refresh) = app.sign_up("owner").await;
    let phone_login = app
        .client
        .post(format!("{}/api/users/login", app.address))
        .header("User-Agent", "ConduitPhone/1.0")
        .json(&json!({"user": {"email": "owner@test.com", "password": "password123"}}))
        .send()
        .await
        .expect("sent");
    let (phone, phone_refresh) = tokens_of(&reply(phone_login).await);

    let listed = app.get("/auth/sessions", Some(&laptop)).await;
    let sessions = listed.body["sessions"]
        .as_array()
        .expect("sessions")
        .clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session = sessions
        .iter()
        .find(|s| s["userAgent"] == "ConduitPhone/1.0")
        .expect("phone");
    let phone_id = phone_session["id"].as_str().expect("id").to_owned();

    // Another user cannot see or end it.
    let stranger = app.register("stranger").await;
    assert_eq!(
        app.get("/auth/sessions", Some(&stranger)).await.body["sessions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_error(
        &app.delete(&format!("/auth/sessions/{phone_id}"), Some(&stranger))
            .await,
        404,
        "session",
        "not_found",
    );
    // The phone's session is untouched: it still refreshes.
    let (_, phone_refresh) = tokens_of(&refresh(&app, &phone_refresh).await);

    // The owner ends it from the laptop: its refresh tokens stop working.
    assert_eq!(
        app.delete(&format!("/auth/sessions/{phone_id}"), Some(&laptop))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &refresh(&app, &phone_refresh).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    assert_eq!(
        app.get("/auth/sessions", Some(&laptop)).await.body["sessions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let _ = phone;

    // Logout ends the laptop's session.
    assert_eq!(
        app.call(Method::POST, "/auth/logout", Some(&laptop), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &refresh(&app, &laptop_refresh).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    assert_error(
        &app.get("/auth/sessions", None).await,
        401,
        "token",
        "token_missing",
    );
    app.cleanup().await;
}

#[tokio::test]
async fn logout_all_and_password_change_end_other_sessions() {
    let app = spawn_app().await;
    let (here, here_refresh) = app.sign_up("careful").await;
    let login = || {
        app.post(
            "/users/login",
            None,
            json!({"user": {"email": "careful@test.com", "password": "password123"}}),
        )
    };
    let (_, elsewhere_refresh) = tokens_of(&login().await);
    let changed = app
        .put(
            "/user",
            Some(&here),
            json!({"user": {"password": "a whole new password"}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_error(
        &refresh(&app, &elsewhere_refresh).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    let (here, _) = tokens_of(&refresh(&app, &here_refresh).await);

    let again = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "careful@test.com", "password": "a whole new password"}}),
        )
        .await;
    let (_, other_refresh) = tokens_of(&again);
    assert_eq!(
        app.call(Method::POST, "/auth/logout-all", Some(&here), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &refresh(&app, &other_refresh).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    app.cleanup().await;
}

fn jwt(header: &Value, claims: &Value, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{claims}");
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(key),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("signed");
    format!("{input}.{signature}")
}

#[tokio::test]
async fn bad_access_tokens_get_401_with_a_challenge() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("target").await;
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).expect("payload"))
            .expect("base64"),
    )
    .expect("claims");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "primary"});

    let mut expired = payload.clone();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let mut tampered_claims = payload.clone();
    tampered_claims["sub"] = json!("999");
    let good_signature = token.rsplit('.').next().expect("signature");
    let tampered = format!(
        "{}.{}.{good_signature}",
        token.split('.').next().expect("header"),
        URL_SAFE_NO_PAD.encode(tampered_claims.to_string())
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "primary"}).to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let cases = [
        ("expired", jwt(&header, &expired, TEST_KEY)),
        (
            "wrong key",
            jwt(&header, &payload, b"another-key-that-is-also-32-bytes-long"),
        ),
        (
            "unknown kid",
            jwt(
                &json!({"alg": "HS256", "kid": "retired"}),
                &payload,
                TEST_KEY,
            ),
        ),
        ("tampered", tampered),
        ("alg none", none),
    ];
    // The control: a token made the same way with the right key is accepted.
    assert_eq!(
        app.get("/user", Some(&jwt(&header, &payload, TEST_KEY)))
            .await
            .status,
        StatusCode::OK
    );
    for (name, bad) in cases {
        let response = app
            .client
            .get(format!("{}/api/user", app.address))
            .header("Authorization", format!("Token {bad}"))
            .send()
            .await
            .expect("sent");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let reply = reply(response).await;
        assert_error(&reply, 401, "token", "token_invalid");
        assert!(
            challenge.is_some_and(|c| c.contains("invalid_token")),
            "{name}: no challenge"
        );
    }
    let missing = app
        .client
        .get(format!("{}/api/user", app.address))
        .send()
        .await
        .expect("sent");
    assert!(missing.headers().get("www-authenticate").is_some());
    app.cleanup().await;
}

#[tokio::test]
async fn browser_mode_keeps_the_refresh_token_in_an_http_only_cookie() {
    let app = spawn_app_with(|config| {
        config.auth.refresh_cookie = true;
        config.auth.refresh_cookie_secure = false;
    })
    .await;
    let register = app
        .client
        .post(format!("{}/api/users", app.address))
        .json(&json!({"user": {"username": "browser", "email": "browser@test.com", "password": "password123"}}))
        .send()
        .await
        .expect("sent");
    let cookie = register.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("conduit_refresh=rt_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/api/auth")
    );
    let body = reply(register).await;
    assert!(
        body.body["user"].get("refreshToken").is_none(),
        "the body must not expose it"
    );
    let value = cookie.split(';').next().expect("pair").to_owned();

    let refreshed = app
        .client
        .post(format!("{}/api/auth/refresh", app.address))
        .header("Cookie", &value)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refreshed.status(), StatusCode::OK);
    let next = refreshed.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(
        next.split(';').next(),
        Some(value.as_str()),
        "the cookie rotates"
    );
    let access = reply(refreshed).await.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    // The old cookie value is now a used token.
    let reused = app
        .client
        .post(format!("{}/api/auth/refresh", app.address))
        .header("Cookie", &value)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    // Reuse ends the whole session: the newest cookie is refused as well.
    let newest = next.split(';').next().expect("a cookie").to_owned();
    let after_reuse = app
        .client
        .post(format!("{}/api/auth/refresh", app.address))
        .header("Cookie", &newest)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(after_reuse.status(), StatusCode::UNAUTHORIZED);
    // And so is the access token that refresh gave (ADR 0009).
    assert_eq!(
        app.get("/user", Some(&access)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Signing out of a live session clears the cookie.
    let login = app
        .client
        .post(format!("{}/api/users/login", app.address))
        .json(&json!({"user": {"email": "browser@test.com", "password": "password123"}}))
        .send()
        .await
        .expect("sent");
    assert!(login.headers().get("set-cookie").is_some());
    let access = reply(login).await.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let out = app
        .client
        .post(format!("{}/api/auth/logout", app.address))
        .header("Authorization", format!("Token {access}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .is_ok_and(|c| c.contains("Max-Age=0"))
    );
    app.cleanup().await;
}

/// A session unused for `auth.session_idle_seconds` ends: its refresh token is refused.
/// Refreshing in time keeps it alive, until `auth.session_absolute_seconds` after
/// sign-in, when it ends however often it was refreshed.
#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_lifetime() {
    let app = spawn_app_with(|config| {
        config.auth.session_idle_seconds = 2;
        config.auth.session_absolute_seconds = 4;
    })
    .await;
    let (_, idle) = app.sign_up("idler").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_error(
        &refresh(&app, &idle).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );

    let (_, mut kept) = app.sign_up("keeper").await;
    // Refreshed every second for three seconds, the session outlives its idle time...
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        kept = tokens_of(&refresh(&app, &kept).await).1;
    }
    // ...but not its absolute lifetime: 4.5 s after sign-in, 1.5 s after the last use.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_error(
        &refresh(&app, &kept).await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    app.cleanup().await;
}
