//! Logs, traces and metrics (ADR 0014).
//!
//! - **Logs** always: `tracing` events through a `fmt` layer, filtered by `RUST_LOG` or
//!   the configured filter, pretty or JSON.
//! - **Traces** only when an OTLP endpoint is configured with the standard variables
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): `tracing`
//!   spans become OpenTelemetry spans through `tracing-opentelemetry`, batched and sent
//!   over OTLP/HTTP (protobuf). Each request gets a server span ([`HttpTelemetry`]),
//!   child of the caller's W3C `traceparent` when there is one; under it come the
//!   request-log span, the use cases' spans and sea-orm's statement spans. Only work done
//!   for a request is traced: spans with no traced parent (migrations at start-up,
//!   background tasks) and health probes are left out.
//! - **Metrics** only when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`
//!   or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`): see [`metrics`] for the instruments. They
//!   are read every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60 000).
//!
//! With no endpoint set nothing is exported and nothing is recorded: no exporter thread,
//! the HTTP layer passes requests straight through, and the instruments elsewhere are
//! OpenTelemetry's no-ops. `OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none` and
//! `OTEL_METRICS_EXPORTER=none` switch export off too. `OTEL_SERVICE_NAME` names the
//! service (default `conduit`); `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER` and `OTEL_BSP_*` are read by the
//! OpenTelemetry SDK as usual.
//!
//! [`Telemetry::shutdown`] flushes what is still buffered; the binary calls it after the
//! server has stopped, so a SIGTERM loses nothing.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use opentelemetry::{
    KeyValue, global,
    propagation::{Extractor, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{
    Resource, metrics::PeriodicReader, metrics::SdkMeterProvider,
    propagation::TraceContextPropagator, trace::SdkTracerProvider,
};
use poem::{
    Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Result,
    http::{HeaderMap, StatusCode, Version, uri::Scheme},
};
use tracing::{Instrument, Metadata, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{DynFilterFn, FilterExt, filter_fn},
    fmt,
    layer::Context,
    prelude::*,
};

use crate::{
    config::{LogConfig, LogFormat},
    metrics,
    openapi::AllowedMethods,
};

/// The `tracing` target of the per-request server span. Logs leave it out: the request
/// log has its own span with the same facts.
pub const SERVER_SPAN_TARGET: &str = "conduit::otel";

/// The service name when neither `OTEL_SERVICE_NAME` nor `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` gives one.
pub const DEFAULT_SERVICE_NAME: &str = "conduit";

/// The instrumentation scope of the spans.
const TRACER: &str = "conduit";

/// What becomes part of a trace: `INFO` and above, except the transport's own
/// internals (the exporter's HTTP client must not trace its own exports) and sqlx's
/// per-statement events (sea-orm's statement spans say the same).
const TRACE_DIRECTIVES: &str = "info,sqlx=warn,hyper=off,hyper_util=off,h2=off,reqwest=off,\
                                tower=off,opentelemetry=off,opentelemetry_sdk=off,\
                                opentelemetry_otlp=off,opentelemetry_http=off";

static TRACES: AtomicBool = AtomicBool::new(false);
static METRICS: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (set by [`init`]).
pub fn traces_enabled() -> bool {
    TRACES.load(Ordering::Relaxed)
}

/// Whether metrics are exported (set by [`init`]).
pub fn metrics_enabled() -> bool {
    METRICS.load(Ordering::Relaxed)
}

/// The exporting providers, to be shut down (flushed) when the process ends. Holds
/// nothing when nothing is exported.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Whether anything is exported.
    pub fn exporting(&self) -> bool {
        self.tracer_provider.is_some() || self.meter_provider.is_some()
    }

    /// Sends what is still buffered (spans, and a last reading of the metrics) and stops
    /// the exporters. Waits at most the exporters' timeouts
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by default).
    pub async fn shutdown(self) {
        if !self.exporting() {
            return;
        }
        // The SDK's exporters block (their own threads, a blocking HTTP client): keep
        // them off the async workers.
        let _ = tokio::task::spawn_blocking(move || self.shutdown_blocking()).await;
    }

    fn shutdown_blocking(self) {
        if let Some(provider) = self.tracer_provider {
            TRACES.store(false, Ordering::Relaxed);
            if let Err(err) = provider.shutdown() {
                tracing::warn!(target: "conduit::telemetry", error = %err, "flushing spans failed");
            }
        }
        if let Some(provider) = self.meter_provider {
            METRICS.store(false, Ordering::Relaxed);
            if let Err(err) = provider.shutdown() {
                tracing::warn!(target: "conduit::telemetry", error = %err, "flushing metrics failed");
            }
        }
    }
}

