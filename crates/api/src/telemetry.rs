//! Logging set-up.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber: `RUST_LOG` if set, else the configured filter.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(config: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match config.format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer()).try_init(),
    };
}
