//! Idempotent retries of writes (ADR 0025): `POST` requests under `/api` may carry an
//! `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header). The first
//! request with a key runs; its answer is kept (24 hours by default) and a retry with
//! the same key and the same request gets that answer again, marked
//! `Idempotent-Replayed: true`, without the work being done twice.
//!
//! - **Which requests.** `POST` to a route that answers `POST`, with the header, from an
//!   authenticated caller. Keys are scoped to the user (`user:<id>`), whether the
//!   caller signs in with an access token or one of their API keys. A request without
//!   credentials, or with credentials the handler would refuse, runs as if it had no
//!   key: the handler answers it (401, 403). The operations whose answers carry
//!   credentials ([`UNSTORED_PATHS`]: sign-up, login, refresh, the OAuth exchange,
//!   API-key creation) never have their answers stored, whoever calls.
//! - **The key.** 1 to 255 visible ASCII characters; anything else is 422
//!   (`validation_failed`, on `Idempotency-Key`), on every `POST`.
//! - **The same request.** Method, path (with the query) and body, hashed with SHA-256.
//!   The same key with another request is 422 (`idempotency_key_reused`); while the
//!   first request with a key runs, a second is 409 (`idempotency_key_in_flight`) with
//!   `Retry-After`.
//! - **What is kept.** Every answer below 500, refusals of the request included (a 422
//!   for a blank title, a 404 for a missing article: a retry of a refused request is
//!   refused the same way), with its status, body and the headers that describe them
//!   ([`KEPT_HEADERS`]). Not kept ([`kept`]): 401 and 403, which are about the
//!   credential rather than the request (the retry, with a refreshed token, must run),
//!   408 and 429, and every 5xx. Headers the outer layers add (rate limits, request id,
//!   security headers, `Content-Encoding`) are fresh on a replay. An answer not kept, a
//!   request cut off by the time limit or a closed connection releases the key, so a
//!   retry runs.
//! - **Who is the caller.** An access token is checked in full (signature and session,
//!   [`Conduit::authenticate`]), not by its signature alone: a token revoked since the
//!   first request must get 401 from the handler, never the kept answer. It costs one
//!   session look-up more, only on requests that carry a key.
//! - **Crash safety.** The claim is a lease that lapses after the request time limit
//!   (plus a margin); if the instance dies mid-request, a retry runs after that.
//! - **Store failure.** If the store cannot be reached the request is answered 503: a
//!   client that sent a key asked not to have the work done twice, which the server could
//!   no longer promise.
//!
//! It sits inside the body limit (the body is already read, bounded, when it is hashed)
//! and inside the rate limiter (a replay counts against the allowance like any request);
//! it normalizes handler errors itself, so the answer it keeps is the one sent.

use std::{sync::Arc, time::Duration};

use conduit_app::Conduit;
use conduit_domain::{
    UserId,
    api_key::Scope,
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey, StoredResponse},
    ports::IdempotencyStore,
    time::Timestamp,
};
use poem::{
    Body, Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
};
use sha2::{Digest, Sha256};

use crate::{
    error::{self, ApiError, ErrorCode},
    openapi::AllowedMethods,
    routes,
    security::bearer_token,
};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The header that marks a replayed answer.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
/// `POST` operations (paths under `/api`) whose answers carry credentials (an access
/// token, a refresh token or cookie, an API key): never stored, so no secret sits in the
/// store for a day and none can be replayed to someone else. Retrying them is safe
/// anyway: a repeated sign-up is refused as taken, a repeated login or exchange at
/// worst opens another session, a repeated refresh falls under the refresh grace rule.
pub const UNSTORED_PATHS: [&str; 5] = [
    "/users",
    "/users/login",
    "/auth/refresh",
    "/auth/oauth/exchange",
    "/api-keys",
];
/// Response headers kept with an answer and replayed.
pub const KEPT_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::CACHE_CONTROL,
];
/// How long past the request time limit a claim's lease runs: the time to store the
/// answer after the handler finished.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The scope of `user`'s keys.
pub fn user_scope(user: UserId) -> String {
    format!("user:{user}")
}

