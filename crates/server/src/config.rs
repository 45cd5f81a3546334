//! Configuration, layered: built-in defaults, then an optional TOML file
//! (`conduit.toml`, or the file named by `CONDUIT_CONFIG`), then the conventional
//! variables `DATABASE_URL`, `REDIS_URL`, `HOST` and `PORT`, then `CONDUIT_*` variables
//! with `__` between levels (`CONDUIT_SERVER__PORT=9000`). Later layers win.

use std::{collections::BTreeMap, fmt, net::IpAddr, path::PathBuf};

use conduit_api::rate_limit::{Allowance, Policies};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The kind of deployment: it sets safe defaults and what is checked at start.
    pub environment: Environment,
    /// Listening socket and HTTP limits.
    pub server: ServerConfig,
    /// What browsers are told: CORS and transport security.
    pub http: HttpConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Redis: session storage when configured.
    pub redis: RedisConfig,
    /// Tokens and password hashing.
    pub auth: AuthConfig,
    /// Logging.
    pub log: LogConfig,
    /// Sign-in with identity providers.
    pub oauth: OAuthConfig,
    /// Rate limits per endpoint group and caller.
    pub rate_limit: RateLimitConfig,
    /// The read cache.
    pub cache: CacheConfig,
    /// Idempotent retries of writes (`Idempotency-Key`).
    pub idempotency: IdempotencyConfig,
}

/// Idempotent retries (ADR 0025): answers to `POST`s sent with an `Idempotency-Key`
/// are kept in Redis when `redis.url` is set, else in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// How long an answer is kept for replay, in seconds (24 hours by default): a retry
    /// with the same key after that runs as a new request.
    pub ttl_seconds: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            ttl_seconds: 86_400,
        }
    }
}

/// The read cache: in Redis when `redis.url` is set, else in process memory.
/// `CONDUIT_CACHE__ENABLED=false` reads everything from the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether reads are cached at all.
    pub enabled: bool,
    /// The longest an entry lives, in seconds: a backstop, since every write
    /// invalidates what it affects.
    pub ttl_seconds: u64,
    /// Entries kept by the in-process cache (without Redis); the least used go first.
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_seconds: 300,
            max_entries: 10_000,
        }
    }
}

/// The kind of deployment (`CONDUIT_ENVIRONMENT=production`).
///
/// Production refuses to start with a development signing key (no `auth.jwt_secret` or
/// no `auth.api_key_private_key`) or with a wildcard CORS origin while credentials are
/// allowed, sends `Strict-Transport-Security` unless told otherwise, and allows no
/// cross-origin browser callers unless they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine: local frontends may call the API, keys may be generated.
    #[default]
    Development,
    /// A real deployment.
    Production,
}

/// The local development servers of the RealWorld frontends (React, Angular, Vue,
/// Svelte, Next, Elm and others use these ports), on `localhost` and `127.0.0.1`.
pub const DEVELOPMENT_ORIGINS: &[&str] = &[
    "http://localhost:3000",
    "http://localhost:4100",
    "http://localhost:4200",
    "http://localhost:5173",
    "http://localhost:8000",
    "http://localhost:8080",
    "http://127.0.0.1:3000",
    "http://127.0.0.1:4100",
    "http://127.0.0.1:4200",
    "http://127.0.0.1:5173",
    "http://127.0.0.1:8000",
    "http://127.0.0.1:8080",
];

/// What browsers are told: which origins may call the API, and transport security.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins (`scheme://host[:port]`) whose pages may call the API; `["*"]` allows any.
    /// Unset: the RealWorld frontends' development servers in development, none in
    /// production. Env: a comma-separated list
    /// (`CONDUIT_HTTP__CORS_ALLOWED_ORIGINS=https://app.example.com`).
    #[serde(deserialize_with = "list_or_comma_separated_opt")]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Origins added to `cors_allowed_origins`, whether that is set or left to its
    /// default: the way to allow one more frontend in development without listing the
    /// defaults again. Env: a comma-separated list
    /// (`CONDUIT_HTTP__CORS_EXTRA_ORIGINS=http://localhost:3001`).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub cors_extra_origins: Vec<String>,
    /// Whether cross-origin requests may carry cookies (the refresh cookie needs it).
    pub cors_allow_credentials: bool,
    /// `Strict-Transport-Security` max-age in seconds, for deployments served over TLS
    /// (directly or by the proxy in front); 0 sends none. Unset: one year in production,
    /// none in development.
    pub hsts_max_age_seconds: Option<u64>,
    /// Whether answers are compressed (gzip, Brotli, zstd) for clients that accept it
    /// (ADR 0024).
    pub compression: bool,
    /// Bodies shorter than this many bytes are sent unencoded.
    pub compression_min_bytes: usize,
    /// Bytes of encoded bodies kept in memory for reuse, by entity tag (0: none).
    pub compression_cache_bytes: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cors_allowed_origins: None,
            cors_extra_origins: Vec::new(),
            cors_allow_credentials: true,
            hsts_max_age_seconds: None,
            compression: true,
            compression_min_bytes: conduit_api::compression::DEFAULT_MIN_BYTES,
            compression_cache_bytes: conduit_api::compression::DEFAULT_CACHE_BYTES,
        }
    }
}

