//! Logs, traces and metrics (ADR 0014).
//!
//! - **Logs** always: `tracing` events through a `fmt` layer, filtered by `RUST_LOG` or
//!   the configured filter, pretty or JSON.
//! - **Traces** only when an OTLP endpoint is configured with the standard variables
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): `tracing`
//!   spans become OpenTelemetry spans through `tracing-opentelemetry`, batched and sent
//!   over OTLP/HTTP (protobuf). Each request gets a server span (`conduit_api::telemetry::HttpTelemetry`),
//!   child of the caller's W3C `traceparent` when there is one; under it come the
//!   request-log span, the use cases' spans and sea-orm's statement spans. Only work done
//!   for a request is traced: spans with no traced parent (migrations at start-up,
//!   background tasks) and health probes are left out.
//! - **Metrics** only when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`
//!   or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`): see `conduit_api::metrics` for the instruments. They
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
//! Log lines go to standard output through a thread of their own (`conduit-log`), which
//! writes whatever has gathered in one system call: a request's thread only formats its
//! line and appends it to a buffer (`log_writer`; ADR 0014, "Writing the lines").
//!
//! [`Telemetry::shutdown`] flushes the exporters; dropping the [`Telemetry`] writes the
//! last log lines. The binary does both after the server has stopped, so a SIGTERM loses
//! nothing.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::{KeyValue, global, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource, metrics::PeriodicReader, metrics::SdkMeterProvider,
    propagation::TraceContextPropagator, trace::SdkTracerProvider,
};
use tracing::Metadata;
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{DynFilterFn, FilterExt, filter_fn},
    fmt::{self, time::SystemTime},
    layer::Context,
    prelude::*,
};

use crate::{
    config::{LogConfig, LogFormat},
    json_log::{JsonLines, SpanFields},
    log_writer::{BatchWriter, LineSink},
};

pub use conduit_api::telemetry::SERVER_SPAN_TARGET;

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

/// The exporting providers, to be shut down (flushed) when the process ends, and the
/// log lines' writing thread, which writes what is queued when this is dropped. Holds
/// no provider when nothing is exported.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    /// Held for its drop, which writes the last lines.
    _log_writer: Option<BatchWriter>,
}

impl Telemetry {
    /// Whether anything is exported.
    pub fn exporting(&self) -> bool {
        self.tracer_provider.is_some() || self.meter_provider.is_some()
    }

    /// Sends what is still buffered (spans, and a last reading of the metrics) and stops
    /// the exporters. Waits at most the exporters' timeouts
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by default). Log lines are still written
    /// until this is dropped.
    pub async fn shutdown(&mut self) {
        if !self.exporting() {
            return;
        }
        let tracer_provider = self.tracer_provider.take();
        let meter_provider = self.meter_provider.take();
        // The SDK's exporters block (their own threads, a blocking HTTP client): keep
        // them off the async workers.
        let _ = tokio::task::spawn_blocking(move || {
            shutdown_blocking(tracer_provider, meter_provider);
        })
        .await;
    }
}

fn shutdown_blocking(
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
) {
    if let Some(provider) = tracer_provider {
        TRACES.store(false, Ordering::Relaxed);
        if let Err(err) = provider.shutdown() {
            tracing::warn!(target: "conduit::telemetry", error = %err, "flushing spans failed");
        }
    }
    if let Some(provider) = meter_provider {
        METRICS.store(false, Ordering::Relaxed);
        if let Err(err) = provider.shutdown() {
            tracing::warn!(target: "conduit::telemetry", error = %err, "flushing metrics failed");
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

    // Batched: one write per batch instead of one per line, off the request's thread.
    let log_writer = BatchWriter::start(std::io::stdout());
    let log_problem = log_writer.as_ref().err().map(ToString::to_string);
    let log_writer = log_writer.ok();
    let sink = log_writer
        .as_ref()
        .map_or_else(LineSink::stdout, BatchWriter::sink);
    let mut layers = vec![log_layer(config, sink)];
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
        shutdown_blocking(tracer_provider, meter_provider);
        return Telemetry::default();
    }
    global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &meter_provider {
        global::set_meter_provider(provider.clone());
    }
    TRACES.store(tracer_provider.is_some(), Ordering::Relaxed);
    METRICS.store(meter_provider.is_some(), Ordering::Relaxed);
    if let Some(problem) = log_problem {
        tracing::warn!(
            target: "conduit::telemetry",
            error = %problem,
            "log lines are written one by one: the writing thread did not start"
        );
    }
    for problem in problems {
        tracing::warn!(target: "conduit::telemetry", "OpenTelemetry: {problem}");
    }
    let telemetry = Telemetry {
        tracer_provider,
        meter_provider,
        _log_writer: log_writer,
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

/// The log layer: pretty or JSON lines, filtered by `RUST_LOG` or the configured filter.
fn log_layer(config: &LogConfig, writer: LineSink) -> Box<dyn Layer<Registry> + Send + Sync> {
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
    match config.format {
        // The stock JSON format's line (flattened event, current span and span list),
        // written for less (`json_log`).
        LogFormat::Json => fmt::layer()
            .fmt_fields(SpanFields)
            .event_format(JsonLines::<SystemTime>::default())
            .with_writer(writer)
            .with_filter(log_filter)
            .boxed(),
        // `Auto` is resolved by validation; unvalidated (test) set-ups read as pretty.
        // Colours only for a terminal: escape codes in a file or a pipe are noise, and
        // writing them took ~6% of the CPU of `GET /health/live` (docs/performance.md,
        // "Reads against the floor").
        LogFormat::Pretty | LogFormat::Auto => fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_writer(writer)
            .with_filter(log_filter)
            .boxed(),
    }
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
}
