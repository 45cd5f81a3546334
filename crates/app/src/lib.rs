//! Conduit use cases. Each calls domain ports only; the binary decides which adapters
//! stand behind them.
//!
//! Use cases take already-parsed value objects (see `conduit_domain::user` and friends),
//! so every rule about a value's form is checked once, at the boundary, and every rule
//! about who may do what is checked here.

use std::sync::Arc;

use conduit_domain::ports::{
    ApiKeyStore, ApiKeyTokens, Clock, EventPublisher, IdentityLinks, OneTimeStore, PasswordHasher,
    RefreshTokens, SessionStore, SlugSuffixes, Stores, TokenService,
};
use conduit_domain::{events::DomainEvent, time::Timestamp};

mod api_keys;
mod articles;
#[cfg(test)]
mod cache_consistency;
mod comments;
mod oauth;
mod profiles;
mod sessions;
mod users;

pub use api_keys::{CreateApiKey, IssuedApiKey};
pub use articles::{CreateArticle, UpdateArticle};
pub use oauth::{
    LinkedIdentity, OAuthFailure, OAuthOutcome, OAuthReturn, OAuthSettings, Redirect, ReturnTo,
};
pub use sessions::{SessionPolicy, SessionView};
pub use users::{Authenticated, ClientInfo, Login, Register, UpdateUser};

/// The adapters behind every port.
#[derive(Clone)]
pub struct Ports {
    /// Storage.
    pub stores: Stores,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access tokens.
    pub tokens: Arc<dyn TokenService>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Slug suffixes for repeated titles.
    pub slugs: Arc<dyn SlugSuffixes>,
    /// Sessions and refresh-token families.
    pub sessions: Arc<dyn SessionStore>,
    /// Refresh-token generation and hashing.
    pub refresh_tokens: Arc<dyn RefreshTokens>,
    /// Session lifetimes.
    pub session_policy: SessionPolicy,
    /// API key metadata.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// API key tokens (Biscuit).
    pub api_key_tokens: Arc<dyn ApiKeyTokens>,
    /// Single-use values (pending OAuth logins, login codes).
    pub one_time: Arc<dyn OneTimeStore>,
    /// Provider identities linked to accounts.
    pub identity_links: Arc<dyn IdentityLinks>,
    /// OAuth login settings and providers.
    pub oauth: OAuthSettings,
    /// Where use cases announce their changes (cache invalidation listens there).
    pub events: Arc<dyn EventPublisher>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// The application: every use case, as methods grouped by capability in this crate's
/// modules. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Conduit {
    ports: Ports,
}

impl Conduit {
    /// Builds the application over `ports`.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// The time now, by the application's clock (the one its use cases see).
    pub fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// The same application over other stores (benchmarks and tests that bring their
    /// own data); every other port is shared.
    pub fn with_stores(&self, stores: Stores) -> Conduit {
        Conduit::new(Ports {
            stores,
            ..self.ports.clone()
        })
    }

    /// Announces a change that is durable, before the use case answers.
    async fn announce(&self, event: DomainEvent) {
        self.ports.events.publish(&event).await;
    }
}

#[cfg(test)]
pub(crate) mod testing {
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
    use conduit_domain::ports::Stores;

    use crate::{Conduit, Ports};

    /// A `Conduit` over in-memory storage and real (fast-configured) crypto.
    pub fn conduit() -> Conduit {
        over(
            Stores::from_one(Arc::new(MemoryStore::new())),
            Arc::new(NoSubscribers),
        )
    }

    /// A `Conduit` whose reads go through an in-memory cache, and the store behind the
    /// cache (to change data without the cache hearing of it).
    pub fn cached_conduit() -> (Conduit, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        let (stores, invalidation) = conduit_adapters::cached::cached(
            Stores::from_one(store.clone()),
            Arc::new(conduit_adapters::memory::cache::MemoryCache::new(1_000)),
            conduit_adapters::cached::CacheSettings::default(),
        );
        (over(stores, invalidation), store)
    }

    fn over(stores: Stores, events: Arc<dyn conduit_domain::ports::EventPublisher>) -> Conduit {
        let tokens = JwtTokens::new(JwtSettings::single_key(vec![9; 32], "test", "test", 3600))
            .expect("token settings");
        Conduit::new(Ports {
            stores,
            hasher: Arc::new(Argon2Hasher::new(Argon2Cost::INSECURE_FAST, 2).expect("hasher")),
            tokens: Arc::new(tokens),
            clock: Arc::new(SystemClock),
            slugs: Arc::new(RandomSlugSuffixes),
            sessions: Arc::new(MemorySessions::new()),
            refresh_tokens: Arc::new(RandomRefreshTokens),
            session_policy: crate::SessionPolicy {
                grace: time::Duration::ZERO,
                ..crate::SessionPolicy::default()
            },
            api_keys: Arc::new(MemoryApiKeys::new()),
            api_key_tokens: Arc::new(BiscuitApiKeys::generate()),
            one_time: Arc::new(MemoryOneTime::new()),
            identity_links: Arc::new(MemoryIdentityLinks::new()),
            oauth: crate::OAuthSettings::default(),
            events,
        })
    }

    /// Registers `name` with `name@example.com` and a fixed password.
    pub async fn user(app: &Conduit, name: &str) -> conduit_domain::UserId {
        let input = crate::Register {
            username: conduit_domain::user::Username::parse(name).expect("username"),
            email: conduit_domain::user::Email::parse(&format!("{name}@example.com"))
                .expect("email"),
            password: conduit_domain::user::Password::new_secret("password123").expect("password"),
        };
        app.register(input, crate::ClientInfo::default())
            .await
            .expect("registered")
            .user
            .id
    }
}
