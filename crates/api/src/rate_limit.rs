//! Rate limiting of `/api` (ADR 0012): a poem middleware that counts each request
//! against one policy, under one identity, through the [`RateLimiter`] port.
//!
//! - **Policies.** `auth` (registration, login, token refresh, the OAuth sign-in steps),
//!   `write` (every other request that is not GET, HEAD or OPTIONS) and `read` (GET,
//!   HEAD). Paths outside `/api` (health, documents, docs page) and OPTIONS (CORS
//!   preflight) are not limited.
//! - **Identity.** `user:<id>` for a valid access token, `key:<id>` for a valid API key,
//!   otherwise `ip:<client address>` (see [`crate::client_addr`]); `auth` requests always
//!   count by address, as they come before any sign-in. Invalid credentials count as
//!   anonymous: the handler refuses them anyway, and a made-up token must not buy a
//!   fresh allowance. The limiter's key is `<policy>:<identity>`.
//! - **Answer.** A refused request gets 429 (`rate_limited`) with `Retry-After`, without
//!   reaching the handler (its body is not even read). Every response of a limited
//!   request, allowed or refused, carries the policy and what is left of it in the
//!   structured-field headers of draft-ietf-httpapi-ratelimit-headers:
//!   `RateLimit-Policy: "read";q=600;w=60` and `RateLimit: "read";r=599;t=1`.
//! - **Failure.** If the limiter itself fails (which the fallback limiter makes rare),
//!   the request goes ahead unlimited and the failure is logged: limiting protects the
//!   service, it must not become the reason it is down.

use std::{net::IpAddr, sync::Arc, time::Duration};

use ipnet::IpNet;

use conduit_app::Conduit;
use conduit_domain::{
    api_key::ApiKeyId,
    ports::RateLimiter,
    rate_limit::{RateDecision, RatePolicy},
};
use opentelemetry::{KeyValue, metrics::Counter};
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, header},
};

use crate::{
    client_addr::{self, TrustedProxies},
    error::{self, ApiError},
    security::bearer_token,
};

/// `RateLimit`: what is left of the policy's allowance.
pub const RATE_LIMIT: &str = "RateLimit";
/// `RateLimit-Policy`: the policy that applies.
pub const RATE_LIMIT_POLICY: &str = "RateLimit-Policy";

/// A group of endpoints with a policy of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Registration, login, token refresh and the OAuth sign-in steps.
    Auth,
    /// Other writes.
    Write,
    /// Reads.
    Read,
}

impl Group {
    /// The group of a request, or `None` when it is not limited.
    pub fn of(method: &Method, path: &str) -> Option<Group> {
        let rest = path.strip_prefix("/api")?;
        if !(rest.is_empty() || rest.starts_with('/')) || method == Method::OPTIONS {
            return None;
        }
        let rest = rest.trim_end_matches('/');
        let sign_in = rest.starts_with("/auth/oauth/")
            || (method == Method::POST
                && matches!(rest, "/users" | "/users/login" | "/auth/refresh"));
        Some(if sign_in {
            Group::Auth
        } else if method == Method::GET || method == Method::HEAD {
            Group::Read
        } else {
            Group::Write
        })
    }
}

/// One policy's allowance: at most `requests` per `per_seconds`, in bursts of up to
/// `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests allowed per period, and the largest burst.
    pub requests: u32,
    /// The period, in seconds.
    pub per_seconds: u64,
}

/// The policies of the three groups; `None` lets a group's requests through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policies {
    /// [`Group::Auth`], per client address.
    pub auth: Option<Allowance>,
    /// [`Group::Write`], per caller.
    pub write: Option<Allowance>,
    /// [`Group::Read`], per caller.
    pub read: Option<Allowance>,
}

/// One configured policy, with its `RateLimit-Policy` header made once.
#[derive(Debug, Clone)]
struct Policy {
    name: &'static str,
    policy: RatePolicy,
    header: HeaderValue,
}

impl Policy {
    /// The policy `name` of `allowance`, or `None` when it allows nothing to be counted.
    fn new(name: &'static str, allowance: Allowance) -> Option<Policy> {
        if allowance.requests == 0 || allowance.per_seconds == 0 {
            return None;
        }
        let header = format!(
            "\"{name}\";q={};w={}",
            allowance.requests, allowance.per_seconds
        );
        Some(Policy {
            name,
            policy: RatePolicy {
                limit: allowance.requests,
                period: Duration::from_secs(allowance.per_seconds),
            },
            header: HeaderValue::from_str(&header).ok()?,
        })
    }

