//! Start-up: the one place that knows every adapter. It connects storage, builds the
//! ports, the use cases and the HTTP stack, and binds the listener.

use std::{net::SocketAddr, sync::Arc};

use conduit_adapters::{
    biscuit::BiscuitApiKeys,
    cached::{CacheInvalidation, CacheSettings, RenderedLists, cached},
    crypto::{Argon2Cost, Argon2Hasher, JwtSettings, JwtTokens, RandomRefreshTokens},
    events::NoSubscribers,
    memory::cache::MemoryCache,
    oidc::{GithubProvider, GithubUrls, OidcProvider},
    rate_limit::{FallbackLimiter, GovernorLimiter},
    redis::{RedisCache, RedisIdempotency, RedisOneTime, RedisRateLimiter, RedisSessions},
    session_states::LocalSessionStates,
    sql::SqlStore,
    system::{RandomSlugSuffixes, SystemClock},
};
use conduit_app::{Conduit, OAuthSettings, Ports, SessionPolicy};
use conduit_domain::ports::{
    ApiKeyStore, Cache, EventPublisher, IdempotencyStore, IdentityLinks, IdentityProvider,
    OneTimeStore, RateLimiter, SessionStore, Stores,
};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Response, Route, Server,
    endpoint::{BoxEndpoint, make_sync},
    error::{MethodNotAllowedError, ReadBodyError},
    get,
    http::header,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    middleware::CatchPanic,
};
use poem_openapi::OpenApiService;

