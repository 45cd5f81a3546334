//! The whole HTTP stack: the API under `/api`, the published document, the health
//! probes, and the middleware around them, in the order their comments explain. What it
//! needs from the process (settings, the limiter, where answers to retried writes are
//! kept, the rendered-list cache, readiness) is handed in by the wiring.

use std::{sync::Arc, time::Duration};

use bytes::{Bytes, BytesMut};
use conduit_app::Conduit;
use conduit_domain::ports::IdempotencyStore;
use futures_util::StreamExt;
use poem::{
    Body, Endpoint, EndpointExt, IntoResponse, Response, Route,
    endpoint::{BoxEndpoint, make_sync},
    error::{MethodNotAllowedError, ReadBodyError},
    get,
    http::header,
    middleware::CatchPanic,
};
use poem_openapi::OpenApiService;

use crate::{
    compression::Compression,
    conditional::ConditionalGet,
    cors::Cors,
    error,
    headers::{self, SecurityHeaders},
    idempotency::{IDEMPOTENT_REPLAYED, Idempotency},
    openapi,
    rate_limit::{RATE_LIMIT, RATE_LIMIT_POLICY, RateLimit},
    rendered::RenderedListCache,
    request_log::{REQUEST_ID, RequestLog, TimeLimit},
    routes::{
        api_keys::ApiKeysApi, articles::ArticlesApi, auth::AuthApi, comments::CommentsApi,
        cookie::CookiePolicy, oauth::OAuthApi, profiles::ProfilesApi, tags::TagsApi,
        users::UsersApi,
    },
    telemetry::HttpTelemetry,
};

/// Every group of endpoints.
pub type Apis = (
    UsersApi,
    AuthApi,
    OAuthApi,
    ApiKeysApi,
    ProfilesApi,
    ArticlesApi,
    CommentsApi,
    TagsApi,
);

/// The OpenAPI service with every endpoint of the API, served under `/api`; `cookie` is
/// the refresh-token cookie policy in browser mode, `rendered` the rendered-list cache.
pub fn api_service(
    app: &Conduit,
    cookie: Option<CookiePolicy>,
    rendered: Option<Arc<dyn RenderedListCache>>,
) -> OpenApiService<Apis, ()> {
    let apis = (
        UsersApi {
            app: app.clone(),
            cookie,
        },
        AuthApi {
            app: app.clone(),
            cookie,
        },
        OAuthApi {
            app: app.clone(),
            cookie,
        },
        ApiKeysApi { app: app.clone() },
        ProfilesApi { app: app.clone() },
        ArticlesApi {
            app: app.clone(),
            rendered,
        },
        CommentsApi { app: app.clone() },
        TagsApi { app: app.clone() },
    );
    OpenApiService::new(apis, "Conduit API", env!("CARGO_PKG_VERSION"))
        .description(
            "The RealWorld (Conduit) blogging API: users, profiles, follows, articles, tags, \
             favorites and comments. Every error has the body \
             `{\"errors\": {\"<field>\": [\"<message>\"]}, \"code\": \"<code>\"}`.",
        )
        .server("/api")
}

/// Whether this instance can serve: the answer of `GET /health/ready`. The process
/// implements it over what it connected (database, Redis, the cache).
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// The readiness report, with its status code (503 when the instance cannot serve).
    async fn ready(&self) -> Response;
}

/// The settings of the stack, from the process's configuration.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// The largest accepted request body, in bytes (413 above it).
    pub body_limit_bytes: usize,
    /// How long one request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long an answer to an `Idempotency-Key` request is kept for replay.
    pub idempotency_ttl: Duration,
    /// Whether answers are compressed for clients that accept it (ADR 0024).
    pub compression: bool,
    /// Bodies shorter than this many bytes are sent unencoded.
    pub compression_min_bytes: usize,
    /// Bytes of encoded bodies kept in memory for reuse (0: none).
    pub compression_cache_bytes: u64,
    /// `Strict-Transport-Security` max-age, when sent.
    pub hsts_max_age_seconds: Option<u64>,
    /// Origins whose pages may call the API (`*`: any).
    pub cors_origins: Vec<String>,
    /// Whether cross-origin requests may carry cookies.
    pub cors_allow_credentials: bool,
    /// The refresh-token cookie (browser mode), when on.
    pub cookie: Option<CookiePolicy>,
    /// Whether server spans are exported (ADR 0014).
    pub traces: bool,
    /// Whether HTTP metrics are exported.
    pub metrics: bool,
}

