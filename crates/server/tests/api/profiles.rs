use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn follow_unfollow_and_viewer_dependent_following() {
    let app = spawn_app().await;
    let fan = app.register("fan").await;
    app.register("celeb").await;
    let anonymous = app.get("/profiles/celeb", None).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(anonymous.body["profile"]["following"], false);
    assert!(anonymous.body["profile"]["bio"].is_null());

    let followed = app
        .call(
            reqwest::Method::POST,
            "/profiles/celeb/follow",
            Some(&fan),
            None,
        )
        .await;
    assert_eq!(followed.status, StatusCode::OK);
    assert_eq!(followed.body["profile"]["following"], true);
    assert_eq!(
        app.get("/profiles/CELEB", Some(&fan)).await.body["profile"]["following"],
        true
    );
    assert_eq!(
        app.get("/profiles/celeb", None).await.body["profile"]["following"],
        false
    );

    let unfollowed = app.delete("/profiles/celeb/follow", Some(&fan)).await;
    assert_eq!(unfollowed.body["profile"]["following"], false);
    assert_eq!(
        app.get("/profiles/celeb", Some(&fan)).await.body["profile"]["following"],
        false
    );

    let myself = app
        .call(
            reqwest::Method::POST,
            "/profiles/fan/follow",
            Some(&fan),
            None,
        )
        .await;
    assert_error(&myself, 403, "profile", "forbidden");
    app.cleanup().await;
}

#[tokio::test]
async fn unknown_profiles_are_404_and_follow_needs_auth() {
    let app = spawn_app().await;
    assert_error(
        &app.get("/profiles/nobody", None).await,
        404,
        "profile",
        "not_found",
    );
    let no_auth = app
        .call(reqwest::Method::POST, "/profiles/nobody/follow", None, None)
        .await;
    assert_error(&no_auth, 401, "token", "token_missing");
    let token = app.register("prober").await;
    assert_error(
        &app.delete("/profiles/nobody/follow", Some(&token)).await,
        404,
        "profile",
        "not_found",
    );
    app.cleanup().await;
}
