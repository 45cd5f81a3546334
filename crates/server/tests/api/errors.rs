//! Failures before any handler runs still answer in the standard shape.

use reqwest::StatusCode;

use crate::helpers::{assert_error, reply, spawn_app};

#[tokio::test]
async fn malformed_json_wrong_type_and_wrong_shape() {
    let app = spawn_app().await;
    let url = format!("{}/api/users", app.address);
    let malformed = reply(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"user\": ")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&malformed, 400, "body", "malformed_json");

    let wrong_type = reply(
        app.client
            .post(&url)
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&wrong_type, 415, "content-type", "unsupported_media_type");

    let wrong_shape = reply(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"user": {"email": 5}}"#)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    // Each field of the wrong type or missing is named (ADR 0006).
    assert_error(&wrong_shape, 422, "email", "validation_failed");
    assert_eq!(wrong_shape.body["errors"]["email"][0], "must be a string");
    assert_eq!(wrong_shape.body["errors"]["username"][0], "is missing");

    let not_an_object = reply(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body("[1]")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&not_an_object, 422, "body", "validation_failed");

    let empty = reply(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.cleanup().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_oversized_bodies() {
    let app = spawn_app().await;
    let unknown = reply(
        app.client
            .get(format!("{}/api/nope", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&unknown, 404, "route", "route_not_found");
    let outside = reply(
        app.client
            .get(format!("{}/nope", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&outside, 404, "route", "route_not_found");
    let method = reply(
        app.client
            .patch(format!("{}/api/tags", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&method, 405, "method", "method_not_allowed");
    let allow = app
        .client
        .delete(format!("{}/api/articles/feed", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(allow.status().as_u16(), 405);
    assert_eq!(allow.headers()["allow"], "GET, HEAD, OPTIONS");

    let huge = format!(
        r#"{{"user": {{"email": "{}"}}}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let too_large = reply(
        app.client
            .post(format!("{}/api/users/login", app.address))
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_error(&too_large, 413, "body", "payload_too_large");
    app.cleanup().await;
}

#[tokio::test]
async fn openapi_document_is_served() {
    let app = spawn_app().await;
    let spec = reply(
        app.client
            .get(format!("{}/openapi.json", app.address))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(
        spec.body["paths"]["/articles/{slug}"].is_object(),
        "{:?}",
        spec.body["paths"]
    );
    assert_eq!(
        spec.body["components"]["securitySchemes"]["Token"]["in"],
        "header"
    );
    app.cleanup().await;
}
