//! The Conduit HTTP API: a thin poem-openapi layer over the use cases in `conduit-app`,
//! and the start-up code that wires adapters into them.

pub mod cli;
pub mod client_addr;
pub mod compression;
pub mod conditional;
pub mod config;
mod connection;
pub mod cors;
mod dto;
pub mod error;
mod exact;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
mod parse;
pub mod rate_limit;
mod rendered;
mod request_log;
pub(crate) mod routes;
mod security;
pub mod server;
pub mod telemetry;

pub use config::Config;
pub use server::{Application, StartupError, api_service};
