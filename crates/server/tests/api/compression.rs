//! Response compression (ADR 0024): the coding chosen from `Accept-Encoding`, bodies
//! that decode to exactly the unencoded answer, the threshold, `Vary`, and conditional
//! requests with the tags of encoded and unencoded answers.

use std::io::Read;

use reqwest::{
    StatusCode,
    header::{HeaderMap, HeaderValue},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// An answer's status, headers and raw (still encoded) body.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn vary(&self) -> Vec<String> {
        self.headers
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect()
    }

    /// The body decoded as its `Content-Encoding` says, with real decoders.
    fn decoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.header("content-encoding") {
            None => out.clone_from(&self.body),
            Some("br") => {
                brotli::Decompressor::new(&self.body[..], 4096)
                    .read_to_end(&mut out)
                    .expect("a Brotli body");
            }
            Some("gzip") => {
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .expect("a gzip body");
            }
            Some("zstd") => out = zstd::stream::decode_all(&self.body[..]).expect("a zstd body"),
            Some(other) => panic!("unexpected Content-Encoding {other}"),
        }
        out
    }
}

/// `GET {path}` (a full path) with the given request headers.
async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Raw {
    send(app, reqwest::Method::GET, path, headers, None).await
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Raw {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body").to_vec();
    Raw {
        status,
        headers,
        body,
    }
}

/// An app with enough articles that the first page is well above the 1 KiB threshold.
async fn app_with_articles() -> TestApp {
    let app = spawn_app().await;
    let token = app.register("writer").await;
    for n in 0..6 {
        app.article(
            &token,
            &format!("A long enough title number {n}"),
            &["rust", "http"],
        )
        .await;
    }
    app
}

#[tokio::test]
async fn every_coding_decodes_to_exactly_the_unencoded_json() {
    let app = app_with_articles().await;
    let plain = get(&app, "/api/articles", &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.body.len() > 1024, "{} bytes", plain.body.len());
    // The unencoded answer varies too: a cache must not give it to a client that asked
    // for Brotli, nor the Brotli one to a client that did not.
    assert!(
        plain.vary().contains(&"accept-encoding".to_owned()),
        "{:?}",
        plain.vary()
    );
    let tag = plain.header("etag").expect("an etag").to_owned();
    assert!(tag.starts_with('"'), "{tag}");
    let articles: Value = serde_json::from_slice(&plain.body).expect("json");
    assert_eq!(articles["articlesCount"], 6);

    for coding in ["br", "gzip", "zstd"] {
        let encoded = get(&app, "/api/articles", &[("accept-encoding", coding)]).await;
        assert_eq!(encoded.status, StatusCode::OK, "{coding}");
        assert_eq!(encoded.header("content-encoding"), Some(coding));
        assert_eq!(
            encoded.header("content-length"),
            Some(encoded.body.len().to_string().as_str()),
            "{coding}: Content-Length is the encoded length"
        );
        assert!(
            encoded.body.len() * 3 < plain.body.len(),
            "{coding}: {} of {} bytes",
            encoded.body.len(),
            plain.body.len()
        );
        assert_eq!(encoded.decoded(), plain.body, "{coding}");
        assert_eq!(
            encoded.header("content-type"),
            plain.header("content-type"),
            "{coding}"
        );
        // Same representation once decoded: the same tag, weak.
        assert_eq!(encoded.header("etag"), Some(format!("W/{tag}").as_str()));
        assert!(encoded.vary().contains(&"accept-encoding".to_owned()));
        // Twice (the second from the memo of encoded bodies): the same bytes.
        let again = get(&app, "/api/articles", &[("accept-encoding", coding)]).await;
        assert_eq!(again.body, encoded.body, "{coding}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn q_values_choose_the_coding_and_zero_refuses() {
    let app = app_with_articles().await;
    let cases = [
        ("br;q=0.2, gzip;q=0.9, zstd;q=0.5", Some("gzip")),
        ("gzip;q=0.1, zstd;q=0.3, br;q=0.2", Some("zstd")),
        ("gzip;q=0.5, br", Some("br")),
        ("gzip;q=0, identity", None),
        ("br;q=0, gzip;q=0, zstd;q=0", None),
        ("*;q=0", None),
        ("gzip;q=0.5, identity;q=1", None),
        ("zstd, *;q=0", Some("zstd")),
        ("br;q=0, zstd;q=0, *", Some("gzip")),
        ("deflate, compress", None),
        ("identity", None),
    ];
    for (accept, expected) in cases {
        let answer = get(&app, "/api/articles", &[("accept-encoding", accept)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{accept}");
        assert_eq!(answer.header("content-encoding"), expected, "{accept}");
        let articles: Value = serde_json::from_slice(&answer.decoded()).expect("json");
        assert_eq!(articles["articlesCount"], 6, "{accept}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn bodies_below_the_threshold_are_not_compressed() {
    let app = app_with_articles().await;
    // A short answer (two tags): under 1 KiB.
    let tags = get(&app, "/api/tags", &[("accept-encoding", "br, gzip, zstd")]).await;
    assert_eq!(tags.status, StatusCode::OK);
    assert!(tags.body.len() < 1024, "{} bytes", tags.body.len());
    assert_eq!(tags.header("content-encoding"), None);
    assert!(!tags.vary().contains(&"accept-encoding".to_owned()));
    let tags: Value = serde_json::from_slice(&tags.body).expect("plain json");
    assert_eq!(tags["tags"].as_array().map(Vec::len), Some(2));
    app.cleanup().await;

    // The threshold is a setting: one article (a few hundred bytes) is compressed
    // above 100 bytes.
    let app = spawn_app_with(|config| config.http.compression_min_bytes = 100).await;
    let token = app.register("writer").await;
    let slug = app.article(&token, "A single article", &["one"]).await;
    let path = format!("/api/articles/{slug}");
    let plain = get(&app, &path, &[]).await;
    assert!(plain.body.len() > 100 && plain.body.len() < 1024);
    let article = get(&app, &path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(article.status, StatusCode::OK);
    assert_eq!(article.header("content-encoding"), Some("gzip"));
    assert_eq!(article.decoded(), plain.body);
    app.cleanup().await;
}

#[tokio::test]
async fn compression_can_be_switched_off() {
    let app = spawn_app_with(|config| config.http.compression = false).await;
    let document = get(
        &app,
        "/openapi.json",
        &[("accept-encoding", "br, gzip, zstd")],
    )
    .await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.header("content-encoding"), None);
    assert!(!document.vary().contains(&"accept-encoding".to_owned()));
    serde_json::from_slice::<Value>(&document.body).expect("plain json");
    app.cleanup().await;
}

#[tokio::test]
async fn vary_keeps_origin_and_adds_accept_encoding() {
    let app = app_with_articles().await;
    let answer = get(
        &app,
        "/api/articles",
        &[
            ("origin", "http://localhost:3000"),
            ("accept-encoding", "gzip"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-encoding"), Some("gzip"));
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let vary = answer.vary();
    for name in ["origin", "accept-encoding", "authorization"] {
        assert!(
            vary.contains(&name.to_owned()),
            "{name} missing from {vary:?}"
        );
    }
    assert_eq!(
        vary.iter().filter(|v| *v == "accept-encoding").count(),
        1,
        "{vary:?}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_304_answers_the_tags_of_encoded_and_unencoded_answers() {
    let app = app_with_articles().await;
    let plain = get(&app, "/api/articles", &[]).await;
    let strong = plain.header("etag").expect("etag").to_owned();
    let encoded = get(&app, "/api/articles", &[("accept-encoding", "br")]).await;
    let weak = encoded.header("etag").expect("etag").to_owned();
    assert_eq!(weak, format!("W/{strong}"));

    // The client that got Brotli revalidates with its tag.
    let again = get(
        &app,
        "/api/articles",
        &[("accept-encoding", "br"), ("if-none-match", &weak)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(weak.as_str()));
    assert_eq!(again.header("content-encoding"), None);
    assert!(again.vary().contains(&"accept-encoding".to_owned()));

    // The client that got identity, with its tag.
    let again = get(&app, "/api/articles", &[("if-none-match", &strong)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), Some(strong.as_str()));
    assert!(again.vary().contains(&"accept-encoding".to_owned()));

    // Either tag names the same representation, whatever is accepted now.
    for (tag, accept, answered) in [(&strong, "gzip", &weak), (&weak, "identity", &strong)] {
        let again = get(
            &app,
            "/api/articles",
            &[("accept-encoding", accept), ("if-none-match", tag)],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{tag} {accept}");
        assert_eq!(again.header("etag"), Some(answered.as_str()));
    }

    // After a change, the old tag gets the new body, compressed.
    let token = app.register("another").await;
    app.article(&token, "Something new", &[]).await;
    let changed = get(
        &app,
        "/api/articles",
        &[("accept-encoding", "zstd"), ("if-none-match", &weak)],
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.header("content-encoding"), Some("zstd"));
    assert_ne!(changed.header("etag"), Some(weak.as_str()));
    let articles: Value = serde_json::from_slice(&changed.decoded()).expect("json");
    assert_eq!(articles["articlesCount"], 7);
    app.cleanup().await;
}

#[tokio::test]
async fn error_bodies_keep_their_shape() {
    // A threshold of 0, so that even a short error body is encoded.
    let app = spawn_app_with(|config| config.http.compression_min_bytes = 0).await;
    let invalid = json!({"user": {"username": "", "email": "not-an-email", "password": "x"}});
    let plain = send(
        &app,
        reqwest::Method::POST,
        "/api/users",
        &[],
        Some(invalid.clone()),
    )
    .await;
    assert_eq!(plain.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(plain.header("content-encoding"), None);
    let expected: Value = serde_json::from_slice(&plain.body).expect("json");
    assert!(
        expected["errors"].is_object() && expected["code"].is_string(),
        "{expected}"
    );
    for coding in ["br", "gzip", "zstd"] {
        let encoded = send(
            &app,
            reqwest::Method::POST,
            "/api/users",
            &[("accept-encoding", coding)],
            Some(invalid.clone()),
        )
        .await;
        assert_eq!(encoded.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(encoded.header("content-encoding"), Some(coding));
        assert_eq!(encoded.header("content-type"), plain.header("content-type"));
        let body: Value = serde_json::from_slice(&encoded.decoded()).expect("json");
        assert_eq!(body, expected, "{coding}");
    }
    let missing = get(
        &app,
        "/api/articles/no-such-article",
        &[("accept-encoding", "br")],
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_slice(&missing.decoded()).expect("json");
    assert_eq!(body["code"], "not_found", "{body}");
    // An encoding that would not be smaller is not sent (gzip's header alone is 18
    // bytes), but the answer still varies.
    let tags = get(&app, "/api/tags", &[("accept-encoding", "gzip")]).await;
    assert_eq!(tags.header("content-encoding"), None);
    assert!(tags.vary().contains(&"accept-encoding".to_owned()));
    let tags: Value = serde_json::from_slice(&tags.body).expect("json");
    assert_eq!(tags, json!({"tags": []}));
    app.cleanup().await;
}

#[tokio::test]
async fn the_documents_are_compressed_and_revalidated() {
    let app = spawn_app().await;
    for (path, media) in [
        ("/openapi.json", "application/json"),
        ("/openapi.yaml", "application/yaml"),
        ("/docs", "text/html"),
    ] {
        let plain = get(&app, path, &[]).await;
        assert_eq!(plain.status, StatusCode::OK, "{path}");
        assert!(
            plain
                .header("content-type")
                .is_some_and(|t| t.starts_with(media))
        );
        let tag = plain.header("etag").expect("etag").to_owned();
        let encoded = get(
            &app,
            path,
            &[("accept-encoding", "gzip, deflate, br, zstd")],
        )
        .await;
        assert_eq!(encoded.status, StatusCode::OK, "{path}");
        assert!(encoded.header("content-encoding").is_some(), "{path}");
        assert!(encoded.body.len() * 4 < plain.body.len(), "{path}");
        assert_eq!(encoded.decoded(), plain.body, "{path}");
        assert_eq!(
            encoded.header("content-security-policy"),
            plain.header("content-security-policy"),
            "{path}"
        );
        let weak = encoded.header("etag").expect("etag").to_owned();
        assert_eq!(weak, format!("W/{tag}"));
        let again = get(
            &app,
            path,
            &[("accept-encoding", "br"), ("if-none-match", &weak)],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn head_and_no_content_answers_are_not_encoded() {
    let app = app_with_articles().await;
    let head = send(
        &app,
        reqwest::Method::HEAD,
        "/api/articles",
        &[("accept-encoding", "br")],
        None,
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-encoding"), None);
    let token = app.register("reader").await;
    let slug = app.article(&token, "To be deleted", &[]).await;
    let deleted = app
        .client
        .delete(format!("{}/api/articles/{slug}", app.address))
        .header("authorization", format!("Token {token}"))
        .header("accept-encoding", HeaderValue::from_static("br"))
        .send()
        .await
        .expect("sent");
    assert!(deleted.status().is_success());
    assert!(deleted.headers().get("content-encoding").is_none());
    app.cleanup().await;
}