use crate::{
    compression::Compression,
    conditional::ConditionalGet,
    config::{AuthConfig, Config, OAuthConfig, ProviderKind},
    connection::IdleTimeout,
    cors::Cors,
    error,
    headers::{self, SecurityHeaders},
    health::Health,
    idempotency::{IDEMPOTENT_REPLAYED, Idempotency},
    openapi,
    rate_limit::{RATE_LIMIT, RATE_LIMIT_POLICY, RateLimit},
    request_log::{REQUEST_ID, RequestLog, TimeLimit},
    routes::{
        api_keys::ApiKeysApi, articles::ArticlesApi, auth::AuthApi, comments::CommentsApi,
        cookie::CookiePolicy, oauth::OAuthApi, profiles::ProfilesApi, tags::TagsApi,
        users::UsersApi,
    },
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Database(String),
    /// Redis is configured but could not be reached.
    #[error("redis: {0}")]
    Redis(String),
    /// A setting could not be used.
    #[error("configuration: {0}")]
    Config(String),
    /// The listener could not bind.
    #[error("bind {addr}: {source}")]
    Bind {
        /// Address tried.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Every group of endpoints.
pub type Apis = (
    UsersApi,
    AuthApi,
    OAuthApi,
    ApiKeysApi,
    ProfilesApi,
    ArticlesApi,
    CommentsApi,
    TagsApi,
);

/// The OpenAPI service with every endpoint of the API, served under `/api`; `cookie` is
/// the refresh-token cookie policy in browser mode.
pub fn api_service(
    app: &Conduit,
    cookie: Option<CookiePolicy>,
    rendered: Option<RenderedLists>,
) -> OpenApiService<Apis, ()> {
    let apis = (
        UsersApi {
            app: app.clone(),
            cookie,
        },
        AuthApi {
            app: app.clone(),
            cookie,
        },
        OAuthApi {
            app: app.clone(),
            cookie,
        },
        ApiKeysApi { app: app.clone() },
        ProfilesApi { app: app.clone() },
        ArticlesApi {
            app: app.clone(),
            rendered,
        },
        CommentsApi { app: app.clone() },
        TagsApi { app: app.clone() },
    );
    OpenApiService::new(apis, "Conduit API", env!("CARGO_PKG_VERSION"))
        .description(
            "The RealWorld (Conduit) blogging API: users, profiles, follows, articles, tags, \
             favorites and comments. Every error has the body \
             `{\"errors\": {\"<field>\": [\"<message>\"]}, \"code\": \"<code>\"}`.",
        )
        .server("/api")
}

/// The whole HTTP stack over `app`, with `rate_limit` in front of the API, answers to
/// `Idempotency-Key` requests kept in `idempotency`, and `health` behind the readiness
/// probe.
pub fn endpoint(
    app: &Conduit,
    config: &Config,
    rate_limit: RateLimit,
    idempotency: Arc<dyn IdempotencyStore>,
    health: Health,
) -> BoxEndpoint<'static> {
    let cookie = config.auth.refresh_cookie.then_some(CookiePolicy {
        secure: config.auth.refresh_cookie_secure,
        max_age_seconds: config.auth.session_absolute_seconds,
    });
    let rendered = health.cache.as_ref().map(|cache| cache.rendered_lists());
    let api = api_service(app, cookie, rendered);
    let document = openapi::document(app);
    let json = serde_json::to_string(&document).unwrap_or_default();
    let yaml = openapi::to_yaml(&document);
    // Swagger UI with the published document (not poem's raw one) embedded.
    let docs_html = api.swagger_ui_html().replacen(&api.spec(), &json, 1);
    let docs_csp = headers::inline_page_csp(&docs_html);
    let allowed = Arc::new(openapi::AllowedMethods::from_document(&document, "/api"));
    let log_routes = allowed.clone();
    let telemetry_routes = allowed.clone();
    let idempotency = Idempotency::new(
        idempotency,
        app.clone(),
        allowed.clone(),
        std::time::Duration::from_secs(config.server.request_timeout_seconds),
        std::time::Duration::from_secs(config.idempotency.ttl_seconds),
    );
    let cors_routes = allowed.clone();
    let limit = config.server.body_limit_bytes;
    let compression = Compression::new(
        config.http.compression_min_bytes,
        config.http.compression_cache_bytes,
    );
    Route::new()
        .nest("/api", api.with(ConditionalGet))
        .at(
            "/openapi.json",
            document_endpoint(json, "application/json; charset=utf-8", None),
        )
        .at(
            "/openapi.yaml",
            document_endpoint(yaml, "application/yaml; charset=utf-8", None),
        )
        .at(
            "/docs",
            document_endpoint(
                docs_html,
                "text/html; charset=utf-8",
                Some(("content-security-policy", docs_csp)),
            ),
        )
        .at("/health/live", get(make_sync(|_| "ok")))
        .at(
            "/health/ready",
            get(poem::endpoint::make(move |_| {
                let health = health.clone();
                async move { health.ready().await }
            })),
        )
        .around(move |ep, mut req| async move {
            // Buffer the body up to the limit, so chunked uploads are bounded too.
            let body = req.take_body();
            match body.into_bytes_limit(limit).await {
                Ok(bytes) => req.set_body(bytes),
                Err(ReadBodyError::PayloadTooLarge) => return Ok(error::payload_too_large()),
                Err(other) => return Err(other.into()),
            }
            ep.call(req).await.map(IntoResponse::into_response)
        })
        // Inside the body limit, so the body it hashes is already read and bounded; it
        // normalizes errors itself, so the answer it keeps is the one sent. Inside the
        // rate limiter: a replay counts like any request (ADR 0025).
        .with(idempotency)
        .around(move |ep, req| {
            let allowed = allowed.clone();
            async move {
                let path = req.uri().path().to_owned();
                Ok(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) => {
                        let wrong_method = err.is::<MethodNotAllowedError>();
                        let mut response = error::normalize(err);
                        // RFC 9110: a 405 lists the methods the path does answer.
                        if let Some(methods) = allowed.for_path(&path).filter(|_| wrong_method)
                            && let Ok(value) = methods.parse()
                        {
                            response.headers_mut().insert(header::ALLOW, value);
                        }
                        response
                    }
                })
            }
        })
        // Outside the body limit, so a refused request's body is never read; inside the
        // security headers, CORS and tracing, so a 429 gets them and is logged like any
        // other answer.
        .with(rate_limit)
        .with(CatchPanic::new().with_handler(|_| error::internal_error_response()))
        // Inside the security headers and CORS, so that its 503 carries them.
        .with(TimeLimit(std::time::Duration::from_secs(
            config.server.request_timeout_seconds,
        )))
        .with(SecurityHeaders::new(config.http.hsts(config.environment)))
        // Browsers hide response headers from scripts unless they are exposed.
        .with(Cors::new(
            &config.http.allowed_origins(config.environment),
            config.http.cors_allow_credentials,
            &[
                RATE_LIMIT,
                RATE_LIMIT_POLICY,
                header::RETRY_AFTER.as_str(),
                header::ETAG.as_str(),
                REQUEST_ID,
                IDEMPOTENT_REPLAYED,
            ],
            cors_routes,
        ))
        // Outside every layer that writes a body, so that refusals are compressed too;
        // inside the request log, so that its time counts (ADR 0024).
        .with_if(config.http.compression, compression)
        // Outermost: every answer above, errors and 429s included, gets the request id
        // and its log line.
        .with(RequestLog::new(log_routes))
        .with(crate::telemetry::HttpTelemetry::new(telemetry_routes))
        .boxed()
}