impl HttpConfig {
    /// The allowed origins in `environment`: the configured list (or the environment's
    /// default), then the extra origins not already in it.
    pub fn allowed_origins(&self, environment: Environment) -> Vec<String> {
        let mut origins = match (&self.cors_allowed_origins, environment) {
            (Some(origins), _) => origins.clone(),
            (None, Environment::Development) => DEVELOPMENT_ORIGINS
                .iter()
                .map(|o| (*o).to_owned())
                .collect(),
            (None, Environment::Production) => Vec::new(),
        };
        for extra in &self.cors_extra_origins {
            if !origins.contains(extra) {
                origins.push(extra.clone());
            }
        }
        origins
    }

    /// The `Strict-Transport-Security` max-age in `environment`, if one is sent.
    pub fn hsts(&self, environment: Environment) -> Option<u64> {
        match (self.hsts_max_age_seconds, environment) {
            (Some(0), _) | (None, Environment::Development) => None,
            (Some(seconds), _) => Some(seconds),
            (None, Environment::Production) => Some(365 * 24 * 60 * 60),
        }
    }

    fn validate(&self, environment: Environment) -> Result<(), ConfigError> {
        for origin in self.allowed_origins(environment) {
            if origin == "*" {
                if self.cors_allow_credentials && environment == Environment::Production {
                    return Err(ConfigError(
                        "http.cors_allowed_origins: \"*\" with http.cors_allow_credentials = true lets any site act with a signed-in user's cookie; list the frontend origins in production".into(),
                    ));
                }
                continue;
            }
            let well_formed = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.split("://").nth(1).is_some_and(|rest| {
                    !rest.is_empty() && !rest.contains('/') && !rest.contains(char::is_whitespace)
                });
            if !well_formed {
                return Err(ConfigError(format!(
                    "http.cors_allowed_origins: {origin:?} is not an origin (scheme://host[:port], no path, no trailing slash)"
                )));
            }
        }
        Ok(())
    }
}

/// Listening socket and HTTP limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Interface to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// How long one request may take before it is answered 503 (`unavailable`).
    pub request_timeout_seconds: u64,
    /// How long a connection may send and receive nothing before it is closed: bounds
    /// clients that open a request and stall (slowloris). In-flight requests finish.
    pub idle_timeout_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            body_limit_bytes: 1024 * 1024,
            request_timeout_seconds: 30,
            idle_timeout_seconds: 60,
        }
    }
}

/// Database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE?mode=rwc`, `sqlite::memory:`, or `postgres://...`.
    pub url: Secret,
    /// Apply pending migrations at start.
    pub migrate_on_start: bool,
    /// PostgreSQL streaming replicas of `url` (`postgres://...`, one server each, not a
    /// balancer in front of several) that take the reads of articles, profiles, tags and
    /// comments whenever they have replayed every acknowledged write (ADR 0032).
    pub replica_urls: Vec<Secret>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret("sqlite://conduit.db?mode=rwc".into()),
            migrate_on_start: true,
            replica_urls: Vec::new(),
        }
    }
}

/// The URL schemes of a Redis: one server (`redis`, `rediss` with TLS), a Redis Cluster
/// (any node of it) or a primary found through Sentinel (ADR 0031).
const REDIS_SCHEMES: [&str; 6] = [
    "redis",
    "rediss",
    "redis-cluster",
    "rediss-cluster",
    "redis-sentinel",
    "rediss-sentinel",
];

/// Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// One server (`redis://host:6379`, `rediss://` with TLS), a Redis Cluster
    /// (`redis-cluster://node:7000`, any node; more as `?node=host:port`) or a primary
    /// behind Sentinel (`redis-sentinel://sentinel:26379?sentinelServiceName=NAME`).
    /// Unset means sessions live in the database.
    pub url: Option<Secret>,
    /// A Redis of their own for sessions, single-use sign-in state and idempotency keys
    /// (any URL `url` takes): one that persists its data and never evicts (ADR 0030), while
    /// `url` keeps the cache and the rate limits. Unset: everything in `url`.
    pub sessions_url: Option<Secret>,
    /// Prefix of every key this service writes, so several services (or test runs) can
    /// share one Redis.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            sessions_url: None,
            key_prefix: "conduit:".into(),
        }
    }
}

