//! The outermost layer, a request id and one log line per request; and, further in,
//! the time limit.
//!
//! - **Request id.** A client's `X-Request-Id` is kept when it is a plausible id (1 to
//!   128 characters of letters, digits and `-_.:`), otherwise one is generated; it is
//!   echoed in the answer's `X-Request-Id`, and a 500 names it so that a user's report
//!   can be matched to the log.
//! - **Log line.** Each request runs in a `request` span with the request id, method and
//!   route *template* (`/api/articles/{slug}`: never the query string, which can hold
//!   one-time codes), plus `user_id` or `api_key_id` once the caller is known (recorded by
//!   the security extractors). When it is answered, one `INFO` event (target
//!   `conduit::http`) adds status and latency. In JSON format that is one line with all
//!   fields. Headers and bodies are never logged, so neither are passwords, tokens or
//!   keys.
//! - **Time limit** ([`TimeLimit`]). A request that takes longer than the configured
//!   limit is answered `503` (`unavailable`) and its work is dropped. It is a layer of its
//!   own inside the security headers and CORS, so that the `503` carries them too.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderName, HeaderValue, StatusCode, header},
};
use rand::Rng;
use tracing::{Instrument, field::Empty};

use crate::{
    error::{self, ApiError, ErrorCode},
    openapi::AllowedMethods,
};

/// The request-id header.
pub const REQUEST_ID: &str = "x-request-id";
/// [`REQUEST_ID`] as a header name, made once.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID);

/// Request ids and log lines.
#[derive(Clone)]
pub struct RequestLog {
    routes: Arc<AllowedMethods>,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog").finish_non_exhaustive()
    }
}

impl RequestLog {
    /// Names routes by the templates of `routes`.
    pub fn new(routes: Arc<AllowedMethods>) -> Self {
        RequestLog { routes }
    }
}

/// Answers `503` (`unavailable`) to a request still running after the limit, and drops
/// its work.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimit(pub Duration);

impl<E: Endpoint> Middleware<E> for TimeLimit {
    type Output = TimeLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        TimeLimitEndpoint {
            inner: ep,
            limit: self.0,
        }
    }
}

/// The endpoint made by [`TimeLimit`].
pub struct TimeLimitEndpoint<E> {
    inner: E,
    limit: Duration,
}

impl<E: Endpoint> Endpoint for TimeLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        match tokio::time::timeout(self.limit, self.inner.call(req)).await {
            Ok(outcome) => outcome.map(IntoResponse::into_response),
            Err(_) => {
                tracing::warn!(
                    timeout_seconds = self.limit.as_secs_f64(),
                    "request cut off at the time limit"
                );
                Ok(ApiError::new(
                    ErrorCode::Unavailable,
                    "server",
                    "the request took too long; retry later",
                )
                .into_response())
            }
        }
    }
}

/// The client's id if it is plausible, else a new random one (128 bits, hex): the value
/// of the answer's `X-Request-Id`, always visible ASCII.
pub fn request_id(sent: Option<&HeaderValue>) -> HeaderValue {
    let plausible = |id: &&HeaderValue| {
        (1..=128).contains(&id.len())
            && id
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    match sent.filter(plausible) {
        Some(id) => id.clone(),
        None => {
            let bytes: [u8; 16] = rand::rng().random();
            let mut hex = [0; 32];
            // Cannot fail: the buffer is exactly twice the length of the bytes.
            let _ = hex::encode_to_slice(bytes, &mut hex);
            HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    }
}

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestLogEndpoint {
            inner: ep,
            log: self.clone(),
        }
    }
}

/// The endpoint made by [`RequestLog`].
pub struct RequestLogEndpoint<E> {
    inner: E,
    log: RequestLog,
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let id_value = request_id(req.headers().get(REQUEST_ID));
        // Visible ASCII (`request_id`), so never the empty default.
        let id = id_value.to_str().unwrap_or_default();
        let path = req.uri().path();
        let route = match self.log.routes.template(path) {
            Some(template) => template,
            None if path.starts_with("/api/") || path == "/api" => "(unknown)",
            None => path,
        };
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            route = %route,
            user_id = Empty,
            api_key_id = Empty,
        );
        let outcome = self.inner.call(req).instrument(span.clone()).await;
        let mut response = match outcome {
            Ok(response) => response.into_response(),
            Err(err) => error::normalize(err),
        };
        if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
            // A new body that names the request; the headers the layers inside set
            // (security headers, CORS) stay.
            let mut named = ApiError::new(
                ErrorCode::Internal,
                "server",
                format!("internal error; quote request id {id} when reporting it"),
            )
            .into_response();
            for (name, value) in response.headers() {
                if name != header::CONTENT_TYPE
                    && name != header::CONTENT_LENGTH
                    && name != header::CONTENT_ENCODING
                {
                    named.headers_mut().insert(name, value.clone());
                }
            }
            response = named;
        }
        response.headers_mut().insert(REQUEST_ID_HEADER, id_value);
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        span.in_scope(|| {
            if status >= 500 {
                tracing::warn!(target: "conduit::http", status, latency_ms, "request");
            } else {
                tracing::info!(target: "conduit::http", status, latency_ms, "request");
            }
        });
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_ids_are_kept_and_others_replaced() {
        let kept = HeaderValue::from_static("abc-123_X.y:z");
        assert_eq!(request_id(Some(&kept)), "abc-123_X.y:z");
        for bad in ["", "has space", "semi;colon", &"x".repeat(129)] {
            let value = HeaderValue::from_str(bad).expect("header");
            let replaced = request_id(Some(&value));
            assert_ne!(replaced, bad);
            assert_eq!(replaced.len(), 32, "{replaced:?}");
        }
        assert_ne!(request_id(None), request_id(None));
    }

    #[poem::handler]
    fn explode() -> &'static str {
        panic!("secret internal detail")
    }

    #[poem::handler]
    async fn dawdle() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    }

    async fn call<E: Endpoint>(ep: E, timeout: Duration) -> (Response, String) {
        use poem::EndpointExt;
        let routes = Arc::new(AllowedMethods::from_document(
            &serde_json::json!({}),
            "/api",
        ));
        let ep = ep
            .with(
                poem::middleware::CatchPanic::new()
                    .with_handler(|_| error::internal_error_response()),
            )
            .with(TimeLimit(timeout))
            .with(crate::headers::SecurityHeaders::new(None))
            .with(RequestLog::new(routes));
        let mut response = ep
            .call(
                Request::builder()
                    .uri(poem::http::Uri::from_static("/api/x"))
                    .header(REQUEST_ID, "report-me-42")
                    .finish(),
            )
            .await
            .expect("an answer");
        let body = response.take_body().into_string().await.expect("body");
        (response, body)
    }

    #[tokio::test]
    async fn a_panic_is_a_500_that_names_the_request_and_nothing_else() {
        let (response, body) = call(explode, Duration::from_secs(5)).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[REQUEST_ID], "report-me-42");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["code"], "internal");
        let message = body["errors"]["server"][0].as_str().expect("message");
        assert!(message.contains("report-me-42"), "{message}");
        assert!(
            !body.to_string().contains("secret internal detail"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_request_past_the_time_limit_is_503() {
        let (response, body) = call(dawdle, Duration::from_millis(50)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(body.contains("\"code\":\"unavailable\""), "{body}");
    }
}
