//! Start-up: connects storage through the wiring, builds the HTTP stack over the use
//! cases with what it needs from the process, and binds the listener.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use conduit_adapters::{cached::RenderedLists, rate_limit::FallbackLimiter};
use conduit_api::{
    CookiePolicy, Readiness, Render, RenderedListCache, StackParts, StackSettings,
    rate_limit::RateLimit,
};
use conduit_domain::{
    Error, UserId,
    article::{ArticleSelection, Page},
};
use poem::{
    Response, Server,
    endpoint::BoxEndpoint,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};

use crate::{
    config::Config,
    connection::IdleTimeout,
    health::Health,
    telemetry,
    wiring::{Wired, rate_limiter, wire},
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
        let rate_limit = RateLimit::new(
            config.rate_limit.allowances(),
            config
                .rate_limit
                .trusted_networks()
                .map_err(|e| StartupError::Config(e.0))?,
            limiter,
            app.clone(),
        );
        let rendered = invalidation.as_ref().map(|cache| {
            Arc::new(ReadCacheLists(cache.rendered_lists())) as Arc<dyn RenderedListCache>
        });
        let health = Health {
            database,
            redis: redis_sessions,
            cache: invalidation,
            rate_limiter: shared_rate_limiter.clone(),
        };
        log_cors(config);
        let parts = StackParts {
            rate_limit,
            idempotency,
            rendered,
            readiness: Arc::new(health),
        };
        let endpoint = conduit_api::endpoint(&app, &stack_settings(config), parts);
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
        let idle = Duration::from_secs(config.server.idle_timeout_seconds);
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
            .run_with_graceful_shutdown(self.endpoint, shutdown, Some(Duration::from_secs(10)))
            .await
    }
}

/// The HTTP stack's settings from `config`.
pub fn stack_settings(config: &Config) -> StackSettings {
    let http = &config.http;
    StackSettings {
        body_limit_bytes: config.server.body_limit_bytes,
        request_timeout: Duration::from_secs(config.server.request_timeout_seconds),
        idempotency_ttl: Duration::from_secs(config.idempotency.ttl_seconds),
        compression: http.compression,
        compression_min_bytes: http.compression_min_bytes,
        compression_cache_bytes: http.compression_cache_bytes,
        hsts_max_age_seconds: http.hsts(config.environment),
        cors_origins: http.allowed_origins(config.environment),
        cors_allow_credentials: http.cors_allow_credentials,
        cookie: config.auth.refresh_cookie.then_some(CookiePolicy {
            secure: config.auth.refresh_cookie_secure,
            max_age_seconds: config.auth.session_absolute_seconds,
        }),
        traces: telemetry::traces_enabled(),
        metrics: telemetry::metrics_enabled(),
    }
}

/// Says at start which browser origins may call the API.
fn log_cors(config: &Config) {
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
}

/// The read cache's rendered list pages, as the HTTP layer's cache of them.
#[derive(Debug)]
pub struct ReadCacheLists(pub RenderedLists);

#[async_trait]
impl RenderedListCache for ReadCacheLists {
    async fn read_through<'a>(
        &'a self,
        representation: &'a str,
        selection: &'a ArticleSelection,
        page: Page,
        viewer: Option<UserId>,
        render: Render<'a>,
    ) -> Result<Vec<u8>, Error> {
        self.0
            .read_through(representation, selection, page, viewer, || render)
            .await
    }

    async fn read_through_feed<'a>(
        &'a self,
        representation: &'a str,
        viewer: UserId,
        page: Page,
        render: Render<'a>,
    ) -> Result<Vec<u8>, Error> {
        self.0
            .read_through_feed(representation, viewer, page, || render)
            .await
    }
}

#[async_trait]
impl Readiness for Health {
    async fn ready(&self) -> Response {
        Health::ready(self).await
    }
}
