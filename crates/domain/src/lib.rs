//! The Conduit domain: what a user, a profile, an article and a comment are, the rules
//! their values obey, the errors a caller can act on, and the ports (traits) through which
//! use cases reach storage, cryptography and time.
//!
//! This crate does no I/O. Every port has adapters in `conduit-adapters`.

pub mod api_key;
pub mod article;
pub mod cache;
pub mod comment;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod patch;
pub mod ports;
pub mod rate_limit;
pub mod session;
pub mod text;
pub mod time;
pub mod user;

pub use error::{Error, Invalid, Resource, StoreError, UniqueField, ValidationErrors};
pub use ids::{ArticleId, CommentId, UserId};
