//! Rate limits over HTTP: 429 with `Retry-After` and the standard error body, the
//! `RateLimit` headers, who counts against what, `X-Forwarded-For` from trusted proxies
//! only, and switching limits off. Policies are made tiny (a few requests a minute) so
//! that no allowance comes back while a test runs.

use conduit_server::{Config, config::RatePolicyConfig};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, assert_error, reply, spawn_app_with};

/// A policy of `requests` per minute.
fn per_minute(requests: u32) -> RatePolicyConfig {
    RatePolicyConfig::new(requests, 60)
}

/// A reply with its headers.
struct Answer {
    headers: HeaderMap,
    reply: Reply,
}

impl Answer {
    fn status(&self) -> StatusCode {
        self.reply.status
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `r` of the `RateLimit` header.
    fn remaining(&self) -> u32 {
        let value = self.header("ratelimit").expect("a RateLimit header");
        value
            .split(';')
            .find_map(|part| part.strip_prefix("r="))
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no r in {value}"))
    }
}

/// Sends `method /api{path}` with the given extra headers (and a JSON body for writes).
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut request = app
        .client
        .request(method, format!("{}/api{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sent");
    let headers = response.headers().clone();
    Answer {
        headers,
        reply: reply(response).await,
    }
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(app, Method::GET, path, headers, None).await
}

fn token(token: &str) -> String {
    format!("Token {token}")
}

#[tokio::test]
async fn past_the_limit_the_answer_is_429_with_retry_after() {
    let app = spawn_app_with(|c| c.rate_limit.read = per_minute(3)).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let answer = get(&app, "/tags", &[]).await;
        assert_eq!(answer.status(), StatusCode::OK, "{:?}", answer.reply.body);
        assert_eq!(answer.header("ratelimit-policy"), Some("\"read\";q=3;w=60"));
        remaining.push(answer.remaining());
    }
    assert_eq!(remaining, [2, 1, 0], "r counts down");

    let refused = get(&app, "/tags", &[("Origin", "http://localhost:4200")]).await;
    assert_error(&refused.reply, 429, "request", "rate_limited");
    let message = refused.reply.body["errors"]["request"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("too many requests, retry in "),
        "{message}"
    );
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    // One request's allowance comes back every 20 s at 3 a minute.
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert!(
        message.contains(&format!(" {retry_after} second")),
        "{message}"
    );
    assert_eq!(refused.remaining(), 0);
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"read\";q=3;w=60")
    );
    let t: u64 = refused
        .header("ratelimit")
        .and_then(|v| v.rsplit_once(";t="))
        .and_then(|(_, t)| t.parse().ok())
        .expect("t in RateLimit");
    assert!(t >= retry_after && t <= 60, "t={t}");

    // The refusal went through the rest of the stack: security headers, and CORS that
    // lets a browser script read the rate-limit headers.
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
    let exposed = refused
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in ["ratelimit", "ratelimit-policy", "retry-after"] {
        assert!(
            exposed.split(',').any(|h| h.trim() == name),
            "{name} not in {exposed:?}"
        );
    }
    app.cleanup().await;
}

