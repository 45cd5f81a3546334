//! The database pool's metrics (ADR 0014): `db.client.connection.count` and
//! `db.client.connection.max`, observed whenever metrics are collected. The HTTP metrics
//! and the instrument table are in `conduit_api::metrics`.

use conduit_adapters::sql::SqlStore;
use conduit_api::metrics::{DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, METER};
use opentelemetry::{KeyValue, global};

/// The pool's name in `db.client.connection.pool.name`: the service has one.
const POOL_NAME: &str = "main";

/// Reports the size of `store`'s connection pool (connections in use, idle, and the
/// maximum) whenever metrics are collected. Call once, after [`crate::telemetry::init`];
/// without a meter provider it does nothing.
pub fn observe_pool(store: &SqlStore) {
    let system = store.system_name();
    let meter = global::meter(METER);
    let counted = store.clone();
    meter
        .i64_observable_up_down_counter(DB_CLIENT_CONNECTION_COUNT)
        .with_unit("{connection}")
        .with_description("Connections in the pool, by state.")
        .with_callback(move |observer| {
            if let Some(stats) = counted.pool_stats() {
                let used = stats.size.saturating_sub(stats.idle);
                for (state, value) in [("idle", stats.idle), ("used", used)] {
                    observer.observe(
                        i64::from(value),
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
    let store = store.clone();
    meter
        .i64_observable_up_down_counter(DB_CLIENT_CONNECTION_MAX)
        .with_unit("{connection}")
        .with_description("The most connections the pool opens.")
        .with_callback(move |observer| {
            if let Some(stats) = store.pool_stats() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pool_counts_read_the_live_pool() {
        let store = SqlStore::connect("sqlite::memory:").await.expect("sqlite");
        let stats = store.pool_stats().expect("a SQLite pool");
        assert_eq!(stats.max, 1);
        assert_eq!(stats.size, 1);
        assert_eq!(store.system_name(), "sqlite");
        // Without a meter provider, observing is accepted and does nothing.
        observe_pool(&store);
    }
}