/// Tokens, sessions and password hashing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC key for access tokens, at least 32 bytes, known as key id `primary`. Unset,
    /// and with no `jwt_keys`: a random development key is generated at start (tokens
    /// then die with the process) and a warning is logged.
    pub jwt_secret: Option<Secret>,
    /// More verification keys by key id (`CONDUIT_AUTH__JWT_KEYS__<kid>=...`), for
    /// rotating the signing key without signing anyone out.
    pub jwt_keys: BTreeMap<String, Secret>,
    /// The key id new tokens are signed with; needed when there are several keys.
    pub jwt_signing_kid: Option<String>,
    /// `iss` claim.
    pub jwt_issuer: String,
    /// `aud` claim.
    pub jwt_audience: String,
    /// Access token lifetime, in seconds.
    pub token_ttl_seconds: u64,
    /// A session unused for this long ends (its refresh tokens stop working), in seconds.
    pub session_idle_seconds: u64,
    /// A session ends this long after sign-in whatever happens, in seconds.
    pub session_absolute_seconds: u64,
    /// A used refresh token presented again within this many seconds is exchanged again
    /// (two tabs refreshing at once) instead of ending the session; 0 turns it off.
    pub refresh_grace_seconds: u64,
    /// Browser mode: send refresh tokens in an `HttpOnly`, `SameSite=Strict` cookie
    /// scoped to `/api/auth` instead of the body (ADR 0009).
    pub refresh_cookie: bool,
    /// The cookie's `Secure` attribute; turn off only for local HTTP development.
    pub refresh_cookie_secure: bool,
    /// The Ed25519 private key (64 hex digits) that signs API keys (Biscuit tokens).
    /// Unset: a random development key is generated at start (API keys then die with the
    /// process) and a warning is logged. `conduit api-key-root` prints a new one.
    pub api_key_private_key: Option<Secret>,
    /// Argon2id memory per hash, in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Most password hashes computed at once: bounds the memory hashing holds
    /// (`argon2_concurrency × argon2_memory_kib`, kept for reuse) and the cores a login
    /// burst can take from other requests. Default: half the cores, at least 1 (ADR 0017).
    pub argon2_concurrency: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_keys: BTreeMap::new(),
            jwt_signing_kid: None,
            jwt_issuer: "conduit".into(),
            jwt_audience: "conduit".into(),
            token_ttl_seconds: 15 * 60,
            session_idle_seconds: 14 * 24 * 60 * 60,
            session_absolute_seconds: 60 * 24 * 60 * 60,
            refresh_grace_seconds: 10,
            api_key_private_key: None,
            refresh_cookie: false,
            refresh_cookie_secure: true,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_concurrency: std::thread::available_parallelism()
                .map_or(1, |cores| (cores.get() / 2).max(1)),
        }
    }
}

/// Access-token keys: every verification key by id, and the id of the signing key.
pub type TokenKeys = (Vec<(String, Vec<u8>)>, String);

impl AuthConfig {
    /// Every verification key by id (`jwt_secret` is `primary`), and the signing key id.
    /// `None` when no key is configured.
    pub fn jwt_keys(&self) -> Result<Option<TokenKeys>, ConfigError> {
        let mut keys: Vec<(String, Vec<u8>)> = self
            .jwt_keys
            .iter()
            .map(|(kid, secret)| (kid.clone(), secret.expose().as_bytes().to_vec()))
            .collect();
        if let Some(secret) = &self.jwt_secret {
            if self.jwt_keys.contains_key("primary") {
                return Err(ConfigError(
                    "auth.jwt_secret and auth.jwt_keys.primary: both name key id `primary`".into(),
                ));
            }
            keys.push(("primary".into(), secret.expose().as_bytes().to_vec()));
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let signing = match (&self.jwt_signing_kid, keys.as_slice()) {
            (Some(kid), _) => kid.clone(),
            (None, [(only, _)]) => only.clone(),
            (None, _) => {
                return Err(ConfigError(
                    "auth.jwt_signing_kid: several token keys are configured; name the one that signs".into(),
                ));
            }
        };
        if !keys.iter().any(|(kid, _)| *kid == signing) {
            return Err(ConfigError(format!(
                "auth.jwt_signing_kid: no key has id {signing:?}"
            )));
        }
        if let Some((kid, _)) = keys.iter().find(|(_, secret)| secret.len() < 32) {
            return Err(ConfigError(format!(
                "auth.jwt_keys.{kid} (or auth.jwt_secret, CONDUIT_AUTH__JWT_SECRET): must be at least 32 bytes"
            )));
        }
        Ok(Some((keys, signing)))
    }
}

/// Sign-in with identity providers (ADR 0011).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// The public address of this API (scheme, host, port), for the providers' callback:
    /// `{public_url}/api/auth/oauth/{provider}/callback` must be registered with each.
    pub public_url: String,
    /// Frontend addresses a sign-in may return to (`returnTo` must start with one).
    pub allowed_return_urls: Vec<String>,
    /// Providers by id (`CONDUIT_OAUTH__PROVIDERS__<id>__KIND=github`, ...).
    pub providers: BTreeMap<String, ProviderConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            // The usual development servers of the RealWorld frontends.
            allowed_return_urls: vec![
                "http://localhost:4200/".into(),
                "http://localhost:3000/".into(),
                "http://localhost:5173/".into(),
                "http://localhost:8080/".into(),
            ],
            providers: BTreeMap::new(),
        }
    }
}

