//! Wiring: the one place that knows every adapter. It connects storage and Redis,
//! chooses the adapters the configuration asks for, and builds the use cases over them;
//! serving and the operator commands share it.

use std::sync::Arc;

use conduit_adapters::{
    biscuit::BiscuitApiKeys,
    cached::{CacheInvalidation, CacheSettings, cached},
    crypto::{Argon2Cost, Argon2Hasher, JwtSettings, JwtTokens, RandomRefreshTokens},
    events::NoSubscribers,
    memory::cache::MemoryCache,
    oidc::{GithubProvider, GithubUrls, OidcProvider},
    rate_limit::{FallbackLimiter, GovernorLimiter},
    redis::{
        RedisCache, RedisIdempotency, RedisOneTime, RedisRateLimiter, RedisSessions, RedisWatermark,
    },
    session_states::LocalSessionStates,
    sql::{
        SqlStore,
        replica::{LocalWatermark, Watermark},
    },
    system::{RandomSlugSuffixes, SystemClock},
};
use conduit_app::{Conduit, OAuthSettings, Ports, SessionPolicy};
use conduit_domain::ports::{
    ApiKeyStore, Cache, EventPublisher, IdempotencyStore, IdentityLinks, IdentityProvider,
    OneTimeStore, RateLimiter, SessionStore, Stores,
};

use crate::{
    application::StartupError,
    config::{AuthConfig, Config, OAuthConfig, ProviderKind},
};

/// The application wired over its adapters, and what readiness watches.
pub struct Wired {
    /// The use cases.
    pub app: Conduit,
    /// The database (for readiness).
    pub database: SqlStore,
    /// The Redis connection, when configured (for readiness).
    pub redis_sessions: Option<RedisSessions>,
    /// The read cache's invalidation, when caching is on (for readiness).
    pub invalidation: Option<Arc<CacheInvalidation>>,
    /// Where answers to `Idempotency-Key` requests are kept: Redis when configured, else
    /// the database.
    pub idempotency: Arc<dyn IdempotencyStore>,
}

impl std::fmt::Debug for Wired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wired").finish_non_exhaustive()
    }
}

/// Connects storage (migrating it if configured) and Redis, and wires every adapter
/// into the use cases: what serving and the operator commands share.
pub async fn wire(config: &Config) -> Result<Wired, StartupError> {
    let store = SqlStore::connect(config.database.url.expose())
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    if config.database.migrate_on_start {
        let applied = store
            .migrate()
            .await
            .map_err(|e| StartupError::Database(e.to_string()))?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "migrations applied");
        }
    }
    crate::pool_metrics::observe_pool(&store);
    // Two rustls crypto providers are in the tree (ring through sqlx, aws-lc-rs through
    // reqwest); TLS set-up that relies on the process default needs one chosen. An
    // error only means one was installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let redis = connect_redis(config).await?;
    let store = with_replicas(config, store).await?;
    let (sessions, one_time, idempotency): (
        Arc<dyn SessionStore>,
        Arc<dyn OneTimeStore>,
        Arc<dyn IdempotencyStore>,
    ) = match &redis {
        Some(redis) => (
            Arc::new(redis.sessions.clone()),
            Arc::new(redis.one_time.clone()),
            Arc::new(redis.idempotency.clone()),
        ),
        None => (
            // SQLite is one process's file: session states can be kept in memory and
            // every check stays exact (ADR 0009). PostgreSQL may be shared by
            // instances: each check asks it.
            if store.single_process() {
                Arc::new(LocalSessionStates::new(store.clone()))
            } else {
                Arc::new(store.clone())
            },
            Arc::new(store.clone()),
            Arc::new(store.clone()),
        ),
    };
    let database = store.clone();
    let store = Arc::new(store);
    let (stores, invalidation) = read_cache(config, Stores::from_one(store.clone()), &redis);
    let events: Arc<dyn EventPublisher> = match &invalidation {
        Some(invalidation) => invalidation.clone(),
        None => Arc::new(NoSubscribers),
    };
    let oauth = oauth_settings(&config.oauth).await;
    let app = Conduit::new(ports(
        Adapters {
            stores,
            sessions,
            api_keys: store.clone(),
            one_time,
            identity_links: store,
            oauth,
            events,
        },
        &config.auth,
    )?);
    Ok(Wired {
        app,
        database,
        redis_sessions: redis.map(|r| r.sessions),
        invalidation,
        idempotency,
    })
}

