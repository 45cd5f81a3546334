//! `Idempotency-Key` on `POST`s (ADR 0025): a retry with the same key gets the first
//! answer byte for byte without the work being done again; another request with the key
//! is 422, a request while the first runs is 409; keys are per user; refusals of the
//! request are replayed, refusals of the credential and 5xx are not; answers carrying
//! credentials are never kept.

use std::{sync::Arc, time::Duration};

use base64::Engine;
use conduit_adapters::redis::RedisIdempotency;
use conduit_api::idempotency::{fingerprint, user_scope};
use conduit_domain::{
    UserId,
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey},
    ports::IdempotencyStore,
    time::Timestamp,
};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, reply, spawn_app, spawn_app_behind_database_relay, spawn_app_with,
};

/// A raw answer: what a replay must reproduce exactly.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn replayed(&self) -> bool {
        match self.headers.get("idempotent-replayed") {
            None => false,
            Some(value) => {
                assert_eq!(value, "true", "the replay mark is `true`");
                true
            }
        }
    }
}

/// How the caller signs in.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Token(&'a str),
    Key(&'a str),
    Nobody,
}

/// `POST /api{path}` with `body` (sent as these exact bytes) and `key` in
/// `Idempotency-Key`.
async fn post(
    app: &TestApp,
    path: &str,
    caller: Caller<'_>,
    key: Option<&str>,
    body: &Value,
) -> Raw {
    let mut request = app
        .client
        .post(format!("{}/api{path}", app.address))
        .header("content-type", "application/json")
        .body(body.to_string());
    match caller {
        Caller::Token(token) => request = request.header("Authorization", format!("Token {token}")),
        Caller::Key(key) => request = request.header("X-API-Key", key),
        Caller::Nobody => {}
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("sent");
    Raw {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// `POST /api/articles` with `body`, as the user of `token`, with `key`.
async fn create(app: &TestApp, token: &str, key: &str, body: &Value) -> Raw {
    post(app, "/articles", Caller::Token(token), Some(key), body).await
}

fn new_article(title: &str) -> Value {
    json!({"article": {"title": title, "description": "d", "body": "b", "tagList": ["retry"]}})
}

/// How many articles `author` has published.
async fn articles_by(app: &TestApp, author: &str) -> u64 {
    let list = app.get(&format!("/articles?author={author}"), None).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    list.body["articlesCount"].as_u64().expect("a count")
}

/// The user an access token speaks for (its `sub`).
fn user_of(token: &str) -> UserId {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    UserId(
        claims["sub"]
            .as_str()
            .expect("sub")
            .parse()
            .expect("numeric"),
    )
}

/// The store the server keeps keys in: Redis when the tests name one, else its database.
/// Spawns the server and reports the Redis prefix it was given.
async fn spawn_app_and_store() -> (TestApp, Arc<dyn IdempotencyStore>) {
    let mut redis = None;
    let app = spawn_app_with(|config| {
        redis = config
            .redis
            .url
            .as_ref()
            .map(|url| (url.expose().to_owned(), config.redis.key_prefix.clone()));
    })
    .await;
    let store: Arc<dyn IdempotencyStore> = match redis {
        Some((url, prefix)) => Arc::new(
            RedisIdempotency::connect(&url, &prefix)
                .await
                .expect("the test Redis"),
        ),
        None => Arc::new(app.db().store()),
    };
    (app, store)
}

#[tokio::test]
async fn a_retried_article_creation_creates_one_article_and_answers_the_same_bytes() {
    let app = spawn_app().await;
    let token = app.register("retrier").await;
    let body = new_article("Written once");

    let first = create(&app, &token, "key-1", &body).await;
    let second = create(&app, &token, "key-1", &body).await;

    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.json());
    assert!(!first.replayed(), "the first answer is not a replay");
    assert_eq!(second.status, StatusCode::CREATED);
    assert!(
        second.replayed(),
        "the retry's answer is marked as a replay"
    );
    assert_eq!(first.body, second.body, "the same bytes");
    for name in ["content-type", "location", "etag"] {
        assert_eq!(first.headers.get(name), second.headers.get(name), "{name}");
    }
    assert_eq!(
        articles_by(&app, "retrier").await,
        1,
        "the work was done once"
    );
    // Outer layers still add their headers to a replay.
    assert!(second.headers.contains_key("x-request-id"));
    assert!(second.headers.contains_key("ratelimit-policy"));

    // Without a key, the same request is a new article.
    let third = post(&app, "/articles", Caller::Token(&token), None, &body).await;
    assert_eq!(third.status, StatusCode::CREATED);
    assert_ne!(
        third.json()["article"]["slug"],
        first.json()["article"]["slug"]
    );
    assert_eq!(articles_by(&app, "retrier").await, 2);
    app.cleanup().await;
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422() {
    let app = spawn_app().await;
    let token = app.register("reuser").await;
    let first = post(
        &app,
        "/articles",
        Caller::Token(&token),
        Some("k"),
        &new_article("One"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let slug = first.json()["article"]["slug"]
        .as_str()
        .expect("slug")
        .to_owned();

    let other_body = post(
        &app,
        "/articles",
        Caller::Token(&token),
        Some("k"),
        &new_article("Two"),
    )
    .await;
    let other_path = post(
        &app,
        &format!("/articles/{slug}/favorite"),
        Caller::Token(&token),
        Some("k"),
        &json!({}),
    )
    .await;
    for refused in [other_body, other_path] {
        let refused_reply = reply_of(&refused);
        assert_error(
            &refused_reply,
            422,
            "Idempotency-Key",
            "idempotency_key_reused",
        );
        assert!(!refused.replayed());
    }
    assert_eq!(articles_by(&app, "reuser").await, 1);
    let favorited = app.get(&format!("/articles/{slug}"), Some(&token)).await;
    assert_eq!(
        favorited.body["article"]["favorited"], false,
        "the favorite was not done"
    );
    app.cleanup().await;
}

/// A [`crate::helpers::Reply`] of a raw answer, for `assert_error`.
fn reply_of(raw: &Raw) -> crate::helpers::Reply {
    crate::helpers::Reply {
        status: raw.status,
        content_type: raw
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: raw.json(),
    }
}

/// The first request's claim is put in the store exactly as the server would have made
/// it, and left running: deterministic, with no timing involved.
#[tokio::test]
async fn a_request_while_the_first_with_its_key_runs_is_409() {
    let (app, store) = spawn_app_and_store().await;
    let token = app.register("racer").await;
    let body = new_article("In flight");
    let now = Timestamp::new(time::OffsetDateTime::now_utc());
    let lease_until = Timestamp::new(now.as_offset_date_time() + time::Duration::seconds(60));
    let running = IdempotencyClaim {
        scope: user_scope(user_of(&token)),
        key: IdempotencyKey::parse("busy").expect("a key"),
        fingerprint: fingerprint("POST", "/api/articles", body.to_string().as_bytes()),
        token: "the-first-request".into(),
        now,
        lease_until,
    };
    assert_eq!(
        store.begin(&running).await.expect("claimed"),
        Begin::Claimed
    );

    let second = create(&app, &token, "busy", &body).await;
    assert_error(
        &reply_of(&second),
        409,
        "Idempotency-Key",
        "idempotency_key_in_flight",
    );
    let retry_after: u64 = second.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // Another body with the busy key is still the wrong request.
    let other = post(
        &app,
        "/articles",
        Caller::Token(&token),
        Some("busy"),
        &new_article("Else"),
    )
    .await;
    assert_error(
        &reply_of(&other),
        422,
        "Idempotency-Key",
        "idempotency_key_reused",
    );
    assert_eq!(articles_by(&app, "racer").await, 0, "nothing ran");

    // The first request fails and lets go: the retry runs.
    assert!(
        store
            .release(&running.scope, &running.key, &running.token)
            .await
            .expect("released")
    );
    let retry = create(&app, &token, "busy", &body).await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert!(!retry.replayed());
    assert_eq!(articles_by(&app, "racer").await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn racing_requests_with_one_key_create_one_article() {
    let app = spawn_app().await;
    let token = app.register("stampede").await;
    let body = new_article("Raced");
    let answers = join_all((0..8).map(|_| create(&app, &token, "race", &body))).await;

    let created: Vec<&Raw> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    let fresh = created.iter().filter(|a| !a.replayed()).count();
    assert_eq!(fresh, 1, "exactly one request did the work");
    for answer in &answers {
        match answer.status {
            StatusCode::CREATED => assert_eq!(answer.body, created[0].body),
            StatusCode::CONFLICT => assert_eq!(answer.json()["code"], "idempotency_key_in_flight"),
            other => panic!("unexpected {other}: {:?}", answer.json()),
        }
    }
    assert_eq!(articles_by(&app, "stampede").await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn users_do_not_see_each_others_answers() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let body = new_article("Same words");
    let hers = create(&app, &alice, "shared-key", &body).await;
    let his = create(&app, &bob, "shared-key", &body).await;
    assert_eq!(hers.status, StatusCode::CREATED);
    assert_eq!(his.status, StatusCode::CREATED);
    assert!(!his.replayed(), "bob's request ran");
    assert_eq!(his.json()["article"]["author"]["username"], "bob");
    assert_ne!(his.body, hers.body);
    assert_eq!(articles_by(&app, "alice").await, 1);
    assert_eq!(articles_by(&app, "bob").await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn refusals_are_replayed() {
    let app = spawn_app().await;
    let token = app.register("refused").await;
    let blank = json!({"article": {"title": "", "description": "d", "body": "b"}});
    let first = create(&app, &token, "bad-1", &blank).await;
    let again = create(&app, &token, "bad-1", &blank).await;
    assert_error(&reply_of(&first), 422, "title", "validation_failed");
    assert!(again.replayed());
    assert_eq!((again.status, &again.body), (first.status, &first.body));

    let missing = post(
        &app,
        "/articles/no-such-slug/favorite",
        Caller::Token(&token),
        Some("bad-2"),
        &json!({}),
    )
    .await;
    assert_error(&reply_of(&missing), 404, "article", "not_found");
    // The article appears, but the key's answer stays what it was: the draft's rule.
    let slug = app.article(&token, "No such slug", &[]).await;
    assert_eq!(slug, "no-such-slug");
    let again = post(
        &app,
        "/articles/no-such-slug/favorite",
        Caller::Token(&token),
        Some("bad-2"),
        &json!({}),
    )
    .await;
    assert!(again.replayed());
    assert_eq!((again.status, &again.body), (missing.status, &missing.body));
    app.cleanup().await;
}

#[tokio::test]
async fn comments_and_favorites_are_covered() {
    let app = spawn_app().await;
    let token = app.register("commenter").await;
    let slug = app.article(&token, "Commented", &[]).await;
    let comment = json!({"comment": {"body": "Said once"}});
    let path = format!("/articles/{slug}/comments");
    let first = post(&app, &path, Caller::Token(&token), Some("c-1"), &comment).await;
    let second = post(&app, &path, Caller::Token(&token), Some("c-1"), &comment).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(second.replayed());
    assert_eq!(first.body, second.body);
    let comments = app.get(&path, None).await;
    assert_eq!(
        comments.body["comments"].as_array().expect("a list").len(),
        1
    );

    let favorite = format!("/articles/{slug}/favorite");
    let first = post(
        &app,
        &favorite,
        Caller::Token(&token),
        Some("f-1"),
        &json!({}),
    )
    .await;
    let second = post(
        &app,
        &favorite,
        Caller::Token(&token),
        Some("f-1"),
        &json!({}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.replayed());
    assert!(second.replayed());
    assert_eq!(first.body, second.body);
    assert_eq!(second.json()["article"]["favoritesCount"], 1);
    app.cleanup().await;
}

#[tokio::test]
async fn api_key_callers_are_the_keys_owner_within_its_scopes() {
    let app = spawn_app().await;
    let token = app.register("keyholder").await;
    let (writer, _) = app.api_key(&token, &["articles:write"]).await;
    let (reader, _) = app.api_key(&token, &["user:read"]).await;
    let body = new_article("By key");
    let first = post(
        &app,
        "/articles",
        Caller::Key(&writer),
        Some("by-key"),
        &body,
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    // The owner, signed in otherwise, shares the key space.
    let by_token = create(&app, &token, "by-key", &body).await;
    assert!(by_token.replayed());
    assert_eq!(by_token.body, first.body);
    // A key of the owner's that may not do this is refused, not served the answer.
    let refused = post(
        &app,
        "/articles",
        Caller::Key(&reader),
        Some("by-key"),
        &body,
    )
    .await;
    assert_error(&reply_of(&refused), 403, "apiKey", "insufficient_scope");
    assert!(!refused.replayed());
    assert_eq!(articles_by(&app, "keyholder").await, 1);
    app.cleanup().await;
}

/// Keys belong to the user, not to one session: a token revoked since the first request
/// is refused (401), never served the kept answer, and the same user, signed in again,
/// gets it.
#[tokio::test]
async fn a_revoked_token_is_refused_and_the_user_signed_in_again_gets_the_answer() {
    let app = spawn_app().await;
    let token = app.register("revoked").await;
    let body = new_article("Before logout");
    let first = create(&app, &token, "r-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.json());
    let out = app
        .call(Method::POST, "/auth/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);

    let refused = create(&app, &token, "r-1", &body).await;
    assert_error(&reply_of(&refused), 401, "token", "token_invalid");
    assert!(
        !refused.replayed(),
        "a revoked token is not served the answer"
    );

    let login = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "revoked@test.com", "password": "password123"}}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let fresh = login.body["user"]["token"].as_str().expect("a token");
    let again = create(&app, fresh, "r-1", &body).await;
    assert!(again.replayed(), "the user's key outlives the session");
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert_eq!(articles_by(&app, "revoked").await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn bad_credentials_are_answered_by_the_handler() {
    let app = spawn_app().await;
    for _ in 0..2 {
        let answer = post(
            &app,
            "/articles",
            Caller::Token("not.a.jwt"),
            Some("k"),
            &new_article("x"),
        )
        .await;
        assert_error(&reply_of(&answer), 401, "token", "token_invalid");
        assert!(!answer.replayed());
        let anonymous = post(
            &app,
            "/articles",
            Caller::Nobody,
            Some("k"),
            &new_article("x"),
        )
        .await;
        assert_error(&reply_of(&anonymous), 401, "token", "token_missing");
        assert!(!anonymous.replayed());
    }
    app.cleanup().await;
}

#[tokio::test]
async fn malformed_keys_are_refused_naming_the_header() {
    let app = spawn_app().await;
    let token = app.register("malformed").await;
    let long = "k".repeat(256);
    for key in ["", "two words", long.as_str(), "tab\there"] {
        for (path, caller, body) in [
            ("/articles", Caller::Token(&token), new_article("Never")),
            (
                "/users/login",
                Caller::Nobody,
                json!({"user": {"email": "a@b.c", "password": "password123"}}),
            ),
        ] {
            let answer = post(&app, path, caller, Some(key), &body).await;
            assert_error(
                &reply_of(&answer),
                422,
                "Idempotency-Key",
                "validation_failed",
            );
        }
    }
    // Not ASCII: bytes a header may carry, but no key.
    let answer = app
        .client
        .post(format!("{}/api/articles", app.address))
        .header("Authorization", format!("Token {token}"))
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).expect("a header value"),
        )
        .json(&new_article("Never"))
        .send()
        .await
        .expect("sent");
    assert_error(
        &reply(answer).await,
        422,
        "Idempotency-Key",
        "validation_failed",
    );
    // Sent twice.
    let answer = app
        .client
        .post(format!("{}/api/articles", app.address))
        .header("Authorization", format!("Token {token}"))
        .header("Idempotency-Key", "a")
        .header("Idempotency-Key", "b")
        .json(&new_article("Never"))
        .send()
        .await
        .expect("sent");
    assert_error(
        &reply(answer).await,
        422,
        "Idempotency-Key",
        "validation_failed",
    );
    assert_eq!(articles_by(&app, "malformed").await, 0);
    // 255 visible characters is a key.
    let longest = "~".repeat(255);
    let answer = post(
        &app,
        "/articles",
        Caller::Token(&token),
        Some(&longest),
        &new_article("Kept"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    app.cleanup().await;
}

#[tokio::test]
async fn answers_carrying_credentials_are_never_kept() {
    let app = spawn_app().await;
    let sign_up = json!({"user": {"username": "secretive", "email": "secretive@test.com", "password": "password123"}});
    let first = post(&app, "/users", Caller::Nobody, Some("signup"), &sign_up).await;
    let second = post(&app, "/users", Caller::Nobody, Some("signup"), &sign_up).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!second.replayed(), "a token is never replayed");
    // Which taken field is named first depends on the database; either is a refusal.
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.json()["code"], "conflict");

    let token = first.json()["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let new_key = json!({"apiKey": {"name": "ci", "scopes": ["articles:write"]}});
    let one = post(
        &app,
        "/api-keys",
        Caller::Token(&token),
        Some("key"),
        &new_key,
    )
    .await;
    let two = post(
        &app,
        "/api-keys",
        Caller::Token(&token),
        Some("key"),
        &new_key,
    )
    .await;
    assert_eq!(
        (one.status, two.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert!(!two.replayed());
    assert_ne!(one.json()["apiKey"]["token"], two.json()["apiKey"]["token"]);

    let login = json!({"user": {"email": "secretive@test.com", "password": "password123"}});
    let one = post(&app, "/users/login", Caller::Nobody, Some("login"), &login).await;
    let two = post(&app, "/users/login", Caller::Nobody, Some("login"), &login).await;
    assert_eq!((one.status, two.status), (StatusCode::OK, StatusCode::OK));
    assert!(!two.replayed());
    app.cleanup().await;
}

/// A request that fails (503: the database is gone) releases its key, so the retry
/// runs once the database is back. Needs `TEST_DATABASE_URL` (the relay); with
/// `TEST_REDIS_URL` too (as in CI) the session and the key live in Redis, so the key is
/// claimed and the release is what lets the retry run. With the database alone the
/// outage already stops the caller's authentication, and the request runs without its
/// key (the layer tests in `layers.rs` cover the release there).
#[tokio::test]
async fn a_failed_request_releases_its_key() {
    let Some((app, relay)) = spawn_app_behind_database_relay(|config| {
        config.server.request_timeout_seconds = 2;
        config.rate_limit.enabled = false;
    })
    .await
    else {
        return;
    };
    let token = app.register("unlucky").await;
    let body = new_article("After the outage");
    relay.cut();
    let failed = create(&app, &token, "outage", &body).await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        failed.json()
    );
    relay.restore().await;
    // The pool may answer a few more 503s while it replaces its dead connections; a
    // key still held would answer 409 instead.
    let mut retry = create(&app, &token, "outage", &body).await;
    for _ in 0..20 {
        if retry.status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        retry = create(&app, &token, "outage", &body).await;
    }
    assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.json());
    assert!(!retry.replayed());
    assert_eq!(articles_by(&app, "unlucky").await, 1);
    app.cleanup().await;
}
