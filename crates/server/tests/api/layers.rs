//! Tests of single layers of the HTTP crate that need a real application (the in-memory
//! one the document is described over) but no server: the idempotency middleware around
//! a made-up handler, and the fuzzing table against the document.

use std::{sync::Arc, time::Duration};

use conduit_api::{
    fuzzing::Body,
    idempotency::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, Idempotency},
    openapi::{AllowedMethods, document},
};
use conduit_server::docs::{in_memory_conduit, standalone_document};
use poem::{
    Endpoint, Middleware, Request, Response,
    http::{Method, StatusCode, header},
};

/// A new operation with a JSON body needs its own `Body` (and a seed in
/// `fuzz/corpus/request_body`).
#[test]
fn every_documented_request_body_has_a_body_here() {
    let document = standalone_document();
    let with_body = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("operations").values())
        .filter(|operation| operation.get("requestBody").is_some())
        .count();
    assert_eq!(with_body, Body::ALL.len());
    let seeds = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/request_body"
    ))
    .expect("the seeds")
    .count();
    assert!(seeds >= Body::ALL.len(), "{seeds} seeds");
}

/// The middleware over `inner`, with an in-memory store, on an in-memory app with
/// one signed-in user; the request maker sends that user's token and key `k`.
async fn around<E: Endpoint>(
    inner: E,
) -> (
    impl Endpoint<Output = Response> + use<E>,
    impl Fn() -> Request,
) {
    let app = in_memory_conduit().expect("an in-memory app");
    let signed_in = app
        .register(
            conduit_app::Register {
                username: conduit_domain::user::Username::parse("retrier").expect("name"),
                email: conduit_domain::user::Email::parse("retrier@example.com").expect("email"),
                password: conduit_domain::user::Password::new_secret("password123")
                    .expect("password"),
            },
            conduit_app::ClientInfo::default(),
        )
        .await
        .expect("registered");
    let routes = Arc::new(AllowedMethods::from_document(&document(&app), "/api"));
    let layer = Idempotency::new(
        Arc::new(conduit_adapters::memory::idempotency::MemoryIdempotency::new()),
        app,
        routes,
        Duration::from_secs(30),
        Duration::from_secs(3600),
    );
    let token = signed_in.token;
    let request = move || {
        Request::builder()
            .method(Method::POST)
            .uri_str("/api/articles")
            .header(header::AUTHORIZATION, format!("Token {token}"))
            .header(IDEMPOTENCY_KEY, "k")
            .body("{}")
    };
    (layer.transform(inner), request)
}

#[tokio::test]
async fn a_server_error_releases_the_key_and_the_retry_runs() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inner = poem::endpoint::make(move |_| {
        let attempt = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            let status = if attempt == 0 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::CREATED
            };
            Response::builder()
                .status(status)
                .body(format!("attempt {attempt}"))
        }
    });
    let (endpoint, request) = around(inner).await;

    let failed = endpoint.call(request()).await.expect("an answer");
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let retried = endpoint.call(request()).await.expect("an answer");
    assert_eq!(retried.status(), StatusCode::CREATED, "the retry ran");
    assert!(!retried.headers().contains_key(IDEMPOTENT_REPLAYED));
    let replayed = endpoint.call(request()).await.expect("an answer");
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(replayed.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(
        replayed.into_body().into_string().await.expect("a body"),
        "attempt 1"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the replay did no work");
}

/// A request dropped mid-way (the client went away, the time limit cut it off)
/// releases its key: the retry runs rather than waiting out the lease.
#[tokio::test]
async fn an_abandoned_request_releases_its_key() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let (started, mut running) = tokio::sync::mpsc::unbounded_channel();
    let counted = calls.clone();
    let inner = poem::endpoint::make(move |_| {
        let attempt = counted.fetch_add(1, Ordering::SeqCst);
        let started = started.clone();
        async move {
            if attempt == 0 {
                let _ = started.send(());
                std::future::pending::<()>().await;
            }
            Response::builder().status(StatusCode::CREATED).body("made")
        }
    });
    let (endpoint, request) = around(inner).await;

    // Boxed, so that dropping it drops the request itself.
    let mut first = Box::pin(endpoint.call(request()));
    tokio::select! {
        _ = &mut first => panic!("the first request never finishes"),
        _ = running.recv() => {}
    }
    // While it runs, the key is taken.
    let meanwhile = endpoint.call(request()).await.expect("an answer");
    assert_eq!(meanwhile.status(), StatusCode::CONFLICT);
    drop(first);

    // The release runs in a task of its own: give it turns, never a fixed delay.
    let mut retried = endpoint.call(request()).await.expect("an answer");
    for _ in 0..100 {
        if retried.status() != StatusCode::CONFLICT {
            break;
        }
        tokio::task::yield_now().await;
        retried = endpoint.call(request()).await.expect("an answer");
    }
    assert_eq!(
        retried.status(),
        StatusCode::CREATED,
        "the key was released"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