/// A fixed document (`body` of `content_type`, with an `extra` header), with an entity
/// tag computed once and conditional requests answered.
fn document_endpoint(
    body: String,
    content_type: &'static str,
    extra: Option<(&'static str, String)>,
) -> impl Endpoint<Output = Response> {
    let etag = crate::conditional::entity_tag(body.as_bytes());
    let body = bytes::Bytes::from(body);
    get(make_sync(move |_| {
        let mut response = Response::builder()
            .content_type(content_type)
            .header(header::ETAG, etag.clone())
            // Anyone may keep it, and must ask whether it changed.
            .header(header::CACHE_CONTROL, "no-cache");
        if let Some((name, value)) = &extra {
            response = response.header(*name, value.clone());
        }
        response.body(body.clone())
    }))
    .with(ConditionalGet)
}

/// A built, bound server, ready to run.
pub struct Application {
    acceptor: IdleTimeout<TcpAcceptor>,
    endpoint: BoxEndpoint<'static>,
    addr: SocketAddr,
    shared_rate_limiter: Option<Arc<FallbackLimiter>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects storage (migrating it if configured), wires every adapter and binds the
    /// listening socket.
    pub async fn build(config: &Config) -> Result<Application, StartupError> {
        let Wired {
            app,
            database,
            redis_sessions,
            invalidation,
            idempotency,
        } = wire(config).await?;
        let (limiter, shared_rate_limiter) = rate_limiter(config).await?;
        let rate_limit = RateLimit::new(&config.rate_limit, limiter, app.clone())
            .map_err(|e| StartupError::Config(e.0))?;
        let health = Health {
            database,
            redis: redis_sessions,
            cache: invalidation,
            rate_limiter: shared_rate_limiter.clone(),
        };
        let origins = config.http.allowed_origins(config.environment);
        if origins.is_empty() {
            tracing::info!("CORS: no browser origin may call the API (http.cors_allowed_origins)");
        } else {
            tracing::info!(
                origins = %origins.join(", "),
                credentials = config.http.cors_allow_credentials,
                "CORS: browser pages from these origins may call the API"
            );
        }
        let endpoint = endpoint(&app, config, rate_limit, idempotency, health);
        let addr = format!("{}:{}", config.server.host, config.server.port);
        let acceptor = TcpListener::bind(addr.clone())
            .into_acceptor()
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| StartupError::Config("the listener has no socket address".into()))?;
        let idle = std::time::Duration::from_secs(config.server.idle_timeout_seconds);
        Ok(Application {
            acceptor: IdleTimeout::new(acceptor, idle),
            endpoint,
            addr,
            shared_rate_limiter,
        })
    }

    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether rate limits are shared through Redis but Redis is failing, so that each
    /// instance limits alone for now (for readiness and monitoring). Always `false`
    /// without Redis.
    pub fn rate_limiter_degraded(&self) -> bool {
        self.shared_rate_limiter
            .as_ref()
            .is_some_and(|limiter| limiter.degraded())
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                self.endpoint,
                shutdown,
                Some(std::time::Duration::from_secs(10)),
            )
            .await
    }
}

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
        store
            .migrate()
            .await
            .map_err(|e| StartupError::Database(e.to_string()))?;
    }
    crate::metrics::observe_pool(&store);
    // Two rustls crypto providers are in the tree (ring through sqlx, aws-lc-rs through
    // reqwest); TLS set-up that relies on the process default needs one chosen. An
    // error only means one was installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let redis = connect_redis(config).await?;
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

/// The adapters on Redis, when it is configured.
struct RedisAdapters {
    sessions: RedisSessions,
    one_time: RedisOneTime,
    cache: RedisCache,
    idempotency: RedisIdempotency,
}

/// Connects the Redis adapters when `redis.url` is set. Sessions, single-use sign-in
/// state and idempotency keys then live in Redis, else in the database.
async fn connect_redis(config: &Config) -> Result<Option<RedisAdapters>, StartupError> {
    let Some(url) = &config.redis.url else {
        return Ok(None);
    };
    let prefix = &config.redis.key_prefix;
    let redis_error = |e: conduit_domain::StoreError| StartupError::Redis(e.to_string());
    let sessions = RedisSessions::connect(url.expose(), prefix)
        .await
        .map_err(redis_error)?;
    let one_time = RedisOneTime::connect(url.expose(), prefix)
        .await
        .map_err(redis_error)?;
    let cache = RedisCache::connect(url.expose(), prefix)
        .await
        .map_err(redis_error)?;
    let idempotency = RedisIdempotency::connect(url.expose(), prefix)
        .await
        .map_err(redis_error)?;
    tracing::info!(
        "sessions, sign-in state, the read cache and idempotency keys are kept in Redis"
    );
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
async fn rate_limiter(
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
