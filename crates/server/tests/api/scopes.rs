//! Function-level authorization, operation by operation, as the served OpenAPI document
//! states it: each operation's security schemes, and for API keys the scope its `403`
//! answer names. A new operation is checked as soon as it is in the document.

use conduit_domain::api_key::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, assert_error, reply, request_example, spawn_app_with};

/// One operation of the document.
struct Operation {
    method: Method,
    path: String,
    /// The names of its security schemes; empty when it is public.
    schemes: Vec<String>,
    /// Anonymous callers are served too (`{}` among the requirements).
    optional: bool,
    /// The request body's example, if it takes a body.
    body: Option<Value>,
    /// The scope its `403` answer says a key lacks, if any.
    scope: Option<&'static str>,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let requirements = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let schemes = requirements
                .iter()
                .filter_map(|r| r.as_object()?.keys().next().cloned())
                .collect();
            let optional = requirements
                .iter()
                .any(|r| r.as_object().is_some_and(|r| r.is_empty()));
            let body = request_example(document, operation);
            let said = operation["responses"]["403"]["description"]
                .as_str()
                .unwrap_or_default();
            let scope = Scope::ALL
                .iter()
                .map(|s| s.as_str())
                .find(|s| said.contains(&format!("`{s}` scope")));
            found.push(Operation {
                method,
                path: path.clone(),
                schemes,
                optional,
                body,
                scope,
            });
        }
    }
    found
}

/// The owner's resources the operations are called on.
struct Targets {
    slug: String,
    comment: String,
    other_user: &'static str,
}

impl Targets {
    fn path(&self, template: &str) -> String {
        let id = if template.contains("/comments/") {
            self.comment.as_str()
        } else {
            "no-such-id"
        };
        template
            .replace("{slug}", &self.slug)
            .replace("{username}", self.other_user)
            .replace("{provider}", "mock")
            .replace("{id}", id)
    }
}

async fn call(app: &TestApp, operation: &Operation, targets: &Targets, key: Option<&str>) -> Reply {
    call_with(
        app,
        operation,
        targets,
        key.map(|key| ("X-API-Key", key.to_owned())),
    )
    .await
}

/// `operation` with `header` (name, value) as its credential.
async fn call_with(
    app: &TestApp,
    operation: &Operation,
    targets: &Targets,
    header: Option<(&str, String)>,
) -> Reply {
    let mut request = app.client.request(
        operation.method.clone(),
        format!("{}/api{}", app.address, targets.path(&operation.path)),
    );
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    if let Some(body) = &operation.body {
        request = request.json(body);
    }
    reply(request.send().await.expect("sent")).await
}

/// Credentials that were valid and are no longer, or never were.
struct DeadCredentials {
    /// The access token of a session that logged out.
    signed_out: String,
    /// A revoked key with a single scope (so most operations lie outside it).
    revoked: String,
    /// A revoked key with every scope.
    revoked_every_scope: String,
    /// A key with a single scope that has expired.
    expired: String,
    /// A key with every scope whose signature was altered.
    forged: String,
}

impl DeadCredentials {
    async fn make(app: &TestApp, owner: &str, all: &[&str]) -> DeadCredentials {
        let session = app
            .post(
                "/users/login",
                None,
                json!({"user": {"email": "scopeowner@test.com", "password": "password123"}}),
            )
            .await;
        let signed_out = session.body["user"]["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let out = app
            .call(Method::POST, "/auth/logout", Some(&signed_out), None)
            .await;
        assert_eq!(out.status, 204, "{:?}", out.body);

        let revoke = |(key, id): (String, String)| async move {
            let revoked = app.delete(&format!("/api-keys/{id}"), Some(owner)).await;
            assert_eq!(revoked.status, 204, "{:?}", revoked.body);
            key
        };
        let revoked = revoke(app.api_key(owner, &["comments:write"]).await).await;
        let revoked_every_scope = revoke(app.api_key(owner, all).await).await;

        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
        let soon = soon
            .format(&time::format_description::well_known::Rfc3339)
            .expect("formatted");
        let expiring = app
            .post(
                "/api-keys",
                Some(owner),
                json!({"apiKey": {"name": "brief", "scopes": ["comments:write"], "expiresAt": soon}}),
            )
            .await;
        let expired = expiring.body["apiKey"]["token"]
            .as_str()
            .expect("token")
            .to_owned();

        let mut forged = app.api_key(owner, all).await.0.into_bytes();
        let middle = forged.len() / 2;
        forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).expect("ascii");

        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        DeadCredentials {
            signed_out,
            revoked,
            revoked_every_scope,
            expired,
            forged,
        }
    }
}