/// What identifies a request for its key: SHA-256 over the method, the path with its
/// query, and the body, in hex.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), path_and_query.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hex::encode(hash.finalize())
}

/// The API-key scope the `POST` at `path` needs, from its operation's descriptor, or
/// `None` when API keys are not accepted there.
fn api_key_scope(allowed: &AllowedMethods, path: &str) -> Option<Scope> {
    let template = allowed.template(path)?.strip_prefix("/api")?;
    routes::operation_at(routes::operation::Method::Post, template)?.scope
}

/// The key sent, if any; 422 when it is malformed or sent twice.
fn key_of(req: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid =
        |message: String| ApiError::new(ErrorCode::ValidationFailed, IDEMPOTENCY_KEY, message);
    if values.next().is_some() {
        return Err(invalid("must be sent once".into()));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid("is invalid: 1 to 255 visible ASCII characters".into()))?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|reason| invalid(reason.to_string()))
}

/// The idempotency middleware; see the module docs.
#[derive(Clone)]
pub struct Idempotency {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn IdempotencyStore>,
    app: Conduit,
    routes: Arc<AllowedMethods>,
    lease: Duration,
    ttl: Duration,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("lease", &self.shared.lease)
            .field("ttl", &self.shared.ttl)
            .finish_non_exhaustive()
    }
}

impl Idempotency {
    /// Keeps answers in `store` for `ttl`; `request_time_limit` bounds a claim's lease.
    /// `app` verifies credentials, `routes` tells which paths answer `POST`.
    pub fn new(
        store: Arc<dyn IdempotencyStore>,
        app: Conduit,
        routes: Arc<AllowedMethods>,
        request_time_limit: Duration,
        ttl: Duration,
    ) -> Self {
        Idempotency {
            shared: Arc::new(Shared {
                store,
                app,
                routes,
                lease: request_time_limit + LEASE_MARGIN,
                ttl,
            }),
        }
    }
}

impl Shared {
    /// Whether `path` is a route that answers `POST`.
    fn answers_post(&self, path: &str) -> bool {
        self.routes
            .for_path(path)
            .is_some_and(|methods| methods.split(", ").any(|m| m == "POST"))
    }

    /// Whose key it is: the user of a valid access token, or of a valid API key that
    /// allows this operation; `None` when the handler would refuse the caller (or has
    /// none to refuse).
    async fn scope(&self, req: &Request, path: &str) -> Option<String> {
        if let Some(authorization) = req.header(header::AUTHORIZATION) {
            let token = bearer_token(authorization)?;
            // The full check (signature and session), not the signature alone: a
            // revoked token must not be replayed an answer (ADR 0025).
            return self
                .app
                .authenticate(token)
                .await
                .ok()
                .map(|claims| user_scope(claims.user));
        }
        let key = req.header("x-api-key")?;
        let needed = api_key_scope(&self.routes, path)?;
        self.app
            .authenticate_api_key(key, needed)
            .await
            .ok()
            .map(user_scope)
    }

    fn now(&self) -> Timestamp {
        self.app.now()
    }

    fn after(&self, at: Timestamp, duration: Duration) -> Timestamp {
        let duration = time::Duration::try_from(duration).unwrap_or(time::Duration::DAY);
        Timestamp::new(at.as_offset_date_time() + duration)
    }
}

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        IdempotencyEndpoint {
            inner: ep,
            shared: self.shared.clone(),
        }
    }
}

/// The endpoint made by [`Idempotency`].
pub struct IdempotencyEndpoint<E> {
    inner: E,
    shared: Arc<Shared>,
}

impl<E> std::fmt::Debug for IdempotencyEndpoint<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyEndpoint")
            .finish_non_exhaustive()
    }
}

impl<E: Endpoint> IdempotencyEndpoint<E> {
    /// A request this layer does not handle, untouched: its errors are left to the
    /// outer layer (which adds `Allow` to a 405, say).
    async fn pass(&self, req: Request) -> Result<Response> {
        self.inner.call(req).await.map(IntoResponse::into_response)
    }

