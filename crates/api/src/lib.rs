//! The Conduit HTTP API: a thin poem-openapi layer over the use cases in `conduit-app`:
//! handlers, DTOs, request parsing, errors, security schemes, the published document and
//! the middleware. It depends on the use cases and the domain only; what it needs from
//! the process (settings, the rate limiter, the rendered-list cache, readiness) is
//! handed in by the server crate's wiring (ADR 0002).

pub mod client_addr;
pub mod compression;
pub mod conditional;
pub mod cors;
mod dto;
pub mod error;
mod exact;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
mod parse;
pub mod rate_limit;
pub mod rendered;
mod request_log;
pub(crate) mod routes;
mod security;
pub mod stack;
pub mod telemetry;

pub use rendered::{Render, RenderedListCache};
pub use routes::cookie::CookiePolicy;
pub use stack::{Apis, Readiness, StackParts, StackSettings, api_service, endpoint};