/// Sends the reads that may go to replicas there when `database.replica_urls` names
/// some (ADR 0032), with the watermark in the cache's Redis when there is one (shared by
/// every instance), else in this process.
async fn with_replicas(config: &Config, store: SqlStore) -> Result<SqlStore, StartupError> {
    let urls: Vec<String> = config
        .database
        .replica_urls
        .iter()
        .map(|url| url.expose().to_owned())
        .collect();
    if urls.is_empty() {
        return Ok(store);
    }
    let watermark: Arc<dyn Watermark> = match &config.redis.url {
        Some(url) => Arc::new(
            RedisWatermark::connect(url.expose(), &config.redis.key_prefix)
                .await
                .map_err(|e| StartupError::Redis(e.to_string()))?,
        ),
        None => {
            tracing::warn!(
                "database.replica_urls without redis.url: the replica watermark is kept in \
                 this process, so only this instance's writes are waited for; run one \
                 instance, or set redis.url"
            );
            Arc::new(LocalWatermark::default())
        }
    };
    let store = store
        .with_replicas(&urls, watermark)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    tracing::info!(
        replicas = urls.len(),
        "reads go to replicas that have replayed every acknowledged write"
    );
    Ok(store)
}

/// The adapters on Redis, when it is configured.
struct RedisAdapters {
    sessions: RedisSessions,
    one_time: RedisOneTime,
    cache: RedisCache,
    idempotency: RedisIdempotency,
}

/// Connects the Redis adapters when `redis.url` is set. Sessions, single-use sign-in
/// state and idempotency keys then live in Redis (in `redis.sessions_url`'s when set,
/// ADR 0030), else in the database.
async fn connect_redis(config: &Config) -> Result<Option<RedisAdapters>, StartupError> {
    let Some(url) = &config.redis.url else {
        return Ok(None);
    };
    let durable = config.redis.sessions_url.as_ref().unwrap_or(url);
    let prefix = &config.redis.key_prefix;
    let redis_error = |e: conduit_domain::StoreError| StartupError::Redis(e.to_string());
    let sessions = RedisSessions::connect(durable.expose(), prefix)
        .await
        .map_err(redis_error)?;
    let one_time = RedisOneTime::connect(durable.expose(), prefix)
        .await
        .map_err(redis_error)?;
    let cache = RedisCache::connect(url.expose(), prefix)
        .await
        .map_err(redis_error)?;
    let idempotency = RedisIdempotency::connect(durable.expose(), prefix)
        .await
        .map_err(redis_error)?;
    if config.redis.sessions_url.is_some() {
        tracing::info!(
            "sessions, sign-in state and idempotency keys are kept in the sessions' Redis, \
             the read cache in the other"
        );
    } else {
        tracing::info!(
            "sessions, sign-in state, the read cache and idempotency keys are kept in Redis"
        );
    }
    Ok(Some(RedisAdapters {
        sessions,
        one_time,
        cache,
        idempotency,
    }))
}

/// `stores` with read caching when enabled (in Redis when configured, else in process),
/// and the subscriber that invalidates it.
fn read_cache(
    config: &Config,
    stores: Stores,
    redis: &Option<RedisAdapters>,
) -> (Stores, Option<Arc<CacheInvalidation>>) {
    if !config.cache.enabled {
        tracing::info!("the read cache is disabled");
        return (stores, None);
    }
    let cache: Arc<dyn Cache> = match redis {
        Some(redis) => Arc::new(redis.cache.clone()),
        None => Arc::new(MemoryCache::new(config.cache.max_entries)),
    };
    let settings = CacheSettings {
        ttl: std::time::Duration::from_secs(config.cache.ttl_seconds),
        ..CacheSettings::default()
    };
    let (stores, invalidation) = cached(stores, cache, settings);
    (stores, Some(invalidation))
}

/// How often the in-process limiter forgets the callers whose allowance is whole again.
const RATE_LIMIT_RETAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The rate limiter: shared through Redis when configured, with the in-process limiter
/// deciding while Redis fails; the in-process limiter alone otherwise. The second value
/// is the shared limiter, which can tell whether it is degraded.
pub(crate) async fn rate_limiter(
    config: &Config,
) -> Result<(Arc<dyn RateLimiter>, Option<Arc<FallbackLimiter>>), StartupError> {
    let local = Arc::new(GovernorLimiter::new());
    if !config.rate_limit.enabled {
        return Ok((local, None));
    }
    GovernorLimiter::spawn_retain_recent(&local, RATE_LIMIT_RETAIN_EVERY);
    match &config.redis.url {
        Some(url) => {
            let shared = RedisRateLimiter::connect(url.expose(), &config.redis.key_prefix)
                .await
                .map_err(|e| StartupError::Redis(e.to_string()))?;
            let limiter = Arc::new(FallbackLimiter::new(Arc::new(shared), local));
            tracing::info!("rate limits are shared through Redis");
            Ok((limiter.clone(), Some(limiter)))
        }
        None => Ok((local, None)),
    }
}

