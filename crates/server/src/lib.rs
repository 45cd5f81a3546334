//! The Conduit server process: configuration, the wiring of adapters into use cases, the
//! HTTP stack's start-up, telemetry set-up, health, the database pool's metrics and the
//! operator commands. The HTTP layer itself is `conduit-api` (ADR 0002).

pub mod application;
pub mod cli;
pub mod config;
mod connection;
pub mod docs;
pub mod health;
pub mod json_log;
pub mod log_writer;
pub mod pool_metrics;
pub mod telemetry;
pub mod wiring;

pub use application::{Application, StartupError, stack_settings};
pub use config::Config;
