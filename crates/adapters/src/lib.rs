//! Adapters: the implementations of the domain ports (sea-orm for SQLite and
//! PostgreSQL, in-memory stores, Argon2id, JWT, system clock).

pub mod biscuit;
pub mod cached;
pub mod crypto;
pub mod events;
mod idempotency_codec;
pub mod memory;
pub mod oidc;
pub mod rate_limit;
pub mod redis;
pub mod session_states;
pub mod sql;
pub mod system;
