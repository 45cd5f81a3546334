//! HTTP tests: each test starts the real server on its own port with its own database
//! (a temporary SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL is
//! set) and talks HTTP to it. One test binary keeps link time low.

mod api_keys;
mod articles;
mod auth;
mod caching;
mod comments;
mod compression;
mod concurrency;
mod docs;
mod edge;
mod errors;
mod faults;
mod helpers;
mod idempotency;
mod layers;
mod oauth;
mod object_authorization;
mod profiles;
mod property_authorization;
mod rate_limit;
mod scopes;
mod session_tokens;
mod types;
mod users;