/// What the stack is built over, besides the use cases and its settings.
pub struct StackParts {
    /// The rate-limit middleware.
    pub rate_limit: RateLimit,
    /// Where answers to `Idempotency-Key` requests are kept.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The rendered-list cache, when the read cache is on.
    pub rendered: Option<Arc<dyn RenderedListCache>>,
    /// What `GET /health/ready` reports.
    pub readiness: Arc<dyn Readiness>,
}

impl std::fmt::Debug for StackParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackParts")
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

/// The whole HTTP stack over `app`.
pub fn endpoint(
    app: &Conduit,
    settings: &StackSettings,
    parts: StackParts,
) -> BoxEndpoint<'static> {
    let api = api_service(app, settings.cookie, parts.rendered);
    let document = openapi::document(app);
    let allowed = Arc::new(openapi::AllowedMethods::from_document(&document, "/api"));
    let readiness = parts.readiness;
    let routes = documents(&api, &document)
        .nest("/api", api.with(ConditionalGet))
        .at("/health/live", get(make_sync(|_| "ok")))
        .at(
            "/health/ready",
            get(poem::endpoint::make(move |_| {
                let readiness = readiness.clone();
                async move { readiness.ready().await }
            })),
        );
    let idempotency = Idempotency::new(
        parts.idempotency,
        app.clone(),
        allowed.clone(),
        settings.request_timeout,
        settings.idempotency_ttl,
    );
    let inner = with_body_limit(routes, settings.body_limit_bytes)
        // Inside the body limit, so the body it hashes is already read and bounded; it
        // normalizes errors itself, so the answer it keeps is the one sent. Inside the
        // rate limiter: a replay counts like any request (ADR 0025).
        .with(idempotency);
    with_edge(
        with_normalized_errors(inner, allowed.clone()),
        settings,
        parts.rate_limit,
        allowed,
    )
}

/// Buffers the body up to `limit` bytes (413 above), so chunked uploads are bounded too.
fn with_body_limit(routes: Route, limit: usize) -> impl Endpoint<Output = Response> {
    routes.around(move |ep, mut req| async move {
        let body = req.take_body();
        match read_limited(body, limit).await {
            Ok(bytes) => req.set_body(bytes),
            Err(ReadBodyError::PayloadTooLarge) => return Ok(error::payload_too_large()),
            Err(other) => return Err(other.into()),
        }
        ep.call(req).await.map(IntoResponse::into_response)
    })
}