    /// A request whose answer may be kept: errors normalized here, so that what is kept
    /// is what is sent.
    async fn run(&self, req: Request) -> Response {
        self.pass(req).await.unwrap_or_else(error::normalize)
    }
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let shared = &self.shared;
        // Only writes are kept: other requests pass before anything is copied.
        if req.method() != Method::POST {
            return self.pass(req).await;
        }
        let path = req.uri().path().to_owned();
        let Some(api_path) = path.strip_prefix("/api") else {
            return self.pass(req).await;
        };
        if !shared.answers_post(&path) {
            return self.pass(req).await;
        }
        let key = match key_of(&req) {
            Ok(Some(key)) => key,
            Ok(None) => return self.pass(req).await,
            Err(invalid) => return Ok(invalid.into_response()),
        };
        if UNSTORED_PATHS.contains(&api_path.trim_end_matches('/')) {
            return self.pass(req).await;
        }
        let Some(scope) = shared.scope(&req, &path).await else {
            return self.pass(req).await;
        };
        // The body limit has read the body already: this takes the buffered bytes.
        let body = req.take_body().into_bytes().await?;
        let path_and_query = req
            .uri()
            .path_and_query()
            .map_or(path.as_str(), |pq| pq.as_str());
        let now = shared.now();
        let claim = IdempotencyClaim {
            scope,
            key,
            fingerprint: fingerprint(req.method().as_str(), path_and_query, &body),
            token: format!("{:032x}", rand::random::<u128>()),
            now,
            lease_until: shared.after(now, shared.lease),
        };
        req.set_body(body);
        match shared.store.begin(&claim).await {
            Err(err) => {
                tracing::error!(target: "idempotency", error = %err, "idempotency store failed; request refused");
                Ok(ApiError::from_body(ErrorCode::Unavailable.example()).into_response())
            }
            Ok(Begin::Completed {
                fingerprint,
                response,
            }) if fingerprint == claim.fingerprint => Ok(replay(response)),
            Ok(Begin::Completed { .. }) => Ok(reused()),
            Ok(Begin::InFlight { fingerprint, .. }) if fingerprint != claim.fingerprint => {
                Ok(reused())
            }
            Ok(Begin::InFlight { until, .. }) => Ok(in_flight(now, until)),
            Ok(Begin::Claimed) => {
                let lease = Lease {
                    shared: shared.clone(),
                    claim: Some(claim),
                };
                let response = self.run(req).await;
                Ok(lease.finish(response).await)
            }
        }
    }
}

/// A claim held by a running request. Dropped unfinished (the time limit cut the
/// request off, the client went away), it releases the key in the background, so a
/// retry need not wait for the lease to lapse.
struct Lease {
    shared: Arc<Shared>,
    claim: Option<IdempotencyClaim>,
}

impl Lease {
    /// Keeps `response` for replay when [`kept`], else releases the key; returns the
    /// response, whole.
    async fn finish(mut self, response: Response) -> Response {
        let Some(claim) = self.claim.take() else {
            return response;
        };
        let store = &self.shared.store;
        if !kept(response.status()) {
            release(store.as_ref(), &claim).await;
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match body.into_bytes().await {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::error!(target: "idempotency", error = %err, "answer unreadable; key released");
                release(store.as_ref(), &claim).await;
                return error::internal_error_response();
            }
        };
        let kept = StoredResponse {
            status: parts.status.as_u16(),
            headers: KEPT_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(name)?.to_str().ok()?;
                    Some((name.as_str().to_owned(), value.to_owned()))
                })
                .collect(),
            body: bytes.to_vec(),
        };
        let expires_at = self.shared.after(self.shared.now(), self.shared.ttl);
        match store
            .complete(&claim.scope, &claim.key, &claim.token, kept, expires_at)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(target: "idempotency", "answer not kept: the key's lease lapsed before the request finished");
            }
            Err(err) => {
                tracing::error!(target: "idempotency", error = %err, "answer not kept; a retry will run again once the lease lapses");
            }
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        let store = self.shared.store.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { release(store.as_ref(), &claim).await });
        }
    }
}