#[tokio::test]
async fn every_operation_enforces_the_scheme_and_scope_its_document_names() {
    let app = spawn_app_with(|c| c.rate_limit.enabled = false).await;
    let owner = app.register("scopeowner").await;
    app.register("scopeother").await;
    let slug = app.article(&owner, "Scoped", &["scoped"]).await;
    let comment = app
        .post(
            &format!("/articles/{slug}/comments"),
            Some(&owner),
            json!({"comment": {"body": "scoped"}}),
        )
        .await;
    let mut targets = Targets {
        slug,
        comment: comment.body["comment"]["id"].to_string(),
        other_user: "scopeother",
    };
    let document: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("the document");
    let mut operations = operations(&document);
    let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let every_scope = app.api_key(&owner, &all).await.0;
    let dead = DeadCredentials::make(&app, &owner, &all).await;

    // Refusals first, while every target exists.
    let mut keyed = 0;
    for operation in &operations {
        let name = format!("{} {}", operation.method, operation.path);
        if operation.schemes.is_empty() {
            continue;
        }
        if !operation.optional {
            let anonymous = call(&app, operation, &targets, None).await;
            assert_error(&anonymous, 401, "token", "token_missing");
        }
        // Authentication before authorization: a dead credential is 401 whatever the
        // operation's scope, never 403 as if it were alive.
        if operation.schemes.iter().any(|s| s == "Token") {
            let signed_out = ("Authorization", format!("Token {}", dead.signed_out));
            let refused = call_with(&app, operation, &targets, Some(signed_out)).await;
            assert_error(&refused, 401, "token", "token_invalid");
        }
        if operation.schemes.iter().any(|s| s == "ApiKey") {
            for (what, key) in [
                ("revoked", &dead.revoked),
                ("revoked, every scope", &dead.revoked_every_scope),
                ("expired", &dead.expired),
                ("forged", &dead.forged),
            ] {
                let refused = call(&app, operation, &targets, Some(key)).await;
                assert_eq!(
                    refused.status, 401,
                    "{name} with a {what} key: {:?}",
                    refused.body
                );
                assert_error(&refused, 401, "apiKey", "api_key_invalid");
            }
        }
        if !operation.schemes.iter().any(|s| s == "ApiKey") {
            // For user sessions only: no key opens it, whatever its scopes.
            let refused = call(&app, operation, &targets, Some(&every_scope)).await;
            assert_error(&refused, 401, "token", "token_missing");
            continue;
        }
        keyed += 1;
        let scope = operation
            .scope
            .unwrap_or_else(|| panic!("{name}: its 403 answer names no scope"));
        if operation.optional {
            assert_eq!(scope, "user:read", "{name}: keys read as their owner");
        }
        let others: Vec<&str> = all.iter().copied().filter(|s| *s != scope).collect();
        let lacking = app.api_key(&owner, &others).await.0;
        let refused = call(&app, operation, &targets, Some(&lacking)).await;
        assert_error(&refused, 403, "apiKey", "insufficient_scope");
        assert_eq!(
            refused.body["errors"]["apiKey"][0],
            format!("does not allow {scope}"),
            "{name}"
        );
    }
    assert!(keyed >= 15, "only {keyed} operations take API keys");

    // Then each keyed operation with a key holding its one scope: deletions last, the
    // article's own deletion after its comment's.
    operations.retain(|o| o.scope.is_some() && o.schemes.iter().any(|s| s == "ApiKey"));
    operations.sort_by_key(|o| (o.method == Method::DELETE, usize::MAX - o.path.len()));
    for operation in &operations {
        let name = format!("{} {}", operation.method, operation.path);
        let scope = operation.scope.expect("a scope");
        let key = app.api_key(&owner, &[scope]).await.0;
        let allowed = call(&app, operation, &targets, Some(&key)).await;
        if operation.method == Method::PUT && operation.path == "/user" {
            // The example changes the email, which no key may (see `api_keys.rs`).
            assert_error(&allowed, 403, "user", "forbidden");
            continue;
        }
        assert!(
            allowed.status.is_success(),
            "{name} with {scope}: {} {:?}",
            allowed.status,
            allowed.body
        );
        if let Some(slug) = allowed.body["article"]["slug"].as_str()
            && operation.method == Method::PUT
        {
            targets.slug = slug.to_owned();
        }
    }
    app.cleanup().await;
}
