//! The service's metrics (ADR 0014), recorded through the OpenTelemetry API.
//!
//! Until the process installs a meter provider (only when an OTLP endpoint
//! is configured; the server crate's `telemetry::init`), the global provider is OpenTelemetry's no-op one: instruments made
//! from it discard what they are given. Instruments are therefore made at start-up,
//! after `init`, never in statics that could be created before it.
//!
//! | name | kind | unit | attributes |
//! |---|---|---|---|
//! | `http.server.request.duration` | histogram | s | `http.request.method`, `http.route` (when matched), `http.response.status_code`, `url.scheme` |
//! | `http.server.active_requests` | up-down counter | `{request}` | `http.request.method`, `url.scheme` |
//! | `db.client.connection.count` | observable up-down counter | `{connection}` | `db.client.connection.state` (`idle`, `used`), `db.client.connection.pool.name`, `db.system.name`; recorded by the server crate |
//! | `db.client.connection.max` | observable up-down counter | `{connection}` | `db.client.connection.pool.name`, `db.system.name` |
//! | `conduit.cache.lookups` | counter | `{lookup}` | `result` (`hit`, `miss`, `error`); recorded by `conduit-adapters` |
//! | `conduit.rate_limit.rejections` | counter | `{request}` | `policy` (`auth`, `write`, `read`) |

use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram, UpDownCounter},
};
use poem::http::Method;

/// The instrumentation scope of the service's own metrics (HTTP, rate limits, pool).
pub const METER: &str = "conduit-api";

/// `http.server.request.duration`
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
/// `http.server.active_requests`
pub const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";
/// `db.client.connection.count`
pub const DB_CLIENT_CONNECTION_COUNT: &str = "db.client.connection.count";
/// `db.client.connection.max`
pub const DB_CLIENT_CONNECTION_MAX: &str = "db.client.connection.max";
/// `conduit.rate_limit.rejections`
pub const RATE_LIMIT_REJECTIONS: &str = "conduit.rate_limit.rejections";

/// The bucket boundaries OpenTelemetry's HTTP conventions advise for request durations,
/// in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The HTTP server's instruments.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
    /// The instruments, from the global meter provider as it is now.
    pub fn new() -> Self {
        let meter = global::meter(METER);
        HttpMetrics {
            duration: meter
                .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of HTTP server requests.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests.")
                .build(),
        }
    }

    /// Counts a request in until the returned guard is dropped (when it is answered, or
    /// abandoned because the client went away).
    pub fn active(&self, method: &Method, scheme: &'static str) -> ActiveRequest {
        let attributes = [
            KeyValue::new("http.request.method", method_name(method)),
            KeyValue::new("url.scheme", scheme),
        ];
        self.active.add(1, &attributes);
        ActiveRequest {
            counter: self.active.clone(),
            attributes,
        }
    }

    /// Records one answered request.
    pub fn record(
        &self,
        method: &Method,
        scheme: &'static str,
        route: Option<&str>,
        status: u16,
        seconds: f64,
    ) {
        let mut attributes = Vec::with_capacity(4);
        attributes.push(KeyValue::new("http.request.method", method_name(method)));
        attributes.push(KeyValue::new("url.scheme", scheme));
        attributes.push(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if let Some(route) = route {
            attributes.push(KeyValue::new("http.route", route.to_owned()));
        }
        self.duration.record(seconds, &attributes);
    }
}

/// One request counted in `http.server.active_requests`; counted out when dropped.
#[derive(Debug)]
pub struct ActiveRequest {
    counter: UpDownCounter<i64>,
    attributes: [KeyValue; 2],
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.counter.add(-1, &self.attributes);
    }
}

/// The method as OpenTelemetry's conventions name it: one of the standard methods, or
/// `_OTHER` (so that made-up methods cannot grow the number of series without bound).
pub fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// The counter of requests refused by a rate-limit policy (attribute `policy`).
pub fn rate_limit_rejections() -> Counter<u64> {
    global::meter(METER)
        .u64_counter(RATE_LIMIT_REJECTIONS)
        .with_unit("{request}")
        .with_description("Requests refused with 429 by a rate-limit policy.")
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_name() {
        assert_eq!(method_name(&Method::GET), "GET");
        assert_eq!(method_name(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"BREW").expect("a method");
        assert_eq!(method_name(&odd), "_OTHER");
    }
}