/// The configured identity providers. A provider that cannot be set up (its discovery
/// document unreachable, say) is left out with an error in the log rather than keeping
/// the whole API down.
async fn oauth_settings(config: &OAuthConfig) -> OAuthSettings {
    let mut providers: Vec<Arc<dyn IdentityProvider>> = Vec::new();
    for (id, provider) in &config.providers {
        let secret = provider.client_secret.as_ref().map(|s| s.expose());
        let built: Result<Arc<dyn IdentityProvider>, _> = match provider.kind {
            ProviderKind::Oidc => OidcProvider::discover(
                id,
                provider.issuer.as_deref().unwrap_or_default(),
                &provider.client_id,
                secret,
                provider.scopes.clone(),
            )
            .await
            .map(|p| Arc::new(p) as Arc<dyn IdentityProvider>),
            ProviderKind::Github => GithubProvider::new(
                id,
                &provider.client_id,
                secret.unwrap_or_default(),
                provider.scopes.clone(),
                GithubUrls::default(),
            )
            .map(|p| Arc::new(p) as Arc<dyn IdentityProvider>),
        };
        match built {
            Ok(built) => {
                tracing::info!(provider = %id, "sign-in provider ready");
                providers.push(built);
            }
            Err(err) => {
                tracing::error!(provider = %id, error = %err, "sign-in provider unavailable")
            }
        }
    }
    OAuthSettings {
        providers,
        callback_base: format!("{}/api/auth/oauth", config.public_url.trim_end_matches('/')),
        allowed_return_to: config.allowed_return_urls.clone(),
        state_ttl: time::Duration::minutes(10),
        code_ttl: time::Duration::minutes(1),
    }
}

/// The access-token service from configuration, or over a random development key.
fn access_tokens(auth: &AuthConfig) -> Result<JwtTokens, StartupError> {
    let (keys, signing_kid) = match auth.jwt_keys().map_err(|e| StartupError::Config(e.0))? {
        Some(keys) => keys,
        None => {
            tracing::warn!(
                "no auth.jwt_secret configured: signing tokens with a random development key; \
                 tokens will not survive a restart. Set CONDUIT_AUTH__JWT_SECRET in production."
            );
            (
                vec![("dev".into(), rand::random::<[u8; 32]>().to_vec())],
                "dev".into(),
            )
        }
    };
    JwtTokens::new(JwtSettings {
        keys,
        signing_kid,
        issuer: auth.jwt_issuer.clone(),
        audience: auth.jwt_audience.clone(),
        ttl_seconds: auth.token_ttl_seconds,
    })
    .map_err(|e| StartupError::Config(e.to_string()))
}

fn seconds(value: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

/// The API-key signer from configuration, or a random development key.
fn api_key_tokens(auth: &AuthConfig) -> Result<BiscuitApiKeys, StartupError> {
    match &auth.api_key_private_key {
        Some(key) => BiscuitApiKeys::from_private_key_hex(key.expose()).map_err(|e| {
            StartupError::Config(format!(
                "auth.api_key_private_key (CONDUIT_AUTH__API_KEY_PRIVATE_KEY): {e}"
            ))
        }),
        None => {
            tracing::warn!(
                "no auth.api_key_private_key configured: signing API keys with a random \
                 development key; keys will not survive a restart. Generate one with \
                 `conduit api-key-root`."
            );
            Ok(BiscuitApiKeys::generate())
        }
    }
}

/// The storage and sign-in adapters chosen at start-up.
struct Adapters {
    stores: Stores,
    sessions: Arc<dyn SessionStore>,
    api_keys: Arc<dyn ApiKeyStore>,
    one_time: Arc<dyn OneTimeStore>,
    identity_links: Arc<dyn IdentityLinks>,
    oauth: OAuthSettings,
    events: Arc<dyn conduit_domain::ports::EventPublisher>,
}

fn ports(adapters: Adapters, auth: &AuthConfig) -> Result<Ports, StartupError> {
    let cost = Argon2Cost {
        memory_kib: auth.argon2_memory_kib,
        iterations: auth.argon2_iterations,
        parallelism: 1,
    };
    let hasher = Argon2Hasher::new(cost, auth.argon2_concurrency)
        .map_err(|e| StartupError::Config(e.to_string()))?;
    Ok(Ports {
        stores: adapters.stores,
        hasher: Arc::new(hasher),
        tokens: Arc::new(access_tokens(auth)?),
        clock: Arc::new(SystemClock),
        slugs: Arc::new(RandomSlugSuffixes),
        sessions: adapters.sessions,
        refresh_tokens: Arc::new(RandomRefreshTokens),
        session_policy: SessionPolicy {
            idle: seconds(auth.session_idle_seconds),
            absolute: seconds(auth.session_absolute_seconds),
            grace: seconds(auth.refresh_grace_seconds),
        },
        api_keys: adapters.api_keys,
        api_key_tokens: Arc::new(api_key_tokens(auth)?),
        one_time: adapters.one_time,
        identity_links: adapters.identity_links,
        oauth: adapters.oauth,
        events: adapters.events,
    })
}