/// One identity provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// `oidc` (any OpenID Connect provider, found by discovery) or `github`.
    pub kind: ProviderKind,
    /// For `oidc`: the issuer URL (discovery reads `{issuer}/.well-known/openid-configuration`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The client secret, if the provider issued one.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Scopes beyond the defaults.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Kinds of identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenID Connect with discovery.
    Oidc,
    /// GitHub (OAuth 2.0 and its user API).
    Github,
}

/// Rate limits (ADR 0012): one policy per endpoint group, counted per caller.
///
/// `CONDUIT_RATE_LIMIT__ENABLED=false` turns limiting off (load tests);
/// `CONDUIT_RATE_LIMIT__WRITE__REQUESTS=1000` raises one policy;
/// `CONDUIT_RATE_LIMIT__READ__ENABLED=false` switches one policy off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Limit requests at all; `false` switches every policy off.
    pub enabled: bool,
    /// The reverse proxies in front of the API, as IP addresses or CIDR networks
    /// (`10.0.0.0/8`): only a request whose TCP peer is one of them has its
    /// `X-Forwarded-For` header believed. Empty (the default): the peer is the client.
    /// A list, or one comma-separated string (handy in an environment variable).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// Registration, login, token refresh and OAuth sign-in: per client address.
    pub auth: RatePolicyConfig,
    /// Every other write under `/api` (POST, PUT, PATCH, DELETE): per caller.
    pub write: RatePolicyConfig,
    /// Reads under `/api` (GET, HEAD): per caller.
    pub read: RatePolicyConfig,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted_proxies: Vec::new(),
            // A person signs in a few times a day; 30 in 10 minutes per address leaves
            // room for a shared office address while making password guessing slow.
            auth: RatePolicyConfig::new(30, 600),
            write: RatePolicyConfig::new(120, 60),
            read: RatePolicyConfig::new(600, 60),
        }
    }
}

/// One policy: at most `requests` per `per_seconds`, in bursts of up to `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatePolicyConfig {
    /// `false` switches this policy off (its requests are not limited).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Requests allowed per period, and the largest burst; at least 1.
    pub requests: u32,
    /// The period, in seconds; at least 1.
    pub per_seconds: u64,
}

fn enabled_by_default() -> bool {
    true
}

impl RatePolicyConfig {
    /// An enabled policy of `requests` per `per_seconds`.
    pub const fn new(requests: u32, per_seconds: u64) -> Self {
        Self {
            enabled: true,
            requests,
            per_seconds,
        }
    }
}

impl RateLimitConfig {
    /// The trusted proxies as networks (a single address is a /32 or /128 network).
    pub fn trusted_networks(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError(format!(
                            "rate_limit.trusted_proxies: {entry:?} is neither an IP address nor a CIDR network (such as 10.0.0.0/8)"
                        ))
                    })
            })
            .collect()
    }

    /// The policies the rate-limit middleware applies: none when limiting is off, and
    /// none for a policy switched off.
    pub fn allowances(&self) -> Policies {
        let allowance = |policy: RatePolicyConfig| {
            (self.enabled && policy.enabled).then_some(Allowance {
                requests: policy.requests,
                per_seconds: policy.per_seconds,
            })
        };
        Policies {
            auth: allowance(self.auth),
            write: allowance(self.write),
            read: allowance(self.read),
        }
    }

    /// The policies by name, in the order they are documented.
    pub fn policies(&self) -> [(&'static str, RatePolicyConfig); 3] {
        [
            ("auth", self.auth),
            ("write", self.write),
            ("read", self.read),
        ]
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.trusted_networks()?;
        for (name, policy) in self.policies() {
            if !policy.enabled {
                continue;
            }
            if policy.requests == 0 {
                return Err(ConfigError(format!(
                    "rate_limit.{name}.requests: must be at least 1 (to stop limiting these requests, set rate_limit.{name}.enabled = false)"
                )));
            }
            if policy.per_seconds == 0 {
                return Err(ConfigError(format!(
                    "rate_limit.{name}.per_seconds: must be at least 1"
                )));
            }
        }
        Ok(())
    }
}