/// Installs the global subscriber (logs: `RUST_LOG` if set, else the configured filter)
/// and, when the environment configures an OTLP endpoint, the trace and metric
/// exporters. Calling it twice is harmless: the second call changes nothing and returns
/// an empty [`Telemetry`].
pub fn init(config: &LogConfig) -> Telemetry {
    let plan = ExportPlan::read(|name| std::env::var(name).ok());
    let mut problems = plan.warnings.clone();
    let resource = plan.resource();
    let tracer_provider = plan
        .traces
        .then(|| tracer_provider(resource.clone()))
        .and_then(|built| {
            built
                .map_err(|e| problems.push(format!("traces: {e}")))
                .ok()
        });
    let meter_provider = plan
        .metrics
        .then(|| meter_provider(resource))
        .and_then(|built| {
            built
                .map_err(|e| problems.push(format!("metrics: {e}")))
                .ok()
        });

    // Log lines carry the fields of our own spans (the request's, the use case's); other
    // crates' spans (one per Redis command, for one) are for traces only: formatting
    // their fields for the log layer cost ~5% of a cached list's CPU
    // (docs/performance.md). Their events are still logged.
    let log_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&config.filter))
        .and(filter_fn(|meta| {
            meta.target() != SERVER_SPAN_TARGET
                && (!meta.is_span() || meta.target().starts_with("conduit"))
        }));
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::with_capacity(2);
    layers.push(match config.format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_filter(log_filter)
            .boxed(),
        // `Auto` is resolved by validation; unvalidated (test) set-ups read as pretty.
        LogFormat::Pretty | LogFormat::Auto => fmt::layer().with_filter(log_filter).boxed(),
    });
    if let Some(provider) = &tracer_provider {
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(TRACER))
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_filter(trace_filter())
                .boxed(),
        );
    }
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        // Installed before (tests start many servers in one process): keep that one.
        Telemetry {
            tracer_provider,
            meter_provider,
        }
        .shutdown_blocking();
        return Telemetry::default();
    }
    global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &meter_provider {
        global::set_meter_provider(provider.clone());
    }
    TRACES.store(tracer_provider.is_some(), Ordering::Relaxed);
    METRICS.store(meter_provider.is_some(), Ordering::Relaxed);
    for problem in problems {
        tracing::warn!(target: "conduit::telemetry", "OpenTelemetry: {problem}");
    }
    let telemetry = Telemetry {
        tracer_provider,
        meter_provider,
    };
    if telemetry.exporting() {
        tracing::info!(
            target: "conduit::telemetry",
            traces = telemetry.tracer_provider.is_some(),
            metrics = telemetry.meter_provider.is_some(),
            "exporting telemetry over OTLP/HTTP"
        );
    }
    telemetry
}

fn tracer_provider(resource: Resource) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

fn meter_provider(resource: Resource) -> Result<SdkMeterProvider, String> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).build())
        .with_resource(resource)
        .build())
}

/// Which spans the OpenTelemetry layer takes: [`TRACE_DIRECTIVES`], and of the spans
/// only request server spans and those opened inside a traced span.
fn trace_filter() -> impl tracing_subscriber::layer::Filter<Registry> {
    EnvFilter::new(TRACE_DIRECTIVES).and(DynFilterFn::new(
        |meta: &Metadata<'_>, cx: &Context<'_, Registry>| {
            !meta.is_span() || meta.target() == SERVER_SPAN_TARGET || cx.lookup_current().is_some()
        },
    ))
}

/// What the environment asks to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ExportPlan {
    traces: bool,
    metrics: bool,
    /// Whether the environment names no service (it is then [`DEFAULT_SERVICE_NAME`]).
    default_service_name: bool,
    /// Whether `OTEL_RESOURCE_ATTRIBUTES` sets `service.version`.
    version_given: bool,
    warnings: Vec<String>,
}

