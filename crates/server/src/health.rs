//! Health endpoints for orchestrators: `/health/live` (the process answers) and
//! `/health/ready` (whether this instance can serve, and how well).
//!
//! Readiness is `503` only when the database is unreachable: without it nothing works.
//! A replica left alone after a failure (ADR 0032) makes the instance `degraded`: its
//! reads go to the primary.
//! A failing Redis makes the instance `degraded` but still ready (`200`): reads come from
//! the database, rate limits are kept in process, and pulling every instance out of
//! rotation because of Redis would turn a degradation into an outage. Sign-in and
//! refresh, whose sessions live in Redis, fail meanwhile; the report says so.

use std::{sync::Arc, time::Duration};

use conduit_adapters::{
    cached::CacheInvalidation, rate_limit::FallbackLimiter, redis::RedisSessions, sql::SqlStore,
};
use poem::{IntoResponse, Response, http::StatusCode, web::Json};
use serde_json::{Value, json};

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What readiness looks at.
#[derive(Clone)]
pub struct Health {
    /// The database.
    pub database: SqlStore,
    /// Redis, when configured (probed through the session store's connection).
    pub redis: Option<RedisSessions>,
    /// The read cache, when enabled.
    pub cache: Option<Arc<CacheInvalidation>>,
    /// The shared rate limiter, when limits are shared through Redis.
    pub rate_limiter: Option<Arc<FallbackLimiter>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").finish_non_exhaustive()
    }
}

impl Health {
    /// The readiness report and its status code.
    pub async fn ready(&self) -> Response {
        let database = tokio::time::timeout(PROBE_TIMEOUT, self.database.ping())
            .await
            .is_ok_and(|r| r.is_ok());
        let redis = match &self.redis {
            None => None,
            Some(redis) => Some(
                tokio::time::timeout(PROBE_TIMEOUT, redis.ping())
                    .await
                    .is_ok_and(|r| r.is_ok()),
            ),
        };
        let cache = self.cache.as_ref().map(|c| !c.degraded());
        let limiter = self.rate_limiter.as_ref().map(|l| !l.degraded());
        let replicas = self.database.replicas_in_use();
        let all_replicas = replicas.map(|(up, of)| up == of);
        let degraded = [redis, cache, limiter, all_replicas]
            .into_iter()
            .flatten()
            .any(|ok| !ok);
        let (status, code) = if !database {
            ("unavailable", StatusCode::SERVICE_UNAVAILABLE)
        } else if degraded {
            ("degraded", StatusCode::OK)
        } else {
            ("ok", StatusCode::OK)
        };
        let body = json!({
            "status": status,
            "checks": {
                "database": if database { "up" } else { "down" },
                "redis": match redis {
                    None => "not configured",
                    Some(true) => "up",
                    Some(false) => "down: sign-in and refresh fail until it returns",
                },
                "cache": match (&self.cache, cache) {
                    (None, _) => "disabled",
                    (Some(_), Some(false)) => "bypassed: reading from the database",
                    _ => "in use",
                },
                "rateLimits": match (&self.rate_limiter, limiter) {
                    (None, _) => "per instance",
                    (Some(_), Some(false)) => "per instance while Redis fails",
                    _ => "shared through Redis",
                },
                "replicas": match replicas {
                    None => "not configured".to_owned(),
                    Some((up, of)) if up == of => format!("{up} of {of} in use"),
                    Some((up, of)) => {
                        format!("{up} of {of} in use: the others' reads go to the primary")
                    }
                },
            }
        });
        report(code, body)
    }
}

fn report(code: StatusCode, body: Value) -> Response {
    Json(body)
        .with_status(code)
        .with_header("cache-control", "no-store")
        .into_response()
}
