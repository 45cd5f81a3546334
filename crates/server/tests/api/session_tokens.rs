//! Access tokens bound to their session (ADR 0009): a client that only ever sends the
//! contract's `user.token` keeps working for as long as its session lives, and stops
//! at once when the session ends, however it ends.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Reply, TestApp, assert_error, spawn_app_behind_redis_relay, spawn_app_with};

/// A server whose access tokens have a freshness window of one second.
async fn short_tokens() -> TestApp {
    spawn_app_with(|config| config.auth.token_ttl_seconds = 1).await
}

fn assert_signed_out(reply: &Reply) {
    assert_error(reply, 401, "token", "token_invalid");
}

async fn login(app: &TestApp, name: &str) -> (String, String) {
    let reply = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": format!("{name}@test.com"), "password": "password123"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let field = |name: &str| reply.body["user"][name].as_str().expect(name).to_owned();
    (field("token"), field("refreshToken"))
}

/// The case: past the access-token lifetime, the sign-in token still publishes
/// an article and comments on it; right after logout the same token is refused.
#[tokio::test]
async fn a_contract_only_client_works_past_the_token_lifetime_until_logout() {
    let app = short_tokens().await;
    let (token, _) = app.sign_up("steady").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let slug = app
        .article(&token, "Written after an hour", &["late"])
        .await;
    let comment = app
        .post(
            &format!("/articles/{slug}/comments"),
            Some(&token),
            json!({"comment": {"body": "still here"}}),
        )
        .await;
    assert_eq!(comment.status, StatusCode::CREATED, "{:?}", comment.body);
    let me = app.get("/user", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);

    let out = app
        .call(Method::POST, "/auth/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_signed_out(&app.get("/user", Some(&token)).await);
    assert_signed_out(
        &app.post(
            &format!("/articles/{slug}/comments"),
            Some(&token),
            json!({"comment": {"body": "after logout"}}),
        )
        .await,
    );
    // An optional-auth read with the dead token is 401 too, not the anonymous view.
    assert_signed_out(&app.get("/articles", Some(&token)).await);
    app.cleanup().await;
}

/// Every way a session ends stops its access tokens at once: logout-all, ending the
/// session from another sign-in, a password change (other sessions), and refresh-token
/// reuse.
#[tokio::test]
async fn every_way_a_session_ends_stops_its_access_tokens_at_once() {
    let app = spawn_app_with(|_| {}).await;
    let (first, _) = app.sign_up("ender").await;

    // Ended from another sign-in.
    let (second, _) = login(&app, "ender").await;
    let listed = app.get("/auth/sessions", Some(&second)).await;
    let other = listed.body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("the first sign-in")
        .to_owned();
    assert_eq!(app.get("/user", Some(&first)).await.status, StatusCode::OK);
    let ended = app
        .delete(&format!("/auth/sessions/{other}"), Some(&second))
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{:?}", ended.body);
    assert_signed_out(&app.get("/user", Some(&first)).await);
    assert_eq!(app.get("/user", Some(&second)).await.status, StatusCode::OK);

    // A password change ends every other session, not this one.
    let (third, _) = login(&app, "ender").await;
    let changed = app
        .put(
            "/user",
            Some(&second),
            json!({"user": {"password": "password123"}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_signed_out(&app.get("/user", Some(&third)).await);
    assert_eq!(app.get("/user", Some(&second)).await.status, StatusCode::OK);

    // Refresh-token reuse ends the session (the test server has no grace window).
    let (fourth, fourth_refresh) = login(&app, "ender").await;
    let rotated = app
        .post(
            "/auth/refresh",
            None,
            json!({"refreshToken": fourth_refresh}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let newest = rotated.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let reused = app
        .post(
            "/auth/refresh",
            None,
            json!({"refreshToken": fourth_refresh}),
        )
        .await;
    assert_error(&reused, 401, "refreshToken", "refresh_token_invalid");
    assert_signed_out(&app.get("/user", Some(&fourth)).await);
    assert_signed_out(&app.get("/user", Some(&newest)).await);

    // Logout-all ends the rest.
    let all = app
        .call(Method::POST, "/auth/logout-all", Some(&second), None)
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT, "{:?}", all.body);
    assert_signed_out(&app.get("/user", Some(&second)).await);
    app.cleanup().await;
}

/// Clients that refresh keep working as before; the access token a refresh replaced
/// works through its freshness window and not after, while the new one goes on.
#[tokio::test]
async fn a_refresh_supersedes_older_access_tokens_after_their_window() {
    let app = short_tokens().await;
    let (old, refresh) = app.sign_up("rotating").await;
    // Refreshed in a later second than the sign-in token's `iat`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = app
        .post("/auth/refresh", None, json!({"refreshToken": refresh}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new = rotated.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(app.get("/user", Some(&new)).await.status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_signed_out(&app.get("/user", Some(&old)).await);
    assert_eq!(app.get("/user", Some(&new)).await.status, StatusCode::OK);
    app.cleanup().await;
}

/// Using the access token counts as using the session: a token-only client active more
/// often than the idle lifetime keeps its session past it; once idle that long, the
/// session ends (for its refresh token too), and its absolute lifetime ends it anyway.
#[tokio::test]
async fn token_use_keeps_a_session_from_going_idle_but_not_past_its_end() {
    let app = spawn_app_with(|config| {
        config.auth.session_idle_seconds = 2;
        config.auth.session_absolute_seconds = 6;
    })
    .await;
    let (busy, _) = app.sign_up("busy").await;
    let (idle, idle_refresh) = app.sign_up("idle").await;
    // Four seconds of use every 0.8 s: twice the idle lifetime.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let me = app.get("/user", Some(&busy)).await;
        assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    }
    assert_signed_out(&app.get("/user", Some(&idle)).await);
    assert_error(
        &app.post("/auth/refresh", None, json!({"refreshToken": idle_refresh}))
            .await,
        401,
        "refreshToken",
        "refresh_token_invalid",
    );
    // Past the absolute lifetime (6 s after sign-in), however busy: still used every
    // half second, it stops within the next 4 s.
    let mut last = app.get("/user", Some(&busy)).await;
    for _ in 0..8 {
        if last.status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        last = app.get("/user", Some(&busy)).await;
    }
    assert_signed_out(&last);
    app.cleanup().await;
}

/// Sessions in Redis, and Redis gone: a token within its freshness window still acts
/// (on its signature, as before tokens were bound to sessions); an older one is 503, a
/// retry-later, never a sign-out; with Redis back, the older one works again.
#[tokio::test]
async fn a_session_store_outage_is_never_a_sign_out() {
    let Some((app, relay)) =
        spawn_app_behind_redis_relay(|config| config.auth.token_ttl_seconds = 2).await
    else {
        return;
    };
    let (token, _) = app.sign_up("outage").await;
    relay.cut();
    let fresh = app.get("/user", Some(&token)).await;
    assert_eq!(fresh.status, StatusCode::OK, "{:?}", fresh.body);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let stale = app.get("/user", Some(&token)).await;
    assert_error(&stale, 503, "server", "unavailable");

    relay.restore().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let back = app.get("/user", Some(&token)).await;
        if back.status == StatusCode::OK {
            break;
        }
        assert_error(&back, 503, "server", "unavailable");
        assert!(
            std::time::Instant::now() < deadline,
            "Redis never came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.cleanup().await;
}