/// A list of strings as a file gives it, or one string of comma-separated items as an
/// environment variable does.
#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrString {
    List(Vec<String>),
    String(String),
}

impl ListOrString {
    /// The items (blank ones dropped from a comma-separated string).
    fn items(self) -> Vec<String> {
        match self {
            ListOrString::List(items) => items,
            ListOrString::String(text) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// A list of strings, or one string of comma-separated items (blank items dropped).
fn list_or_comma_separated<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    ListOrString::deserialize(deserializer).map(ListOrString::items)
}

/// [`list_or_comma_separated`], for a setting whose absence means "the default".
fn list_or_comma_separated_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Option::<ListOrString>::deserialize(deserializer).map(|v| v.map(ListOrString::items))
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json`, `pretty`, or `auto`: JSON in production, pretty in development.
    pub format: LogFormat,
    /// A `tracing` filter; `RUST_LOG` overrides it.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            filter: "info,sqlx=warn,sea_orm=warn,opentelemetry=warn".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON in production, pretty in development (resolved when the configuration is
    /// validated).
    Auto,
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A configuration value that must never be printed (keys, URLs with passwords).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why configuration could not be loaded; names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads the layers from the process environment.
    pub fn load() -> Result<Config, ConfigError> {
        let file = std::env::var_os("CONDUIT_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("conduit.toml"));
        Self::figment(file)
            .extract::<Config>()
            .map_err(|e| ConfigError(e.to_string()))?
            .validated()
    }

    fn figment(file: PathBuf) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis.url".into()))
            .merge(Env::raw().only(&["HOST"]).map(|_| "server.host".into()))
            .merge(Env::raw().only(&["PORT"]).map(|_| "server.port".into()))
            .merge(Env::prefixed("CONDUIT_").ignore(&["CONFIG"]).split("__"))
    }

    /// Checks values that parse but cannot work.
    pub fn validated(mut self) -> Result<Config, ConfigError> {
        // An empty REDIS_URL (a blank variable in a deployment file) means "no Redis".
        for url in [&mut self.redis.url, &mut self.redis.sessions_url] {
            if url.as_ref().is_some_and(|url| url.expose().is_empty()) {
                *url = None;
            }
        }
        for (url, name) in [
            (&self.redis.url, "redis.url (REDIS_URL)"),
            (
                &self.redis.sessions_url,
                "redis.sessions_url (CONDUIT_REDIS__SESSIONS_URL)",
            ),
        ] {
            if let Some(url) = url
                && !REDIS_SCHEMES
                    .iter()
                    .any(|scheme| url.expose().starts_with(&format!("{scheme}://")))
            {
                return Err(ConfigError(format!(
                    "{name}: expected a {} URL",
                    REDIS_SCHEMES
                        .map(|scheme| format!("{scheme}://"))
                        .join(", ")
                )));
            }
        }
        if self.redis.sessions_url.is_some() && self.redis.url.is_none() {
            return Err(ConfigError(
                "redis.sessions_url (CONDUIT_REDIS__SESSIONS_URL) is set without redis.url \
                 (REDIS_URL): set both, or neither"
                    .into(),
            ));
        }
        let postgres = |url: &Secret| {
            url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://")
        };
        for replica in &self.database.replica_urls {
            if !postgres(replica) {
                return Err(ConfigError(
                    "database.replica_urls (CONDUIT_DATABASE__REPLICA_URLS): each must be a \
                     postgres:// URL"
                        .into(),
                ));
            }
        }
        if !self.database.replica_urls.is_empty() && !postgres(&self.database.url) {
            return Err(ConfigError(
                "database.replica_urls needs database.url on PostgreSQL".into(),
            ));
        }
        if !(self.database.url.expose().starts_with("sqlite:") || postgres(&self.database.url)) {
            return Err(ConfigError(
                "database.url (DATABASE_URL): expected a sqlite: or postgres:// URL".into(),
            ));
        }
        self.auth.jwt_keys()?;
        if self.auth.token_ttl_seconds == 0 {
            return Err(ConfigError(
                "auth.token_ttl_seconds: must be positive".into(),
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError(
                "server.body_limit_bytes: must be at least 1024".into(),
            ));
        }
        self.rate_limit.validate()?;
        self.http.validate(self.environment)?;
        if self.log.format == LogFormat::Auto {
            self.log.format = match self.environment {
                Environment::Production => LogFormat::Json,
                Environment::Development => LogFormat::Pretty,
            };
        }
        if self.server.request_timeout_seconds == 0 {
            return Err(ConfigError(
                "server.request_timeout_seconds: must be positive".into(),
            ));
        }
        if self.server.idle_timeout_seconds == 0 {
            return Err(ConfigError(
                "server.idle_timeout_seconds: must be positive".into(),
            ));
        }
        if self.environment == Environment::Production {
            if self.auth.jwt_keys()?.is_none() {
                return Err(ConfigError(
                    "auth.jwt_secret (CONDUIT_AUTH__JWT_SECRET): required in production; without it tokens would be signed with a development key that dies with the process".into(),
                ));
            }
            if self.auth.api_key_private_key.is_none() {
                return Err(ConfigError(
                    "auth.api_key_private_key (CONDUIT_AUTH__API_KEY_PRIVATE_KEY): required in production; without it API keys would be signed with a development key (generate one with `conduit api-key-root`)".into(),
                ));
            }
        }
        if self.cache.enabled && (self.cache.ttl_seconds == 0 || self.cache.max_entries == 0) {
            return Err(ConfigError(
                "cache.ttl_seconds and cache.max_entries: must be positive (to stop caching, set cache.enabled = false)".into(),
            ));
        }
        if self.idempotency.ttl_seconds == 0 {
            return Err(ConfigError(
                "idempotency.ttl_seconds: must be positive".into(),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // figment's error type is large; the closure signature is figment's, not ours.
    #[allow(clippy::result_large_err)]
    fn layers_apply_in_order_and_shortcuts_work() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "conduit.toml",
                "[server]\nport = 7000\nhost = \"0.0.0.0\"\n",
            )?;
            jail.set_env("DATABASE_URL", "postgres://db/conduit");
            jail.set_env("PORT", "7100");
            jail.set_env("CONDUIT_SERVER__PORT", "7200");
            let config: Config = Config::figment("conduit.toml".into()).extract()?;
            assert_eq!(config.server.host, "0.0.0.0");
            assert_eq!(config.server.port, 7200);
            assert_eq!(config.database.url.expose(), "postgres://db/conduit");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn rate_limits_are_configured_by_file_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "conduit.toml",
                "[rate_limit]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\n\
                 [rate_limit.write]\nrequests = 1000\n",
            )?;
            jail.set_env("CONDUIT_RATE_LIMIT__READ__ENABLED", "false");
            jail.set_env("CONDUIT_RATE_LIMIT__AUTH__PER_SECONDS", "60");
            let config: Config = Config::figment("conduit.toml".into()).extract()?;
            let limits = &config.rate_limit;
            assert!(limits.enabled);
            assert_eq!(limits.trusted_proxies, ["10.0.0.0/8", "::1"]);
            assert_eq!(
                limits.write,
                RatePolicyConfig::new(1000, 60),
                "a policy given in part keeps its other defaults"
            );
            assert!(!limits.read.enabled);
            assert_eq!(limits.read.requests, 600);
            assert_eq!(limits.auth, RatePolicyConfig::new(30, 60));

            jail.set_env("CONDUIT_RATE_LIMIT__ENABLED", "false");
            jail.set_env(
                "CONDUIT_RATE_LIMIT__TRUSTED_PROXIES",
                "127.0.0.1, 192.168.0.0/16",
            );
            let config: Config = Config::figment("conduit.toml".into()).extract()?;
            assert!(!config.rate_limit.enabled);
            assert_eq!(
                config.rate_limit.trusted_proxies,
                ["127.0.0.1", "192.168.0.0/16"],
                "one comma-separated variable"
            );
            jail.set_env("CONDUIT_RATE_LIMIT__TRUSTED_PROXIES", "[10.1.2.3]");
            let config: Config = Config::figment("conduit.toml".into()).extract()?;
            assert_eq!(config.rate_limit.trusted_proxies, ["10.1.2.3"]);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_sessions_redis_is_optional_and_needs_the_other() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("REDIS_URL", "redis://cache:6379");
            jail.set_env("CONDUIT_REDIS__SESSIONS_URL", "redis://sessions:6379");
            let config = Config::figment("absent.toml".into())
                .extract::<Config>()?
                .validated()
                .expect("valid");
            assert_eq!(
                config.redis.sessions_url.as_ref().map(Secret::expose),
                Some("redis://sessions:6379")
            );
            // A blank variable means unset, as for REDIS_URL.
            jail.set_env("CONDUIT_REDIS__SESSIONS_URL", "");
            let config = Config::figment("absent.toml".into())
                .extract::<Config>()?
                .validated()
                .expect("valid");
            assert!(config.redis.sessions_url.is_none());
            Ok(())
        });
        let mut config = Config::default();
        config.redis.sessions_url = Some(Secret("redis://sessions:6379".into()));
        let refused = config
            .clone()
            .validated()
            .expect_err("sessions without redis.url");
        assert!(refused.0.contains("set both"), "{}", refused.0);
        config.redis.url = Some(Secret("redis://cache:6379".into()));
        config.redis.sessions_url = Some(Secret("http://sessions".into()));
        let refused = config.validated().expect_err("not a redis URL");
        assert!(refused.0.contains("redis.sessions_url"), "{}", refused.0);
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn replicas_are_a_list_of_postgres_urls_beside_a_postgres_primary() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://primary:5432/conduit");
            jail.set_env(
                "CONDUIT_DATABASE__REPLICA_URLS",
                r#"["postgres://replica-1:5432/conduit", "postgres://replica-2:5432/conduit"]"#,
            );
            let config = Config::figment("absent.toml".into())
                .extract::<Config>()?
                .validated()
                .expect("valid");
            let urls: Vec<&str> = config
                .database
                .replica_urls
                .iter()
                .map(Secret::expose)
                .collect();
            assert_eq!(
                urls,
                [
                    "postgres://replica-1:5432/conduit",
                    "postgres://replica-2:5432/conduit"
                ]
            );
            Ok(())
        });
        let mut config = Config::default();
        config.database.replica_urls = vec![Secret("postgres://replica/conduit".into())];
        let refused = config.clone().validated().expect_err("SQLite primary");
        assert!(
            refused.0.contains("needs database.url on PostgreSQL"),
            "{}",
            refused.0
        );
        config.database.url = Secret("postgres://primary/conduit".into());
        config.database.replica_urls = vec![Secret("mysql://replica/conduit".into())];
        let refused = config.validated().expect_err("not PostgreSQL");
        assert!(refused.0.contains("postgres:// URL"), "{}", refused.0);
    }

    #[test]
    fn redis_may_be_a_cluster_or_behind_sentinel() {
        for url in [
            "redis://cache:6379",
            "rediss://cache:6380",
            "redis-cluster://node-1:7000?node=node-2:7000",
            "rediss-cluster://node-1:7000",
            "redis-sentinel://sentinel:26379?sentinelServiceName=conduit",
            "rediss-sentinel://sentinel:26379?sentinelServiceName=conduit",
        ] {
            let mut config = Config::default();
            config.redis.url = Some(Secret(url.into()));
            config.redis.sessions_url = Some(Secret(url.into()));
            config
                .validated()
                .unwrap_or_else(|e| panic!("{url}: {}", e.0));
        }
        for url in [
            "http://cache:6379",
            "redis:/cache",
            "redis-clusters://node:7000",
        ] {
            let mut config = Config::default();
            config.redis.url = Some(Secret(url.into()));
            let refused = config.validated().expect_err(url);
            assert!(
                refused.0.contains("redis-cluster://, rediss-cluster://"),
                "{url}: {}",
                refused.0
            );
        }
    }

    #[test]
    fn rate_limit_defaults_and_rules() {
        let defaults = Config::default().validated().expect("valid defaults");
        let limits = &defaults.rate_limit;
        assert!(limits.enabled);
        assert!(limits.trusted_proxies.is_empty());
        assert_eq!(
            limits.policies(),
            [
                ("auth", RatePolicyConfig::new(30, 600)),
                ("write", RatePolicyConfig::new(120, 60)),
                ("read", RatePolicyConfig::new(600, 60)),
            ]
        );

        let mut config = Config::default();
        config.rate_limit.trusted_proxies = vec![
            "10.1.2.3/8".into(),
            " 192.0.2.1 ".into(),
            "2001:db8::/32".into(),
        ];
        let networks = config.rate_limit.trusted_networks().expect("valid");
        let shown: Vec<String> = networks.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]);

        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0"] {
            config.rate_limit.trusted_proxies = vec![bad.into()];
            let err = config.clone().validated().expect_err(bad).to_string();
            assert!(err.contains("rate_limit.trusted_proxies"), "{err}");
        }
        config.rate_limit.trusted_proxies.clear();

        config.rate_limit.write.requests = 0;
        let err = config.clone().validated().expect_err("zero").to_string();
        assert!(
            err.contains("rate_limit.write.requests") && err.contains("enabled = false"),
            "{err}"
        );
        config.rate_limit.write.enabled = false;
        config
            .clone()
            .validated()
            .expect("a switched-off policy is not checked");
        config.rate_limit.read.per_seconds = 0;
        let err = config.validated().expect_err("zero period").to_string();
        assert!(err.contains("rate_limit.read.per_seconds"), "{err}");
    }

    #[test]
    fn production_refuses_development_keys_and_open_cors_with_credentials() {
        let mut config = Config {
            environment: Environment::Production,
            ..Config::default()
        };
        let err = config.clone().validated().expect_err("no key").to_string();
        assert!(err.contains("auth.jwt_secret"), "{err}");
        config.auth.jwt_secret = Some(Secret("production-signing-key-0123456789abcdef".into()));
        let err = config
            .clone()
            .validated()
            .expect_err("no API key root")
            .to_string();
        assert!(err.contains("auth.api_key_private_key"), "{err}");
        config.auth.api_key_private_key = Some(Secret("00".repeat(32)));
        let ok = config
            .clone()
            .validated()
            .expect("complete production setup");
        // Production: no cross-origin callers unless listed, HSTS for a year.
        assert!(ok.http.allowed_origins(ok.environment).is_empty());
        assert_eq!(ok.log.format, LogFormat::Json);
        assert_eq!(ok.http.hsts(ok.environment), Some(31_536_000));

        config.http.cors_allowed_origins = Some(vec!["*".into()]);
        let err = config
            .clone()
            .validated()
            .expect_err("wildcard")
            .to_string();
        assert!(err.contains("http.cors_allowed_origins"), "{err}");
        config.http.cors_allow_credentials = false;
        config
            .clone()
            .validated()
            .expect("a wildcard without credentials is allowed");

        config.http.cors_allowed_origins = Some(vec!["https://app.example.com/".into()]);
        let err = config.validated().expect_err("not an origin").to_string();
        assert!(err.contains("not an origin"), "{err}");
    }

    #[test]
    // figment's error type is large; the closure signature is figment's, not ours.
    #[allow(clippy::result_large_err)]
    fn development_defaults_allow_the_frontends_and_send_no_hsts() {
        let config = Config::default();
        let origins = config.http.allowed_origins(config.environment);
        assert!(origins.iter().any(|o| o == "http://localhost:4200"));
        assert_eq!(config.http.hsts(config.environment), None);
        figment::Jail::expect_with(|jail| {
            jail.set_env("CONDUIT_ENVIRONMENT", "production");
            jail.set_env(
                "CONDUIT_HTTP__CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            );
            jail.set_env("CONDUIT_HTTP__HSTS_MAX_AGE_SECONDS", "0");
            let config: Config = Config::figment("absent.toml".into()).extract()?;
            assert_eq!(config.environment, Environment::Production);
            assert_eq!(
                config.http.allowed_origins(config.environment),
                ["https://a.example", "https://b.example"]
            );
            assert_eq!(config.http.hsts(config.environment), None);
            Ok(())
        });
    }

    #[test]
    // figment's error type is large; the closure signature is figment's, not ours.
    #[allow(clippy::result_large_err)]
    fn extra_origins_add_to_the_defaults_or_to_the_list() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "CONDUIT_HTTP__CORS_EXTRA_ORIGINS",
                "http://localhost:3001,http://localhost:4200",
            );
            let config: Config = Config::figment("absent.toml".into()).extract()?;
            let origins = config.http.allowed_origins(config.environment);
            assert!(
                origins.iter().any(|o| o == "http://localhost:3000"),
                "{origins:?}"
            );
            assert_eq!(
                origins.last().map(String::as_str),
                Some("http://localhost:3001")
            );
            assert_eq!(
                origins
                    .iter()
                    .filter(|o| *o == "http://localhost:4200")
                    .count(),
                1
            );

            jail.set_env("CONDUIT_HTTP__CORS_ALLOWED_ORIGINS", "https://a.example");
            let config: Config = Config::figment("absent.toml".into()).extract()?;
            assert_eq!(
                config.http.allowed_origins(config.environment),
                [
                    "https://a.example",
                    "http://localhost:3001",
                    "http://localhost:4200"
                ]
            );
            jail.set_env("CONDUIT_HTTP__CORS_EXTRA_ORIGINS", "localhost:3001");
            let config: Config = Config::figment("absent.toml".into()).extract()?;
            let err = config.validated().expect_err("not an origin").to_string();
            assert!(err.contains("\"localhost:3001\" is not an origin"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config = Config::default().validated().expect("valid defaults");
        assert_eq!(
            (config.server.host.as_str(), config.server.port),
            ("127.0.0.1", 8080)
        );
        assert!(config.database.url.expose().starts_with("sqlite:"));
        assert!(config.cache.enabled);
        assert_eq!(config.log.format, LogFormat::Pretty);
        let mut no_ttl = config.clone();
        no_ttl.cache.ttl_seconds = 0;
        let err = no_ttl.validated().expect_err("zero ttl").to_string();
        assert!(err.contains("cache.ttl_seconds"), "{err}");
        let mut no_retention = Config::default();
        no_retention.idempotency.ttl_seconds = 0;
        let err = no_retention
            .validated()
            .expect_err("zero retention")
            .to_string();
        assert!(err.contains("idempotency.ttl_seconds"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key_and_secrets_never_print() {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret("short".into()));
        let err = config
            .clone()
            .validated()
            .expect_err("short key")
            .to_string();
        assert!(err.contains("auth.jwt_secret"));
        assert!(!format!("{config:?}").contains("short"));
        config.auth.jwt_secret = None;
        config.database.url = Secret("mysql://x".into());
        assert!(
            config
                .validated()
                .expect_err("bad url")
                .to_string()
                .contains("database.url")
        );
    }
}