    /// The `RateLimit` header after `decision`.
    fn remaining(&self, decision: &RateDecision) -> Option<HeaderValue> {
        let value = format!(
            "\"{}\";r={};t={}",
            self.name,
            decision.remaining,
            whole_seconds(decision.reset_after)
        );
        HeaderValue::from_str(&value).ok()
    }
}

/// Seconds, rounded up: a client that waits this long is never early.
fn whole_seconds(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0))
}

/// The rate-limit middleware; see the module docs.
#[derive(Clone)]
pub struct RateLimit {
    shared: Arc<Shared>,
}

struct Shared {
    limiter: Arc<dyn RateLimiter>,
    app: Conduit,
    proxies: TrustedProxies,
    auth: Option<Policy>,
    write: Option<Policy>,
    read: Option<Policy>,
    /// `conduit.rate_limit.rejections`, by policy.
    rejections: Counter<u64>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [&self.shared.auth, &self.shared.write, &self.shared.read]
            .into_iter()
            .flatten()
            .map(|p| p.name)
            .collect();
        f.debug_struct("RateLimit")
            .field("policies", &names)
            .finish_non_exhaustive()
    }
}

impl RateLimit {
    /// The middleware for `policies`, counting through `limiter`, believing
    /// `X-Forwarded-For` from the `trusted_proxies` only, and verifying credentials with
    /// `app`. With every policy `None` it lets everything through.
    pub fn new(
        policies: Policies,
        trusted_proxies: Vec<IpNet>,
        limiter: Arc<dyn RateLimiter>,
        app: Conduit,
    ) -> RateLimit {
        let policy =
            |name, allowance: Option<Allowance>| allowance.and_then(|a| Policy::new(name, a));
        RateLimit {
            shared: Arc::new(Shared {
                limiter,
                app,
                proxies: TrustedProxies::new(trusted_proxies),
                auth: policy("auth", policies.auth),
                write: policy("write", policies.write),
                read: policy("read", policies.read),
                rejections: crate::metrics::rate_limit_rejections(),
            }),
        }
    }
}

impl Shared {
    fn policy(&self, group: Group) -> Option<&Policy> {
        match group {
            Group::Auth => self.auth.as_ref(),
            Group::Write => self.write.as_ref(),
            Group::Read => self.read.as_ref(),
        }
    }

    /// The client's address (see [`crate::client_addr`]); `None` for a peer without an
    /// IP address (not one this server listens on).
    fn client(&self, req: &Request) -> Option<IpAddr> {
        let peer = req.remote_addr().as_socket_addr()?.ip();
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .map(HeaderValue::as_bytes);
        Some(self.proxies.client(peer, forwarded))
    }

    /// Who the request counts against.
    fn identity(&self, req: &Request, group: Group) -> String {
        let anonymous = || {
            self.client(req)
                .map(client_addr::identity)
                .unwrap_or_else(|| "ip:unknown".to_owned())
        };
        if group == Group::Auth {
            return anonymous();
        }
        let token = req
            .header(header::AUTHORIZATION)
            .and_then(bearer_token)
            // The signature alone decides whom the request counts against; whether its
            // session is alive is the handler's to check (a revoked token counts against
            // its own user, as a revoked key does below).
            .and_then(|token| self.app.token_claims(token).ok());
        if let Some(claims) = token {
            return format!("user:{}", claims.user);
        }
        if let Some(key) = req.header("x-api-key").and_then(|k| self.api_key(k)) {
            return format!("key:{key}");
        }
        anonymous()
    }

    /// The id of a valid API key: signed by us, not expired, allowing some scope.
    /// Revocation is left to the handler (it needs the database): a revoked key counts
    /// under its own id until the handler refuses it, which costs its holder, not others.
    fn api_key(&self, token: &str) -> Option<ApiKeyId> {
        self.app.api_key_claims(token)
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RateLimitEndpoint {
            inner: ep,
            shared: self.shared.clone(),
        }
    }
}