async fn release(store: &dyn IdempotencyStore, claim: &IdempotencyClaim) {
    if let Err(err) = store.release(&claim.scope, &claim.key, &claim.token).await {
        tracing::error!(target: "idempotency", error = %err, "key not released; a retry runs once the lease lapses");
    }
}

/// Whether an answer with `status` is kept for replay: every answer below 500 but those
/// about the credential rather than the request (401, 403), which the next attempt, with
/// a fresh token or another key, must not be served, and those that invite a retry (408,
/// 429). A 5xx releases the key: the retry runs.
pub fn kept(status: StatusCode) -> bool {
    !(status.is_server_error()
        || [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(&status))
}

/// The kept answer again, marked as a replay.
fn replay(kept: StoredResponse) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(kept.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .body(kept.body);
    let headers = response.headers_mut();
    for (name, value) in kept.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

/// 422: the key belongs to another request.
fn reused() -> Response {
    ApiError::from_body(ErrorCode::IdempotencyKeyReused.example()).into_response()
}

/// 409: the first request with the key is still running; retry when its lease lapses at
/// the latest.
fn in_flight(now: Timestamp, until: Timestamp) -> Response {
    let left = (until.as_offset_date_time() - now.as_offset_date_time()).whole_milliseconds();
    let millis = u64::try_from(left).unwrap_or(0);
    let seconds = millis.div_ceil(1000).max(1);
    let mut response = ApiError::new(
        ErrorCode::IdempotencyKeyInFlight,
        IDEMPOTENCY_KEY,
        format!("a request with this key is still in progress, retry in {seconds} seconds"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_requests_apart() {
        let base = fingerprint("POST", "/api/articles", b"{}");
        assert_eq!(base.len(), 64);
        assert_eq!(base, fingerprint("POST", "/api/articles", b"{}"));
        for other in [
            fingerprint("PUT", "/api/articles", b"{}"),
            fingerprint("POST", "/api/articles?x=1", b"{}"),
            fingerprint("POST", "/api/articles", b"{ }"),
            // The lengths keep the parts apart: moving bytes between them changes it.
            fingerprint("POST", "/api/articles{", b"}"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn answers_about_the_request_are_kept_and_others_are_not() {
        for status in [200, 201, 204, 400, 404, 409, 413, 415, 422] {
            let status = StatusCode::from_u16(status).expect("a status");
            assert!(kept(status), "{status} is kept");
        }
        for status in [401, 403, 408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(status).expect("a status");
            assert!(!kept(status), "{status} is not kept");
        }
    }

    #[test]
    fn api_key_scopes_are_the_descriptors() {
        let mut paths = serde_json::Map::new();
        for operation in routes::OPERATIONS {
            paths
                .entry(operation.path)
                .or_insert_with(|| serde_json::json!({}))[operation.method.as_str()] =
                serde_json::json!({});
        }
        let allowed = AllowedMethods::from_document(&serde_json::json!({ "paths": paths }), "/api");
        for (path, scope) in [
            ("/api/articles", Some(Scope::ArticlesWrite)),
            ("/api/articles/a-slug/favorite", Some(Scope::FavoritesWrite)),
            ("/api/articles/a-slug/comments", Some(Scope::CommentsWrite)),
            ("/api/profiles/jake/follow", Some(Scope::FollowsWrite)),
            ("/api/auth/logout", None),
            ("/api-keys", None),
            ("/api/api-keys", None),
            ("/api/nowhere", None),
        ] {
            assert_eq!(api_key_scope(&allowed, path), scope, "{path}");
        }
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_a_second() {
        let now = Timestamp::new(time::macros::datetime!(2026-12-04 10:00:00 UTC));
        let later =
            |ms| Timestamp::new(now.as_offset_date_time() + time::Duration::milliseconds(ms));
        for (ms, expected) in [
            (0, "1"),
            (-5_000, "1"),
            (1, "1"),
            (1_001, "2"),
            (35_000, "35"),
        ] {
            let response = in_flight(now, later(ms));
            assert_eq!(response.status(), StatusCode::CONFLICT);
            assert_eq!(response.headers()[header::RETRY_AFTER], expected, "{ms} ms");
        }
    }
}
