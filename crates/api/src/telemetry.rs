//! The HTTP server's share of traces and metrics (ADR 0014): a server span and the
//! `http.server.*` metrics per request. The process installs the exporters (the server
//! crate's `telemetry::init`) and tells [`HttpTelemetry`] what is exported; with nothing
//! exported this layer passes requests straight through.

use std::{sync::Arc, time::Instant};

use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use poem::{
    Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Result,
    http::{HeaderMap, StatusCode, Version, uri::Scheme},
};
use tracing::{Instrument, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{metrics, openapi::AllowedMethods};

/// The `tracing` target of the per-request server span. Logs leave it out: the request
/// log has its own span with the same facts.
pub const SERVER_SPAN_TARGET: &str = "conduit::otel";

/// The HTTP server's traces and metrics: a server span per request (OpenTelemetry's
/// HTTP conventions; the child of the caller's `traceparent`) and the
/// `http.server.*` metrics. Outermost in the stack, so that it sees what the client
/// gets. Passes requests straight through when nothing is exported.
///
/// `http.route` is the documented template of the path (`/api/articles/{slug}`, as in
/// the request log), else the pattern poem matched (`/health/live`), else absent (a path
/// that matches no route), so that made-up paths cannot grow the number of series.
#[derive(Debug, Clone)]
pub struct HttpTelemetry {
    traces: bool,
    metrics: Option<metrics::HttpMetrics>,
    propagator: TraceContextPropagator,
    routes: Arc<AllowedMethods>,
}

impl HttpTelemetry {
    /// The layer, making server spans when `traces` are exported and recording the
    /// HTTP metrics when `metrics` are, naming routes by the documented paths in `routes`
    /// (the same table the request log and `Allow` use).
    pub fn new(routes: Arc<AllowedMethods>, traces: bool, metrics: bool) -> Self {
        HttpTelemetry {
            traces,
            metrics: metrics.then(metrics::HttpMetrics::new),
            propagator: TraceContextPropagator::new(),
            routes,
        }
    }
}

impl<E: Endpoint> Middleware<E> for HttpTelemetry {
    type Output = HttpTelemetryEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        HttpTelemetryEndpoint {
            inner: ep,
            telemetry: self.clone(),
        }
    }
}

/// The endpoint made by [`HttpTelemetry`].
pub struct HttpTelemetryEndpoint<E> {
    inner: E,
    telemetry: HttpTelemetry,
}

impl<E> std::fmt::Debug for HttpTelemetryEndpoint<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTelemetryEndpoint")
            .field("telemetry", &self.telemetry)
            .finish_non_exhaustive()
    }
}

impl<E: Endpoint> Endpoint for HttpTelemetryEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let telemetry = &self.telemetry;
        if !telemetry.traces && telemetry.metrics.is_none() {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let started = Instant::now();
        let method = req.method().clone();
        let scheme = scheme_name(req.scheme());
        let documented = telemetry
            .routes
            .template(req.uri().path())
            .map(str::to_owned);
        let span = if telemetry.traces && !untraced(req.uri().path()) {
            server_span(&req, scheme, documented.as_deref(), &telemetry.propagator)
        } else {
            Span::none()
        };
        let active = telemetry
            .metrics
            .as_ref()
            .map(|m| m.active(&method, scheme));
        let result = self
            .inner
            .call(req)
            .instrument(span.clone())
            .await
            .map(IntoResponse::into_response);
        let (status, pattern) = match &result {
            Ok(response) => (response.status(), response.data::<PathPattern>()),
            Err(err) => (err.status(), err.data::<PathPattern>()),
        };
        // Learnt from the match only when the document does not know the path.
        let matched = match (&documented, pattern) {
            (None, Some(pattern)) => Some(route_template(&pattern.0)),
            _ => None,
        };
        let route = documented.as_deref().or(matched.as_deref());
        if !span.is_disabled() {
            end_server_span(&span, &method, matched.as_deref(), status);
        }
        if let Some(metrics) = &telemetry.metrics {
            metrics.record(
                &method,
                scheme,
                route,
                status.as_u16(),
                started.elapsed().as_secs_f64(),
            );
        }
        drop(active);
        result
    }
}

/// Paths whose requests are not traced: health probes come every few seconds and say
/// nothing about the users' requests. (They are still counted in the metrics.)
fn untraced(path: &str) -> bool {
    path.starts_with("/health/")
}

fn scheme_name(scheme: &Scheme) -> &'static str {
    if *scheme == Scheme::HTTPS {
        "https"
    } else {
        "http"
    }
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// The server span of `req`, named `{method} {route}` (the method alone while the route
/// is unknown), and the child of the caller's trace when `traceparent` names one.
fn server_span(
    req: &Request,
    scheme: &'static str,
    route: Option<&str>,
    propagator: &TraceContextPropagator,
) -> Span {
    let method = metrics::method_name(req.method());
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let span = tracing::info_span!(
        target: SERVER_SPAN_TARGET,
        "http.server",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = Empty,
        url.path = req.uri().path(),
        url.scheme = scheme,
        network.protocol.version = protocol_version(req.version()),
        error.type = Empty,
    );
    let parent = propagator.extract(&Headers(req.headers()));
    if parent.span().span_context().is_valid() {
        // Fails only if the span is not traced after all (filtered out); then there is
        // nothing to attach.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the outcome on the server span, and the route when it was learnt from the
/// match (`matched`). Server spans are errors for 5xx answers only: a 4xx is the
/// client's mistake, not the server's.
fn end_server_span(
    span: &Span,
    method: &poem::http::Method,
    matched: Option<&str>,
    status: StatusCode,
) {
    if let Some(route) = matched {
        span.record("http.route", route);
        span.context()
            .span()
            .update_name(format!("{} {route}", metrics::method_name(method)));
    }
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status.as_str());
    }
}

/// poem's route pattern (`/api/articles/:slug`) in the form of the OpenAPI document
/// and the request log (`/api/articles/{slug}`).
pub fn route_template(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| match segment.strip_prefix([':', '*']) {
            Some(name) => {
                let name = name.split('<').next().unwrap_or(name);
                format!("{{{name}}}")
            }
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The request headers, as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns_take_the_documents_form() {
        assert_eq!(
            route_template("/api/articles/:slug"),
            "/api/articles/{slug}"
        );
        assert_eq!(
            route_template("/api/articles/:slug/comments/:id"),
            "/api/articles/{slug}/comments/{id}"
        );
        assert_eq!(route_template("/api/tags"), "/api/tags");
        assert_eq!(route_template("/files/*path"), "/files/{path}");
        assert_eq!(route_template("/n/:id<\\d+>"), "/n/{id}");
    }

    #[test]
    fn traceparent_is_read_from_the_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .expect("header"),
        );
        let cx = TraceContextPropagator::new().extract(&Headers(&headers));
        let remote = cx.span().span_context().clone();
        assert!(remote.is_valid() && remote.is_remote());
        assert_eq!(
            remote.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }
}
