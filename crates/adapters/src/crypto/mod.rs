//! The credential adapters: password hashing (Argon2id), access tokens (JWT, HS256),
//! refresh tokens and session ids.

mod jwt;
mod passwords;
mod refresh;

pub use jwt::{JwtSettings, JwtTokens};
pub use passwords::{Argon2Cost, Argon2Hasher};
pub use refresh::RandomRefreshTokens;
