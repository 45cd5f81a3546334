//! The edge of the API: security headers, CORS, request ids.

use reqwest::{Method, StatusCode, header};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/api/tags", "/api/nope", "/health/live"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cross-origin-resource-policy"], "same-origin");
        assert!(
            headers["permissions-policy"]
                .to_str()
                .expect("ascii")
                .contains("camera=()")
        );
        assert!(
            headers["content-security-policy"]
                .to_str()
                .expect("ascii")
                .contains("frame-ancestors 'none'")
        );
        // Development serves plain HTTP: no HSTS.
        assert!(headers.get("strict-transport-security").is_none(), "{path}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = spawn_app_with(|config| config.http.hsts_max_age_seconds = Some(600)).await;
    let response = app
        .client
        .get(format!("{}/api/tags", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=600; includeSubDomains"
    );
    app.cleanup().await;
}

async fn preflight(app: &crate::helpers::TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, format!("{}/api/articles", app.address))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn cors_allows_listed_origins_and_refuses_others() {
    let app = spawn_app_with(|config| {
        config.http.cors_allowed_origins = Some(vec!["https://app.example.com".into()]);
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com").await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let headers = allowed.headers();
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .expect("ascii")
            .contains("authorization")
    );
    assert!(
        headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .expect("ascii")
            .contains("POST")
    );

    let refused = preflight(&app, "https://evil.example").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["code"], "forbidden");
    assert!(body["errors"]["origin"][0].is_string(), "{body}");

    // A simple request from a foreign page is served, but without CORS headers its
    // page cannot read the answer; a listed origin can, and sees the exposed headers.
    for (origin, readable) in [
        ("https://evil.example", false),
        ("https://app.example.com", true),
    ] {
        let response = app
            .client
            .get(format!("{}/api/tags", app.address))
            .header(header::ORIGIN, origin)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_some(),
            readable
        );
        let vary: Vec<&str> = headers
            .get_all(header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(vary.contains(&"Origin"), "{vary:?}");
        assert!(vary.contains(&"Authorization"), "{vary:?}");
        if readable {
            let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
                .to_str()
                .expect("ascii");
            assert!(exposed.contains("RateLimit") && exposed.contains("x-request-id"));
        }
    }
    app.cleanup().await;
}

#[tokio::test]
async fn development_allows_the_realworld_frontends() {
    let app = spawn_app().await;
    for origin in [
        "http://localhost:4200",
        "http://localhost:3000",
        "http://127.0.0.1:5173",
    ] {
        let response = preflight(&app, origin).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            origin
        );
    }
    assert_eq!(
        preflight(&app, "http://localhost:9999").await.status(),
        StatusCode::FORBIDDEN
    );
    app.cleanup().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let url = format!("{}/api/articles/missing", app.address);
    let echoed = app
        .client
        .get(&url)
        .header("x-request-id", "client-id-123")
        .send()
        .await
        .expect("sent");
    assert_eq!(echoed.status(), StatusCode::NOT_FOUND);
    assert_eq!(echoed.headers()["x-request-id"], "client-id-123");

    let generated = app
        .client
        .get(&url)
        .header("x-request-id", "not an id; drop table")
        .send()
        .await
        .expect("sent");
    let id = generated.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = app.client.get(&url).send().await.expect("sent");
    assert_ne!(other.headers()["x-request-id"].to_str().expect("ascii"), id);
    app.cleanup().await;
}

/// PostgreSQL cannot store a NUL character in text: every text field refuses one with
/// 422 (found by schemathesis as a 503 on `PUT /user`), on every database.
#[tokio::test]
async fn nul_characters_are_refused_before_the_database() {
    let app = spawn_app().await;
    let token = app.register("nul_sender").await;
    let bio = app
        .put(
            "/user",
            Some(&token),
            serde_json::json!({"user": {"bio": "\u{0}ñ"}}),
        )
        .await;
    crate::helpers::assert_error(&bio, 422, "bio", "validation_failed");
    let article = app
        .post(
            "/articles",
            Some(&token),
            serde_json::json!({"article": {"title": "t", "description": "d", "body": "a\u{0}b", "tagList": []}}),
        )
        .await;
    crate::helpers::assert_error(&article, 422, "body", "validation_failed");
    // In filters it simply matches nothing.
    for filter in ["author", "favorited", "tag"] {
        let listed = app
            .get(&format!("/articles?{filter}=nul%00name"), Some(&token))
            .await;
        assert_eq!(listed.status.as_u16(), 200, "{filter}: {:?}", listed.body);
        assert_eq!(listed.body["articlesCount"], 0);
    }
    app.cleanup().await;
}
