//! Configuration, layered: built-in defaults, then an optional TOML file
//! (`conduit.toml`, or the file named by `CONDUIT_CONFIG`), then the conventional
//! variables `DATABASE_URL`, `REDIS_URL`, `HOST` and `PORT`, then `CONDUIT_*` variables
//! with `__` between levels (`CONDUIT_SERVER__PORT=9000`). Later layers win.

use std::{fmt, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening socket and HTTP limits.
    pub server: ServerConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Redis (not used yet; accepted so deployments can set it already).
    pub redis: RedisConfig,
    /// Tokens and password hashing.
    pub auth: AuthConfig,
    /// Logging.
    pub log: LogConfig,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            body_limit_bytes: 1024 * 1024,
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
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret("sqlite://conduit.db?mode=rwc".into()),
            migrate_on_start: true,
        }
    }
}

/// Redis.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://...`; unset means in-process adapters.
    pub url: Option<Secret>,
}

/// Tokens and password hashing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC key for access tokens, at least 32 bytes. Unset: a random development key is
    /// generated at start (tokens then die with the process) and a warning is logged.
    pub jwt_secret: Option<Secret>,
    /// `iss` claim.
    pub jwt_issuer: String,
    /// `aud` claim.
    pub jwt_audience: String,
    /// Access token lifetime, in seconds.
    pub token_ttl_seconds: u64,
    /// Argon2id memory per hash, in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Most password hashes computed at once (bounds memory under login bursts).
    pub argon2_concurrency: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_issuer: "conduit".into(),
            jwt_audience: "conduit".into(),
            token_ttl_seconds: 24 * 60 * 60,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_concurrency: 2,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` (development) or `json` (production).
    pub format: LogFormat,
    /// A `tracing` filter; `RUST_LOG` overrides it.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            filter: "info,sqlx=warn,sea_orm=warn".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
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
pub struct ConfigError(String);

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
    pub fn validated(self) -> Result<Config, ConfigError> {
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "database.url (DATABASE_URL): expected a sqlite: or postgres:// URL".into(),
            ));
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.expose().len() < 32
        {
            return Err(ConfigError(
                "auth.jwt_secret (CONDUIT_AUTH__JWT_SECRET): must be at least 32 bytes".into(),
            ));
        }
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
    fn defaults_are_the_embedded_setup() {
        let config = Config::default().validated().expect("valid defaults");
        assert_eq!(
            (config.server.host.as_str(), config.server.port),
            ("127.0.0.1", 8080)
        );
        assert!(config.database.url.expose().starts_with("sqlite:"));
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
