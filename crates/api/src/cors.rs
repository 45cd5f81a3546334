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

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, StatusCode, header},
};

use crate::error::{ApiError, ErrorCode};

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

#[derive(Debug)]
struct Policy {
    any_origin: bool,
    origins: Vec<String>,
    credentials: bool,
    expose: HeaderValue,
}

impl Cors {
    /// Allows `origins` (`"*"` for any), with cookies when `credentials`, exposing
    /// `expose` response headers to scripts.
    pub fn new(origins: &[String], credentials: bool, expose: &[&str]) -> Self {
        Cors {
            policy: Arc::new(Policy {
                any_origin: origins.iter().any(|o| o == "*"),
                origins: origins.iter().filter(|o| *o != "*").cloned().collect(),
                credentials,
                expose: HeaderValue::from_str(&expose.join(", "))
                    .unwrap_or_else(|_| HeaderValue::from_static("")),
            }),
        }
    }
}

impl Policy {
    fn allows(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
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
        let mut response = self.inner.call(req).await?.into_response();
        if allowed {
            self.policy.decorate(&mut response, &origin);
        }
        vary_on_origin(&mut response);
        Ok(response)
    }
}
