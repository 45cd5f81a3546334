//! The published document without a running server (`conduit docs`), and the in-memory
//! application it is described over.

use std::sync::Arc;

use conduit_adapters::{
    biscuit::BiscuitApiKeys,
    crypto::{Argon2Cost, Argon2Hasher, JwtSettings, JwtTokens, RandomRefreshTokens},
    events::NoSubscribers,
    memory::MemoryStore,
    memory::api_keys::MemoryApiKeys,
    memory::identity_links::MemoryIdentityLinks,
    memory::one_time::MemoryOneTime,
    memory::sessions::MemorySessions,
    system::{RandomSlugSuffixes, SystemClock},
};
use conduit_api::openapi::document;
use conduit_app::{Conduit, OAuthSettings, Ports, SessionPolicy};
use conduit_domain::ports::Stores;
use serde_json::Value;

/// The document without a running server: the API is built over in-memory adapters only
/// to be described, and no handler runs.
pub fn standalone_document() -> Value {
    in_memory_conduit().map_or(Value::Null, |app| document(&app))
}

/// A `Conduit` over in-memory adapters only, with a throwaway signing key: enough to
/// describe the API, or to exercise a middleware in a test.
pub fn in_memory_conduit() -> Option<Conduit> {
    let tokens = JwtTokens::new(JwtSettings::single_key(
        vec![0; JwtTokens::MIN_SECRET_LEN],
        "docs",
        "docs",
        1,
    ));
    let hasher = Argon2Hasher::new(Argon2Cost::INSECURE_FAST, 1);
    match (tokens, hasher) {
        (Ok(tokens), Ok(hasher)) => Some(Conduit::new(Ports {
            stores: Stores::from_one(Arc::new(MemoryStore::new())),
            hasher: Arc::new(hasher),
            tokens: Arc::new(tokens),
            clock: Arc::new(SystemClock),
            slugs: Arc::new(RandomSlugSuffixes),
            sessions: Arc::new(MemorySessions::new()),
            refresh_tokens: Arc::new(RandomRefreshTokens),
            session_policy: SessionPolicy::default(),
            api_keys: Arc::new(MemoryApiKeys::new()),
            api_key_tokens: Arc::new(BiscuitApiKeys::generate()),
            one_time: Arc::new(MemoryOneTime::new()),
            identity_links: Arc::new(MemoryIdentityLinks::new()),
            oauth: OAuthSettings::default(),
            events: Arc::new(NoSubscribers),
        })),
        _ => None,
    }
}