impl ExportPlan {
    /// The plan for the environment `var` reads.
    fn read(var: impl Fn(&str) -> Option<String>) -> ExportPlan {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut plan = ExportPlan::default();
        let resource_keys: Vec<String> = set("OTEL_RESOURCE_ATTRIBUTES")
            .map(|attrs| {
                attrs
                    .split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(key, _)| key.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        plan.default_service_name = set("OTEL_SERVICE_NAME").is_none()
            && !resource_keys.iter().any(|k| k == "service.name");
        plan.version_given = resource_keys.iter().any(|k| k == "service.version");
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return plan;
        }
        let general_endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let mut wanted = |signal: &str, exporter_var: &str, endpoint_var: &str| -> bool {
            if !(general_endpoint || set(endpoint_var).is_some()) {
                return false;
            }
            match set(exporter_var).map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("otlp") => {}
                Some("none") => return false,
                Some(other) => {
                    plan.warnings.push(format!(
                        "{exporter_var}={other} is not supported; exporting {signal} over OTLP"
                    ));
                }
            }
            let protocol_var = format!("OTEL_EXPORTER_OTLP_{}_PROTOCOL", signal.to_uppercase());
            if let Some(protocol) =
                set(&protocol_var).or_else(|| set("OTEL_EXPORTER_OTLP_PROTOCOL"))
                && protocol != "http/protobuf"
            {
                plan.warnings.push(format!(
                    "protocol {protocol} is not built in; exporting {signal} over http/protobuf \
                     (the collector's port 4318)"
                ));
            }
            true
        };
        plan.traces = wanted(
            "traces",
            "OTEL_TRACES_EXPORTER",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        );
        plan.metrics = wanted(
            "metrics",
            "OTEL_METRICS_EXPORTER",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        );
        plan
    }

    /// The resource every span and metric is reported under: the SDK's detectors
    /// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`), with this service's defaults.
    fn resource(&self) -> Resource {
        let mut builder = Resource::builder();
        if self.default_service_name {
            builder = builder.with_service_name(DEFAULT_SERVICE_NAME);
        }
        if !self.version_given {
            builder =
                builder.with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
        }
        builder.build()
    }
}

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
    /// The layer for what [`init`] set up (make it after `init`), naming routes by the
    /// documented paths in `routes` (the same table the request log and `Allow` use).
    pub fn new(routes: Arc<AllowedMethods>) -> Self {
        HttpTelemetry {
            traces: traces_enabled(),
            metrics: metrics_enabled().then(metrics::HttpMetrics::new),
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
    use std::collections::HashMap;

    use super::*;

    fn plan(vars: &[(&str, &str)]) -> ExportPlan {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ExportPlan::read(|name| vars.get(name).cloned())
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        let plan = plan(&[("OTEL_SERVICE_NAME", "x")]);
        assert!(!plan.traces && !plan.metrics);
        assert!(plan.warnings.is_empty());
        assert!(!plan.default_service_name);
    }

    #[test]
    fn the_general_endpoint_turns_both_signals_on() {
        let plan = plan(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]);
        assert!(plan.traces && plan.metrics);
        assert!(plan.default_service_name);
    }

    #[test]
    fn signal_endpoints_and_exporters_choose_signals() {
        let traces_only = plan(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4318/v1/traces",
        )]);
        assert!(traces_only.traces && !traces_only.metrics);
        let no_metrics = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]);
        assert!(no_metrics.traces && !no_metrics.metrics);
        let disabled = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert!(!disabled.traces && !disabled.metrics);
        let blank = plan(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")]);
        assert!(!blank.traces && !blank.metrics);
    }

    #[test]
    fn unsupported_protocols_are_reported() {
        let plan = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(plan.traces);
        assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
        assert!(plan.warnings[0].contains("grpc"));
    }

    #[test]
    fn the_service_name_defaults_unless_given() {
        assert!(plan(&[]).default_service_name);
        let given = plan(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod, service.name=api",
        )]);
        assert!(!given.default_service_name);
        let resource = plan(&[]).resource();
        let name = resource.get(&opentelemetry::Key::from_static_str("service.name"));
        assert_eq!(
            name.map(|v| v.to_string()).as_deref(),
            Some(DEFAULT_SERVICE_NAME)
        );
    }

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
