//! The edge of the API: security headers, CORS, request ids, and clients that send too
//! much or too slowly.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Writes `parts` to a new connection, `pause` apart (ignoring writes the server no
/// longer reads), then returns everything the server sends until it closes the
/// connection or 10 s pass, and when that ended.
async fn raw_exchange(app: &TestApp, parts: &[Vec<u8>], pause: Duration) -> (String, Instant) {
    let authority = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).await.expect("connects");
    let (mut reading, mut writing) = stream.split();
    let read = async {
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), reading.read_to_end(&mut answer)).await;
        (
            String::from_utf8_lossy(&answer).into_owned(),
            Instant::now(),
        )
    };
    let write = async {
        for (n, part) in parts.iter().enumerate() {
            if n > 0 {
                tokio::time::sleep(pause).await;
            }
            if writing.write_all(part).await.is_err() {
                break;
            }
        }
    };
    let ((answer, ended), ()) = tokio::join!(read, write);
    (answer, ended)
}

/// The headers as the lines of a raw response.
fn head_of(headers: &header::HeaderMap) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or("")))
        .collect()
}

/// The security headers every answer carries, in any casing of the raw response.
fn assert_security_headers(head: &str, what: &str) {
    let head = head.to_lowercase();
    for header in [
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "x-frame-options: deny",
        "cross-origin-resource-policy: same-origin",
        "content-security-policy: ",
        "permissions-policy: ",
        "x-request-id: ",
    ] {
        assert!(head.contains(header), "{what}: no {header} in\n{head}");
    }
}

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

/// The security headers, value for value and each once, on a probe and on a read, and
/// the 401 challenges with and without credentials: what the middleware writes on every
/// answer (its names and values are made once, at start-up).
#[tokio::test]
async fn security_header_values_are_pinned() {
    let app = spawn_app().await;
    for path in ["/health/live", "/api/articles"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .header("x-request-id", "pinned-id")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            (
                "permissions-policy",
                "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), \
                 microphone=(), payment=(), usb=(), interest-cohort=()",
            ),
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
            ("x-request-id", "pinned-id"),
        ] {
            let sent: Vec<_> = response.headers().get_all(name).iter().collect();
            assert_eq!(sent, [value], "{path}: {name}");
        }
    }
    for (credentials, challenge) in [
        (None, r#"Token realm="conduit", Bearer realm="conduit""#),
        (
            Some("Token not-a-token"),
            r#"Token realm="conduit", error="invalid_token", Bearer realm="conduit", error="invalid_token""#,
        ),
    ] {
        let mut request = app.client.get(format!("{}/api/user", app.address));
        if let Some(credentials) = credentials {
            request = request.header("authorization", credentials);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let sent: Vec<_> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .collect();
        assert_eq!(sent, [challenge], "{credentials:?}");
    }
    // A generated request id: 32 lowercase hexadecimal digits.
    let response = app
        .client
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .expect("sent");
    let id = response.headers()["x-request-id"].to_str().expect("ascii");
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    app.cleanup().await;
}

/// Refusals carry the headers too: they are set outside everything that can refuse.
#[tokio::test]
async fn every_error_answer_carries_the_security_headers() {
    let app = spawn_app_with(|config| config.server.body_limit_bytes = 1024).await;
    let json = "application/json";
    let cases = [
        ("401", Method::GET, "/api/user", None, None),
        ("405", Method::PATCH, "/api/tags", None, None),
        (
            "400",
            Method::POST,
            "/api/users/login",
            Some("{not json"),
            Some(json),
        ),
        ("422", Method::GET, "/api/articles?limit=0", None, None),
        (
            "413",
            Method::POST,
            "/api/users/login",
            Some(&*"x".repeat(2048)),
            Some(json),
        ),
    ];
    for (status, method, path, body, content_type) in cases {
        let mut request = app
            .client
            .request(method.clone(), format!("{}{path}", app.address));
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status().as_str(), status, "{method} {path}");
        let head = head_of(response.headers());
        assert_security_headers(&head, status);
    }
    app.cleanup().await;
}

/// A chunked body (no `Content-Length`) is counted as it arrives: past the limit it is
/// 413, in the standard shape, like a declared one.
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let app = spawn_app_with(|config| config.server.body_limit_bytes = 1024).await;
    let chunk = "x".repeat(700);
    let request = format!(
        "POST /api/users/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {size:x}\r\n{chunk}\r\n{size:x}\r\n{chunk}\r\n0\r\n\r\n",
        size = chunk.len()
    );
    let (answer, _) = raw_exchange(&app, &[request.into_bytes()], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    assert_security_headers(&answer, "chunked 413");
    app.cleanup().await;
}

/// A client that sends its body a byte at a time is answered 503 at the request time
/// limit, not whenever it finishes.
#[tokio::test]
async fn a_body_sent_too_slowly_is_503_at_the_time_limit() {
    let app = spawn_app_with(|config| config.server.request_timeout_seconds = 1).await;
    let body = r#"{"user": {"email": "slow@test.com", "password": "password123"}}"#;
    let mut parts = vec![
        format!(
            "POST /api/users/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes(),
    ];
    parts.extend(body.bytes().map(|byte| vec![byte]));
    let started = Instant::now();
    // Sent in full, this would take 13 s.
    let (answer, ended) = raw_exchange(&app, &parts, Duration::from_millis(200)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"unavailable""#), "{answer}");
    assert_security_headers(&answer, "slow body 503");
    assert!(
        ended - started < Duration::from_secs(5),
        "answered after {:?}",
        ended - started
    );
    app.cleanup().await;
}

/// A connection that starts a request and then sends nothing (slowloris) is closed once
/// it has been idle for `server.idle_timeout_seconds`, so it cannot hold a connection
/// for ever; a connection that keeps sending is not cut while it is active.
#[tokio::test]
async fn a_connection_that_stops_sending_is_closed() {
    let app = spawn_app_with(|config| config.server.idle_timeout_seconds = 1).await;
    let started = Instant::now();
    let (answer, ended) = raw_exchange(
        &app,
        &[b"GET /api/tags HTTP/1.1\r\nHost: test\r\nX-Slow: ".to_vec()],
        Duration::ZERO,
    )
    .await;
    assert!(!answer.contains(" 200 "), "{answer}");
    assert!(
        ended - started < Duration::from_secs(5),
        "still open after {:?}",
        ended - started
    );
    // Headers trickled in faster than the idle timeout still make a request.
    let parts: Vec<Vec<u8>> = "GET /api/tags HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        .as_bytes()
        .chunks(8)
        .map(<[u8]>::to_vec)
        .collect();
    let (answer, _) = raw_exchange(&app, &parts, Duration::from_millis(100)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
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

/// With `environment = production` and nothing else set, the edge is closed: HSTS for a
/// year on every answer, errors included, and no browser origin (not even the
/// development frontends) gets CORS access.
#[tokio::test]
async fn production_sends_hsts_and_allows_no_origin_by_default() {
    let app = spawn_app_with(|config| {
        config.environment = conduit_server::config::Environment::Production;
        config.auth.api_key_private_key = Some(conduit_server::config::Secret("2".repeat(64)));
    })
    .await;
    for path in ["/api/tags", "/api/user", "/api/nope", "/health/live"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .header(header::ORIGIN, "http://localhost:4200")
            .send()
            .await
            .expect("sent");
        let head = head_of(response.headers());
        assert_security_headers(&head, path);
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
        assert!(
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{path}"
        );
    }
    assert_eq!(
        preflight(&app, "http://localhost:4200").await.status(),
        StatusCode::FORBIDDEN
    );
    app.cleanup().await;
}
