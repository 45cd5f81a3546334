//! Cross-origin resource sharing from an allow-list of origins.
//!
//! - A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin
//!   is answered here with `204` and the allowed methods and headers; from any other
//!   origin with `403` in the standard error shape.
//! - Other requests always reach the API; an allowed origin gets
//!   `Access-Control-Allow-Origin` (and `-Credentials` when configured) on the answer,
//!   any other origin gets no CORS headers, so its page cannot read the answer. Requests
//!   from the API's own pages (the docs) therefore keep working whatever the list says.
//! - `Vary: Origin` is added (never replacing other `Vary` values).
//! - A refusal explains itself to the operator: a request from an origin that is not
//!   allowed (and is not the API's own) is logged at `warn` (target `cors`) with the
//!   origin, the method and the route template, so a frontend showing a blank page can be
//!   traced to a missing entry in `http.cors_allowed_origins`. The lines are
//!   rate-limited (a burst of [`REFUSAL_LOGS_PER_MINUTE`], then that many a minute,
//!   evenly), so a scanner cannot flood the log; the next line written says how many
//!   were left out.

use std::{
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, StatusCode, header},
};

use crate::{
    error::{ApiError, ErrorCode},
    openapi::AllowedMethods,
};

/// How many refused origins are logged in a burst, and then a minute (evenly spaced): a
/// scanner gets 10 lines at once, then one every 6 seconds.
pub const REFUSAL_LOGS_PER_MINUTE: u32 = 10;
/// Longest origin written to the log; the header is the caller's to fill.
const ORIGIN_LOG_MAX: usize = 200;

/// Request headers a cross-origin page may send.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-api-key, x-request-id, \
     if-none-match, traceparent, tracestate, idempotency-key";
/// Methods the API answers.
const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
/// How long a browser may reuse a preflight answer, in seconds.
const MAX_AGE: &str = "600";

/// The CORS policy.
#[derive(Debug, Clone)]
pub struct Cors {
    policy: Arc<Policy>,
}

struct Policy {
    any_origin: bool,
    origins: Vec<String>,
    credentials: bool,
    expose: HeaderValue,
    /// Names the route of a refused request in its log line.
    routes: Arc<AllowedMethods>,
    /// Bounds the refusal log lines.
    refusal_logs: DefaultDirectRateLimiter,
    /// Refusals left out of the log since the last line written.
    unlogged: AtomicU64,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("any_origin", &self.any_origin)
            .field("origins", &self.origins)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Cors {
    /// Allows `origins` (`"*"` for any), with cookies when `credentials`, exposing
    /// `expose` response headers to scripts; `routes` name the routes of refused
    /// requests in the log.
    pub fn new(
        origins: &[String],
        credentials: bool,
        expose: &[&str],
        routes: Arc<AllowedMethods>,
    ) -> Self {
        let per_minute = NonZeroU32::new(REFUSAL_LOGS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Cors {
            policy: Arc::new(Policy {
                any_origin: origins.iter().any(|o| o == "*"),
                origins: origins.iter().filter(|o| *o != "*").cloned().collect(),
                credentials,
                expose: HeaderValue::from_str(&expose.join(", "))
                    .unwrap_or_else(|_| HeaderValue::from_static("")),
                routes,
                refusal_logs: RateLimiter::direct(Quota::per_minute(per_minute)),
                unlogged: AtomicU64::new(0),
            }),
        }
    }
}

impl Policy {
    fn allows(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Logs a request from an origin that may not read the answer, unless it is the
    /// API's own (same host: the documentation page) or the log budget is spent.
    fn log_refusal(&self, req: &Request, origin: &HeaderValue, preflight: bool) {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        if host.is_some_and(|host| authority.is_some_and(|a| a.eq_ignore_ascii_case(host))) {
            return;
        }
        if self.refusal_logs.check().is_err() {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let path = req.uri().path();
        let route = self.routes.template(path).unwrap_or(path);
        let origin: String = origin.chars().take(ORIGIN_LOG_MAX).collect();
        let method = if preflight {
            req.headers()
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .and_then(|m| m.to_str().ok())
                .unwrap_or("?")
        } else {
            req.method().as_str()
        };
        tracing::warn!(
            target: "cors",
            origin = %origin,
            method,
            route = %route.chars().take(ORIGIN_LOG_MAX).collect::<String>(),
            preflight,
            unlogged_before = self.unlogged.swap(0, Ordering::Relaxed),
            "a browser page from an origin not in http.cors_allowed_origins called the API; \
             add the origin there (or to http.cors_extra_origins) if it is your frontend"
        );
    }

    fn decorate(&self, response: &mut Response, origin: &HeaderValue) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if !self.expose.is_empty() {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose.clone());
        }
    }
}

/// Adds `Vary: Origin` unless it is there.
fn vary_on_origin(response: &mut Response) {
    let present = response
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin") || v.trim() == "*");
    if !present {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CorsEndpoint {
            inner: ep,
            policy: self.policy.clone(),
        }
    }
}

/// The endpoint made by [`Cors`].
#[derive(Debug)]
pub struct CorsEndpoint<E> {
    inner: E,
    policy: Arc<Policy>,
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let allowed = origin.to_str().is_ok_and(|o| self.policy.allows(o));
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            let mut response = if allowed {
                let mut response = StatusCode::NO_CONTENT.into_response();
                self.policy.decorate(&mut response, &origin);
                let headers = response.headers_mut();
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOWED_METHODS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOWED_HEADERS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE),
                );
                response
            } else {
                self.policy.log_refusal(&req, &origin, true);
                ApiError::new(
                    ErrorCode::Forbidden,
                    "origin",
                    "this origin may not call the API from a browser",
                )
                .into_response()
            };
            vary_on_origin(&mut response);
            return Ok(response);
        }
        if !allowed {
            self.policy.log_refusal(&req, &origin, false);
        }
        let mut response = self.inner.call(req).await?.into_response();
        if allowed {
            self.policy.decorate(&mut response, &origin);
        }
        vary_on_origin(&mut response);
        Ok(response)
    }
}