/// The endpoint made by [`RateLimit`].
pub struct RateLimitEndpoint<E> {
    inner: E,
    shared: Arc<Shared>,
}

impl<E> std::fmt::Debug for RateLimitEndpoint<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitEndpoint").finish_non_exhaustive()
    }
}

impl<E: Endpoint> RateLimitEndpoint<E> {
    async fn pass(&self, req: Request) -> Response {
        match self.inner.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => error::normalize(err),
        }
    }
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let shared = &self.shared;
        let Some((group, policy)) = Group::of(req.method(), req.uri().path())
            .and_then(|group| Some((group, shared.policy(group)?.clone())))
        else {
            return Ok(self.pass(req).await);
        };
        let identity = shared.identity(&req, group);
        let key = format!("{}:{identity}", policy.name);
        let decision = match shared.limiter.check(&key, policy.policy).await {
            Ok(decision) => decision,
            Err(err) => {
                tracing::error!(target: "rate_limit", error = %err, policy = policy.name, "rate limiter failed; request let through");
                return Ok(self.pass(req).await);
            }
        };
        let mut response = if decision.allowed {
            self.pass(req).await
        } else {
            let retry_after = whole_seconds(decision.retry_after.unwrap_or_default()).max(1);
            tracing::debug!(target: "rate_limit", policy = policy.name, identity = %identity, retry_after, "rate limited");
            shared
                .rejections
                .add(1, &[KeyValue::new("policy", policy.name)]);
            let mut response = ApiError::rate_limited(retry_after).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        };
        let headers = response.headers_mut();
        headers.insert(RATE_LIMIT_POLICY, policy.header.clone());
        if let Some(value) = policy.remaining(&decision) {
            headers.insert(RATE_LIMIT, value);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_into_their_groups() {
        let cases = [
            (Method::POST, "/api/users", Some(Group::Auth)),
            (Method::POST, "/api/users/", Some(Group::Auth)),
            (Method::POST, "/api/users/login", Some(Group::Auth)),
            (Method::POST, "/api/auth/refresh", Some(Group::Auth)),
            (
                Method::GET,
                "/api/auth/oauth/github/start",
                Some(Group::Auth),
            ),
            (
                Method::GET,
                "/api/auth/oauth/github/callback",
                Some(Group::Auth),
            ),
            (Method::POST, "/api/auth/oauth/exchange", Some(Group::Auth)),
            (Method::GET, "/api/users", Some(Group::Read)),
            (Method::PUT, "/api/user", Some(Group::Write)),
            (Method::POST, "/api/auth/logout", Some(Group::Write)),
            (Method::DELETE, "/api/articles/a-slug", Some(Group::Write)),
            (Method::PATCH, "/api/anything", Some(Group::Write)),
            (Method::GET, "/api/articles", Some(Group::Read)),
            (Method::HEAD, "/api/tags", Some(Group::Read)),
            (Method::GET, "/api", Some(Group::Read)),
            (Method::GET, "/api/no-such-route", Some(Group::Read)),
            (Method::OPTIONS, "/api/articles", None),
            (Method::GET, "/apiary", None),
            (Method::GET, "/health/live", None),
            (Method::GET, "/openapi.json", None),
            (Method::GET, "/docs", None),
        ];
        for (method, path, group) in cases {
            assert_eq!(Group::of(&method, path), group, "{method} {path}");
        }
    }

    #[test]
    fn headers_take_the_structured_field_form() {
        let allowance = Allowance {
            requests: 600,
            per_seconds: 60,
        };
        let policy = Policy::new("read", allowance).expect("on");
        assert_eq!(policy.header, "\"read\";q=600;w=60");
        let decision = RateDecision {
            allowed: true,
            remaining: 598,
            reset_after: Duration::from_millis(200),
            retry_after: None,
        };
        assert_eq!(
            policy.remaining(&decision).expect("a header"),
            "\"read\";r=598;t=1"
        );
    }

    #[test]
    fn empty_allowances_are_no_policy() {
        for (requests, per_seconds) in [(0, 60), (10, 0)] {
            let allowance = Allowance {
                requests,
                per_seconds,
            };
            assert!(Policy::new("write", allowance).is_none());
        }
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(12)), 12);
        assert_eq!(whole_seconds(Duration::from_millis(11_001)), 12);
    }
}
