//! The service's metrics (ADR 0014), recorded through the OpenTelemetry API.
//!
//! Until [`crate::telemetry::init`] installs a meter provider (only when an OTLP endpoint
//! is configured), the global provider is OpenTelemetry's no-op one: instruments made
//! from it discard what they are given. Instruments are therefore made at start-up,
//! after `init`, never in statics that could be created before it.
//!
//! | name | kind | unit | attributes |
//! |---|---|---|---|
//! | `http.server.request.duration` | histogram | s | `http.request.method`, `http.route` (when matched), `http.response.status_code`, `url.scheme` |
//! | `http.server.active_requests` | up-down counter | `{request}` | `http.request.method`, `url.scheme` |
//! | `db.client.connection.count` | observable up-down counter | `{connection}` | `db.client.connection.state` (`idle`, `used`), `db.client.connection.pool.name`, `db.system.name` |
//! | `db.client.connection.max` | observable up-down counter | `{connection}` | `db.client.connection.pool.name`, `db.system.name` |
//! | `conduit.cache.lookups` | counter | `{lookup}` | `result` (`hit`, `miss`, `error`); recorded by `conduit-adapters` |
//! | `conduit.rate_limit.rejections` | counter | `{request}` | `policy` (`auth`, `write`, `read`) |

use conduit_adapters::sql::SqlStore;
use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram, UpDownCounter},
};
use poem::http::Method;
use sea_orm::{DatabaseBackend, DatabaseConnection};

/// The instrumentation scope of the metrics recorded by this crate.
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

/// The pool's name in `db.client.connection.pool.name`: the service has one.
const POOL_NAME: &str = "main";

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

/// Reports the size of `store`'s connection pool (connections in use, idle, and the
/// maximum) whenever metrics are collected. Call once, after [`crate::telemetry::init`];
/// without a meter provider it does nothing.
pub fn observe_pool(store: &SqlStore) {
    let db = store.connection().clone();
    let Some(system) = system_name(&db) else {
        return;
    };
    let meter = global::meter(METER);
    let counted = db.clone();
    meter
        .i64_observable_up_down_counter(DB_CLIENT_CONNECTION_COUNT)
        .with_unit("{connection}")
        .with_description("Connections in the pool, by state.")
        .with_callback(move |observer| {
            if let Some(stats) = pool_stats(&counted) {
                let used = i64::from(stats.size).saturating_sub(stats.idle);
                for (state, value) in [("idle", stats.idle), ("used", used)] {
                    observer.observe(
                        value,
                        &[
                            KeyValue::new("db.client.connection.state", state),
                            KeyValue::new("db.client.connection.pool.name", POOL_NAME),
                            KeyValue::new("db.system.name", system),
                        ],
                    );
                }
            }
        })
        .build();
    meter
        .i64_observable_up_down_counter(DB_CLIENT_CONNECTION_MAX)
        .with_unit("{connection}")
        .with_description("The most connections the pool opens.")
        .with_callback(move |observer| {
            if let Some(stats) = pool_stats(&db) {
                observer.observe(
                    i64::from(stats.max),
                    &[
                        KeyValue::new("db.client.connection.pool.name", POOL_NAME),
                        KeyValue::new("db.system.name", system),
                    ],
                );
            }
        })
        .build();
}

/// `db.system.name` of the connection, for the engines the store supports.
fn system_name(db: &DatabaseConnection) -> Option<&'static str> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => Some("sqlite"),
        DatabaseBackend::Postgres => Some("postgresql"),
        _ => None,
    }
}

struct PoolStats {
    size: u32,
    idle: i64,
    max: u32,
}

/// The pool's counts now. sea-orm panics when asked for the pool of another engine, so
/// the engine is checked first.
fn pool_stats(db: &DatabaseConnection) -> Option<PoolStats> {
    let idle = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some(PoolStats {
                size: pool.size(),
                idle: idle(pool.num_idle()),
                max: pool.options().get_max_connections(),
            })
        }
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            Some(PoolStats {
                size: pool.size(),
                idle: idle(pool.num_idle()),
                max: pool.options().get_max_connections(),
            })
        }
        _ => None,
    }
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

    #[tokio::test]
    async fn pool_counts_read_the_live_pool() {
        let store = SqlStore::connect("sqlite::memory:").await.expect("sqlite");
        let stats = pool_stats(store.connection()).expect("a SQLite pool");
        assert_eq!(stats.max, 1);
        assert_eq!(stats.size, 1);
        assert_eq!(system_name(store.connection()), Some("sqlite"));
        // Without a meter provider, observing is accepted and does nothing.
        observe_pool(&store);
    }
}