#[tokio::test]
async fn each_user_has_an_allowance_of_their_own() {
    let app = spawn_app_with(|c| c.rate_limit.read = per_minute(2)).await;
    let alice = token(&app.register("rl_alice").await);
    let bob = token(&app.register("rl_bob").await);
    for _ in 0..2 {
        let answer = get(&app, "/user", &[("Authorization", &alice)]).await;
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let refused = get(&app, "/user", &[("Authorization", &alice)]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    let other = get(&app, "/user", &[("Authorization", &bob)]).await;
    assert_eq!(other.status(), StatusCode::OK, "bob is not alice");
    assert_eq!(other.remaining(), 1);
    let anonymous = get(&app, "/tags", &[]).await;
    assert_eq!(
        anonymous.status(),
        StatusCode::OK,
        "the address is not alice"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn an_api_key_counts_apart_from_its_owners_sessions() {
    let app = spawn_app_with(|c| c.rate_limit.read = per_minute(2)).await;
    let owner = app.register("rl_keyowner").await;
    let created = app
        .post(
            "/api-keys",
            Some(&owner),
            json!({"apiKey": {"name": "bot", "scopes": ["user:read"]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["apiKey"]["token"]
        .as_str()
        .expect("a key")
        .to_owned();
    let owner = token(&owner);
    for _ in 0..2 {
        let answer = get(&app, "/user", &[("Authorization", &owner)]).await;
        assert_eq!(answer.status(), StatusCode::OK);
    }
    assert_eq!(
        get(&app, "/user", &[("Authorization", &owner)])
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let by_key = get(&app, "/user", &[("X-API-Key", &key)]).await;
    assert_eq!(by_key.status(), StatusCode::OK, "{:?}", by_key.reply.body);
    assert_eq!(by_key.remaining(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn anonymous_callers_and_bad_credentials_count_by_address() {
    let app = spawn_app_with(|c| c.rate_limit.read = per_minute(3)).await;
    let user = token(&app.register("rl_carol").await);
    assert_eq!(get(&app, "/tags", &[]).await.remaining(), 2);
    let forged = get(&app, "/tags", &[("Authorization", "Token not.a.jwt")]).await;
    assert_eq!(
        forged.remaining(),
        1,
        "an invalid token is the anonymous caller at this address"
    );
    let bad_key = get(&app, "/tags", &[("X-API-Key", "not-a-biscuit")]).await;
    assert_eq!(bad_key.remaining(), 0, "so is an invalid API key");
    assert_eq!(
        get(&app, "/articles", &[]).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one allowance for every read of the address"
    );
    let signed_in = get(&app, "/tags", &[("Authorization", &user)]).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    app.cleanup().await;
}

#[tokio::test]
async fn sign_in_requests_count_by_address_whoever_asks() {
    let app = spawn_app_with(|c| c.rate_limit.auth = per_minute(3)).await;
    let user = token(&app.register("rl_dave").await);
    let login = json!({"user": {"email": "rl_dave@test.com", "password": "wrong-password"}});
    let first = send(
        &app,
        Method::POST,
        "/users/login",
        &[("Authorization", &user)],
        Some(login.clone()),
    )
    .await;
    assert_error(&first.reply, 401, "credentials", "invalid_credentials");
    assert_eq!(first.header("ratelimit-policy"), Some("\"auth\";q=3;w=60"));
    assert_eq!(
        first.remaining(),
        1,
        "the registration counted too, under the address"
    );
    let refresh = send(
        &app,
        Method::POST,
        "/auth/refresh",
        &[],
        Some(json!({"refreshToken": "nope"})),
    )
    .await;
    assert_eq!(refresh.remaining(), 0);
    let refused = send(&app, Method::POST, "/users/login", &[], Some(login)).await;
    assert_error(&refused.reply, 429, "request", "rate_limited");

    // Other writes of the signed-in user have their own policy.
    let write = send(
        &app,
        Method::PUT,
        "/user",
        &[("Authorization", &user)],
        Some(json!({"user": {"bio": "still here"}})),
    )
    .await;
    assert_eq!(write.status(), StatusCode::OK, "{:?}", write.reply.body);
    assert_eq!(
        write.header("ratelimit-policy"),
        Some("\"write\";q=120;w=60")
    );
    app.cleanup().await;
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app_with(|c| c.rate_limit.read = per_minute(2)).await;
    let spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
    let statuses: Vec<u16> = futures_util::future::join_all(spoofed.map(|address| async {
        let answer = get(&app, "/tags", &[("X-Forwarded-For", address)]).await;
        answer.status().as_u16()
    }))
    .await;
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [200, 200, 429], "one address: {statuses:?}");
    app.cleanup().await;
}

fn behind_a_proxy(config: &mut Config) {
    config.rate_limit.read = per_minute(1);
    config.rate_limit.trusted_proxies = vec!["127.0.0.1".into()];
}

#[tokio::test]
async fn forwarded_for_is_honoured_from_a_trusted_proxy() {
    let app = spawn_app_with(behind_a_proxy).await;
    let from = |chain: &'static str| {
        let app = &app;
        async move {
            get(app, "/tags", &[("X-Forwarded-For", chain)])
                .await
                .status()
        }
    };
    assert_eq!(from("203.0.113.1").await, StatusCode::OK);
    assert_eq!(from("203.0.113.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from("203.0.113.2").await, StatusCode::OK, "another client");
    assert_eq!(
        from("198.51.100.77, 203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "only the right end of the chain is believed"
    );
    assert_eq!(
        from("203.0.113.3, 127.0.0.1").await,
        StatusCode::OK,
        "trusted hops are skipped"
    );
    assert_eq!(
        get(&app, "/tags", &[]).await.status(),
        StatusCode::OK,
        "without the header, the proxy itself is the client"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn switched_off_nothing_is_limited() {
    let app = spawn_app_with(|c| {
        c.rate_limit.read = per_minute(1);
        c.rate_limit.auth = per_minute(1);
        c.rate_limit.enabled = false;
    })
    .await;
    app.register("rl_erin").await;
    app.register("rl_frank").await;
    for _ in 0..20 {
        let answer = get(&app, "/tags", &[]).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.header("ratelimit").is_none());
        assert!(answer.header("ratelimit-policy").is_none());
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_policy_can_be_switched_off_alone() {
    let app = spawn_app_with(|c| {
        c.rate_limit.read.enabled = false;
        c.rate_limit.write = per_minute(1);
    })
    .await;
    for _ in 0..10 {
        let answer = get(&app, "/tags", &[]).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.header("ratelimit-policy").is_none());
    }
    let write = || send(&app, Method::DELETE, "/articles/no-such-article", &[], None);
    let first = write().await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(first.header("ratelimit-policy"), Some("\"write\";q=1;w=60"));
    assert_eq!(
        write().await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "writes are still limited"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn only_the_api_is_limited() {
    let app = spawn_app_with(|c| c.rate_limit.read = per_minute(1)).await;
    for path in ["/health/live", "/openapi.json", "/openapi.yaml", "/docs"] {
        for _ in 0..3 {
            let response = app
                .client
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(response.headers().get("ratelimit").is_none(), "{path}");
        }
    }
    let preflight = app
        .client
        .request(Method::OPTIONS, format!("{}/api/tags", app.address))
        .header("Origin", "http://localhost:4200")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("sent");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert!(preflight.headers().get("ratelimit").is_none());
    assert_eq!(get(&app, "/tags", &[]).await.status(), StatusCode::OK);
    app.cleanup().await;
}
