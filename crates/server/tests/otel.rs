//! OpenTelemetry export, end to end: the real server binary, pointed by the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` at a small OTLP/HTTP receiver started here, serves a
//! few requests (one carrying a W3C `traceparent`) and is stopped with SIGTERM. What it
//! exported on the way and while shutting down is decoded and checked: the request's
//! spans belong to the caller's trace, and the HTTP, cache, rate-limit and connection
//! pool metrics arrive; and no password, token or API key sent to it reaches what it
//! exported.

#![cfg(unix)]

use std::{
    net::TcpListener as StdListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use opentelemetry_proto::tonic::{
    collector::{metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{KeyValue, any_value::Value},
    metrics::v1::{Metric, metric::Data},
    trace::v1::{Span, span::SpanKind, status::StatusCode as SpanStatus},
};
use poem::{
    Route, Server,
    listener::{Acceptor, Listener, TcpListener},
    post,
};
use prost::Message;
use reqwest::StatusCode;

/// The trace the client's request belongs to, as its `traceparent` says.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The client's span, parent of the server span.
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
/// The `read` allowance in this test: the request after these is refused.
const READS: u32 = 4;

/// What the receiver was sent: the signal (`traces`, `metrics`) and the body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Starts the OTLP/HTTP receiver on a free port; returns its origin.
async fn receiver(received: Received) -> String {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("the receiver binds");
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .expect("a socket address");
    // POST /v1/traces and /v1/metrics: keep the body, accept everything.
    let app = Route::new().at(
        "/v1/:signal",
        post(poem::endpoint::make(move |mut req: poem::Request| {
            let received = received.clone();
            async move {
                let signal = req.uri().path().trim_start_matches("/v1/").to_owned();
                let body = req.take_body().into_vec().await?;
                received
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((signal, body));
                // An empty export response: nothing rejected.
                Ok::<_, poem::Error>(
                    poem::Response::builder()
                        .content_type("application/x-protobuf")
                        .body(Vec::<u8>::new()),
                )
            }
        })),
    );
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    format!("http://{addr}")
}

/// The server process; killed when dropped (if the test failed before stopping it).
struct Conduit {
    process: Child,
    origin: String,
    dir: PathBuf,
}

impl Drop for Conduit {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start(collector: &str) -> Conduit {
    let dir = std::env::temp_dir().join(format!("conduit-otel-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let port = free_port();
    let process = Command::new(env!("CARGO_BIN_EXE_conduit"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/conduit.db?mode=rwc", dir.display()),
        )
        .env("CONDUIT_SERVER__HOST", "127.0.0.1")
        .env("CONDUIT_SERVER__PORT", port.to_string())
        .env(
            "CONDUIT_AUTH__JWT_SECRET",
            "otel-test-signing-key-0123456789abcdef",
        )
        .env("CONDUIT_RATE_LIMIT__READ__REQUESTS", READS.to_string())
        .env("CONDUIT_RATE_LIMIT__READ__PER_SECONDS", "3600")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env("OTEL_SERVICE_NAME", "conduit-otel-test")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        // Spans wait in the batch for a minute: only the flush at SIGTERM can send them.
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server binary starts");
    let conduit = Conduit {
        process,
        origin: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client
            .get(format!("{}/health/live", conduit.origin))
            .send()
            .await
            && r.status().is_success()
        {
            return conduit;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends SIGTERM and waits for a clean exit.
async fn terminate(conduit: &mut Conduit) {
    // The shell's own `kill`: no signal crate needed, and no dependence on a `kill`
    // binary being installed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", conduit.process.id())])
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = conduit.process.try_wait().expect("the process") {
            assert!(exit.success(), "the server exited with {exit}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attribute(attributes, key) {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key) {
        Some(Value::IntValue(i)) => Some(*i),
        _ => None,
    }
}

/// Every span received, with its resource's service name.
fn spans(received: &[(String, Vec<u8>)]) -> Vec<(String, Span)> {
    let mut spans = Vec::new();
    for (_, body) in received.iter().filter(|(signal, _)| signal == "traces") {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP traces");
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| string_attribute(&r.attributes, "service.name"))
                .unwrap_or_default()
                .to_owned();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
    }
    spans
}

/// Every metric received (each export repeats the cumulative totals).
fn metrics(received: &[(String, Vec<u8>)]) -> Vec<Metric> {
    let mut metrics = Vec::new();
    for (_, body) in received.iter().filter(|(signal, _)| signal == "metrics") {
        let request = ExportMetricsServiceRequest::decode(body.as_slice()).expect("OTLP metrics");
        for resource in request.resource_metrics {
            for scope in resource.scope_metrics {
                metrics.extend(scope.metrics);
            }
        }
    }
    metrics
}

/// The largest value a counter reached for the data points whose attributes `matches`.
fn counter_value(metrics: &[Metric], name: &str, matches: impl Fn(&[KeyValue]) -> bool) -> i64 {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
    metrics
        .iter()
        .filter(|m| m.name == name)
        .filter_map(|m| match &m.data {
            Some(Data::Sum(sum)) => Some(sum.data_points.iter()),
            _ => None,
        })
        .flatten()
        .filter(|p| matches(&p.attributes))
        .filter_map(|p| match p.value {
            Some(Number::AsInt(i)) => Some(i),
            Some(Number::AsDouble(d)) => Some(d as i64),
            None => None,
        })
        .max()
        .unwrap_or(0)
}

/// Signs up, logs in (once with a wrong password), refreshes, creates an API key and
/// uses it, and sends a bad token; returns every secret that went over the wire.
async fn sign_in_traffic(client: &reqwest::Client, origin: &str) -> Vec<String> {
    let post = |path: &str, body: serde_json::Value, auth: Option<(&str, String)>| {
        let mut request = client.post(format!("{origin}/api{path}")).json(&body);
        if let Some((name, value)) = auth {
            request = request.header(name, value);
        }
        request.send()
    };
    let json = |response: reqwest::Response| async move {
        assert!(response.status().is_success(), "{}", response.status());
        response.json::<serde_json::Value>().await.expect("JSON")
    };
    let text = |value: &serde_json::Value| value.as_str().expect("a string").to_owned();
    let password = "Traced-Password-Never-Exported-77";
    let wrong = "Wrong-Password-Never-Exported-88";
    let signed_up = json(
        post(
            "/users",
            serde_json::json!({"user": {"username": "traced", "email": "traced@test.com", "password": password}}),
            None,
        )
        .await
        .expect("sign-up"),
    )
    .await;
    let token = text(&signed_up["user"]["token"]);
    let refresh = text(&signed_up["user"]["refreshToken"]);
    let refused = post(
        "/users/login",
        serde_json::json!({"user": {"email": "traced@test.com", "password": wrong}}),
        None,
    )
    .await
    .expect("login");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let rotated = json(
        post(
            "/auth/refresh",
            serde_json::json!({"refreshToken": refresh}),
            None,
        )
        .await
        .expect("refresh"),
    )
    .await;
    let new_refresh = text(&rotated["user"]["refreshToken"]);
    let key = json(
        post(
            "/api-keys",
            serde_json::json!({"apiKey": {"name": "traced", "scopes": ["articles:write"]}}),
            Some(("authorization", format!("Token {token}"))),
        )
        .await
        .expect("a key"),
    )
    .await;
    let key = text(&key["apiKey"]["token"]);
    let article =
        serde_json::json!({"article": {"title": "Traced", "description": "d", "body": "b"}});
    let by_key = post(
        "/articles",
        article.clone(),
        Some(("x-api-key", key.clone())),
    )
    .await
    .expect("an article");
    assert_eq!(by_key.status(), StatusCode::CREATED);
    let bad = "bad.token-never-exported.xyz";
    let bad_answer = post(
        "/articles",
        article,
        Some(("authorization", format!("Token {bad}"))),
    )
    .await
    .expect("refused");
    assert_eq!(bad_answer.status(), StatusCode::UNAUTHORIZED);
    vec![
        password.to_owned(),
        wrong.to_owned(),
        token,
        refresh,
        new_refresh,
        key,
        bad.to_owned(),
    ]
}

#[tokio::test]
async fn spans_and_metrics_reach_the_collector_and_survive_sigterm() {
    let received: Received = Arc::default();
    let collector = receiver(received.clone()).await;
    let mut conduit = start(&collector).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/api{path}", conduit.origin);

    // The traced request: its spans must join the caller's trace.
    let traced = client
        .get(url("/tags"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
        .send()
        .await
        .expect("GET /api/tags");
    assert_eq!(traced.status(), StatusCode::OK);
    // The same read again is a cache hit; an unknown article is a 404 on a templated
    // route; then the allowance runs out.
    let again = client
        .get(url("/tags"))
        .send()
        .await
        .expect("GET /api/tags");
    assert_eq!(again.status(), StatusCode::OK);
    let missing = client
        .get(url("/articles/no-such-article"))
        .send()
        .await
        .expect("GET an article");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let mut refused = false;
    for _ in 0..READS {
        let response = client
            .get(url("/articles"))
            .send()
            .await
            .expect("GET /api/articles");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
    }
    assert!(refused, "the read allowance of {READS} was never exhausted");

    // Sign-in traffic whose secrets must not reach the exported spans: a password, a
    // wrong password, access and refresh tokens (before and after rotation), an API key
    // and a bad token. (All count against the `auth` and `write` allowances, not `read`.)
    let secrets = sign_in_traffic(&client, &conduit.origin).await;

    // The metrics reader runs every 500 ms: some arrive while the server runs.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .any(|(signal, _)| signal == "metrics")
    {
        assert!(
            Instant::now() < deadline,
            "no metrics were exported while the server ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let traces_before_stop = received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|(signal, _)| signal == "traces")
        .count();
    assert_eq!(
        traces_before_stop, 0,
        "spans were sent before the batch was due"
    );
    terminate(&mut conduit).await;
    let received = received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(
        received.iter().all(|(signal, body)| {
            ["traces", "metrics"].contains(&signal.as_str()) && !body.is_empty()
        }),
        "unexpected exports: {:?}",
        received
            .iter()
            .map(|(s, b)| (s, b.len()))
            .collect::<Vec<_>>()
    );

    // Nothing exported carries a secret: not a span attribute, event or status message.
    for (signal, body) in &received {
        for secret in &secrets {
            assert!(
                !body
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes()),
                "a secret ({}...) reached the exported {signal}",
                &secret[..6]
            );
        }
    }

    // Traces: the server span is the child of the caller's span, named by its route.
    let spans = spans(&received);
    assert!(!spans.is_empty(), "no spans were flushed at SIGTERM");
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|(_, s)| hex(&s.trace_id) == TRACE_ID)
        .map(|(_, s)| s)
        .collect();
    let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    let server = in_trace
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap_or_else(|| panic!("no server span in the caller's trace; its spans: {names:?}"));
    assert_eq!(server.name, "GET /api/tags");
    assert_eq!(hex(&server.parent_span_id), PARENT_SPAN_ID);
    assert_eq!(
        string_attribute(&server.attributes, "http.route"),
        Some("/api/tags")
    );
    assert_eq!(
        string_attribute(&server.attributes, "http.request.method"),
        Some("GET")
    );
    assert_eq!(
        int_attribute(&server.attributes, "http.response.status_code"),
        Some(200)
    );
    assert_ne!(
        server.status.as_ref().map(|s| s.code),
        Some(SpanStatus::Error as i32)
    );
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "conduit-otel-test"),
        "OTEL_SERVICE_NAME was not applied"
    );
    // Inside it: the request log's span, and below, the work done for the request.
    let server_id = &server.span_id;
    assert!(
        in_trace
            .iter()
            .any(|s| &s.parent_span_id == server_id && s.name == "request"),
        "no request span under the server span: {names:?}"
    );
    // The use case (`tags`) between them and the database statement below it.
    assert!(
        in_trace.len() >= 4,
        "only {names:?} in the caller's trace: the use case or its query is missing"
    );
    assert!(
        in_trace.iter().any(|s| s.kind == SpanKind::Client as i32
            && s.name.starts_with("sea_orm.")
            && string_attribute(&s.attributes, "db.system") == Some("sqlite")),
        "no database span in the caller's trace: {names:?}"
    );
    // The other requests started traces of their own; health probes none.
    assert!(
        spans.iter().any(|(_, s)| s.kind == SpanKind::Server as i32
            && s.name == "GET /api/articles/{slug}"
            && hex(&s.trace_id) != TRACE_ID),
        "the 404 on a templated route was not traced: {:?}",
        spans
            .iter()
            .filter(|(_, s)| s.kind == SpanKind::Server as i32)
            .map(|(_, s)| (&s.name, string_attribute(&s.attributes, "url.path")))
            .collect::<Vec<_>>()
    );
    assert!(
        !spans
            .iter()
            .any(|(_, s)| string_attribute(&s.attributes, "url.path") == Some("/health/live")),
        "health probes were traced"
    );

    // Metrics: request durations by route, cache lookups, rate-limit refusals, the pool.
    let metrics = metrics(&received);
    let durations: Vec<_> = metrics
        .iter()
        .filter(|m| m.name == "http.server.request.duration")
        .collect();
    assert!(!durations.is_empty(), "no http.server.request.duration");
    assert!(durations.iter().all(|m| m.unit == "s"));
    let tag_reads = durations
        .iter()
        .filter_map(|m| match &m.data {
            Some(Data::Histogram(h)) => Some(h.data_points.iter()),
            _ => None,
        })
        .flatten()
        .filter(|p| {
            string_attribute(&p.attributes, "http.route") == Some("/api/tags")
                && int_attribute(&p.attributes, "http.response.status_code") == Some(200)
        })
        .map(|p| p.count)
        .max()
        .unwrap_or(0);
    assert_eq!(tag_reads, 2, "GET /api/tags was answered twice");
    let result_is = |wanted: &'static str| {
        move |attributes: &[KeyValue]| string_attribute(attributes, "result") == Some(wanted)
    };
    assert!(counter_value(&metrics, "conduit.cache.lookups", result_is("miss")) >= 1);
    assert!(counter_value(&metrics, "conduit.cache.lookups", result_is("hit")) >= 1);
    assert_eq!(
        counter_value(&metrics, "conduit.rate_limit.rejections", |a| {
            string_attribute(a, "policy") == Some("read")
        }),
        1
    );
    assert!(
        metrics
            .iter()
            .any(|m| m.name == "http.server.active_requests"),
        "no http.server.active_requests"
    );
    assert_eq!(
        counter_value(&metrics, "db.client.connection.max", |a| {
            string_attribute(a, "db.system.name") == Some("sqlite")
        }),
        1,
        "the SQLite pool holds one connection"
    );
}