/// The whole of `body`, or `PayloadTooLarge` once it passes `limit` bytes: what poem's
/// `Body::into_bytes_limit` does, taking the chunks as they come instead of copying them
/// through a 4 KiB array. That array lived in the request's future, which every layer
/// outside this one moves (a 4 KiB copy each time, ~40% of the instructions of
/// `GET /health/live`), and was zeroed for every request (docs/performance.md).
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ReadBodyError> {
    let mut chunks = std::pin::pin!(body.into_bytes_stream());
    // A body of one chunk is that chunk; one of several is joined.
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = chunks.next().await.transpose()? {
        let read = joined.as_ref().map_or(first.len(), BytesMut::len);
        if read + chunk.len() > limit {
            return Err(ReadBodyError::PayloadTooLarge);
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut both = BytesMut::with_capacity(read + chunk.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&chunk);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// Every error of `inner` as the structured error body; a 405 lists the methods the
/// path does answer (RFC 9110).
fn with_normalized_errors(
    inner: impl Endpoint + 'static,
    allowed: Arc<openapi::AllowedMethods>,
) -> impl Endpoint<Output = Response> {
    inner.around(move |ep, req| {
        let allowed = allowed.clone();
        async move {
            // Shares the request's bytes: only a 405 reads it.
            let uri = req.uri().clone();
            Ok(match ep.call(req).await {
                Ok(response) => response.into_response(),
                Err(err) => {
                    let wrong_method = err.is::<MethodNotAllowedError>();
                    let mut response = error::normalize(err);
                    if let Some(methods) = allowed.for_path(uri.path()).filter(|_| wrong_method)
                        && let Ok(value) = methods.parse()
                    {
                        response.headers_mut().insert(header::ALLOW, value);
                    }
                    response
                }
            })
        }
    })
}

/// The layers every answer passes through, innermost first.
fn with_edge(
    inner: impl Endpoint<Output = Response> + 'static,
    settings: &StackSettings,
    rate_limit: RateLimit,
    allowed: Arc<openapi::AllowedMethods>,
) -> BoxEndpoint<'static> {
    let compression = Compression::new(
        settings.compression_min_bytes,
        settings.compression_cache_bytes,
    );
    inner
        // Outside the body limit, so a refused request's body is never read; inside the
        // security headers, CORS and tracing, so a 429 gets them and is logged like any
        // other answer.
        .with(rate_limit)
        .with(CatchPanic::new().with_handler(|_| error::internal_error_response()))
        // Inside the security headers and CORS, so that its 503 carries them.
        .with(TimeLimit(settings.request_timeout))
        .with(SecurityHeaders::new(settings.hsts_max_age_seconds))
        // Browsers hide response headers from scripts unless they are exposed.
        .with(Cors::new(
            &settings.cors_origins,
            settings.cors_allow_credentials,
            &[
                RATE_LIMIT,
                RATE_LIMIT_POLICY,
                header::RETRY_AFTER.as_str(),
                header::ETAG.as_str(),
                REQUEST_ID,
                IDEMPOTENT_REPLAYED,
            ],
            allowed.clone(),
        ))
        // Outside every layer that writes a body, so that refusals are compressed too;
        // inside the request log, so that its time counts (ADR 0024).
        .with_if(settings.compression, compression)
        // Outermost: every answer above, errors and 429s included, gets the request id
        // and its log line.
        .with(RequestLog::new(allowed.clone()))
        .with(HttpTelemetry::new(
            allowed,
            settings.traces,
            settings.metrics,
        ))
        .boxed()
}

/// The published document as JSON (`/openapi.json`) and YAML (`/openapi.yaml`), and
/// Swagger UI with it embedded (`/docs`).
fn documents(api: &OpenApiService<Apis, ()>, document: &serde_json::Value) -> Route {
    let json = serde_json::to_string(document).unwrap_or_default();
    let yaml = openapi::to_yaml(document);
    // Swagger UI with the published document (not poem's raw one) embedded.
    let docs_html = api.swagger_ui_html().replacen(&api.spec(), &json, 1);
    let docs_csp = headers::inline_page_csp(&docs_html);
    Route::new()
        .at(
            "/openapi.json",
            document_endpoint(json, "application/json; charset=utf-8", None),
        )
        .at(
            "/openapi.yaml",
            document_endpoint(yaml, "application/yaml; charset=utf-8", None),
        )
        .at(
            "/docs",
            document_endpoint(
                docs_html,
                "text/html; charset=utf-8",
                Some(("content-security-policy", docs_csp)),
            ),
        )
}

/// A fixed document (`body` of `content_type`, with an `extra` header), with an entity
/// tag computed once and conditional requests answered.
fn document_endpoint(
    body: String,
    content_type: &'static str,
    extra: Option<(&'static str, String)>,
) -> impl Endpoint<Output = Response> {
    let etag = crate::conditional::entity_tag(body.as_bytes());
    let body = Bytes::from(body);
    get(make_sync(move |_| {
        let mut response = Response::builder()
            .content_type(content_type)
            .header(header::ETAG, etag.clone())
            // Anyone may keep it, and must ask whether it changed.
            .header(header::CACHE_CONTROL, "no-cache");
        if let Some((name, value)) = &extra {
            response = response.header(*name, value.clone());
        }
        response.body(body.clone())
    }))
    .with(ConditionalGet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&'static str]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        Body::from_bytes_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_up_to_the_limit() {
        for chunks in [
            &[][..],
            &[""],
            &["abc"],
            &["", "abc"],
            &["a", "", "bc"],
            &["ab", "c"],
        ] {
            let read = read_limited(chunked(chunks), 3).await.expect("read");
            assert_eq!(read, Bytes::from_static(b"abc")[..chunks.concat().len()]);
        }
        let many = read_limited(chunked(&["ab", "cd", "ef"]), 6).await;
        assert_eq!(many.expect("read"), Bytes::from_static(b"abcdef"));
        for over in [&["abcd"][..], &["ab", "cd"], &["a", "b", "c", "d"]] {
            assert!(matches!(
                read_limited(chunked(over), 3).await,
                Err(ReadBodyError::PayloadTooLarge)
            ));
        }
        let broken: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"a")),
            Err(std::io::Error::other("reset")),
        ];
        let broken = Body::from_bytes_stream(futures_util::stream::iter(broken));
        assert!(matches!(
            read_limited(broken, 3).await,
            Err(ReadBodyError::Io(_))
        ));
    }
}
