//! The published OpenAPI document: what poem-openapi derives from the handlers, completed
//! with what derives cannot express: an example body for every error response (made by
//! the same code that makes the real errors), the error catalogue in the description,
//! `required` on response properties that are always present (nullable ones included),
//! links between operations for stateful testing, and the rate limits (a 429 response on
//! every operation, the `RateLimit` headers on every success).
//!
//! `docs/openapi.yaml` in the repository is this document; a test fails when they differ.
//! Regenerate it with `cargo run -q -- docs`.

use conduit_app::Conduit;
use conduit_domain::{
    api_key::{ApiKeyName, Scope},
    article::{ArticleBody, ArticleDescription, ArticleTitle, Page, TagName},
    comment::CommentBody,
    text::{MULTI_LINE_PATTERN, NO_NUL_PATTERN, NOT_BLANK_PATTERN, SINGLE_LINE_PATTERN},
    user::{Bio, Email, ImageUrl, Password, Username},
};
use poem_openapi::types::ToJSON;
use serde_json::{Map, Value, json};

use crate::{
    error::{ErrorBody, ErrorCode},
    routes::operation::Links,
    stack::api_service,
};

/// Schemas only ever sent by the server, with every property always present.
const RESPONSE_SCHEMAS: &[&str] = &[
    "User",
    "UserResponse",
    "Profile",
    "ProfileResponse",
    "Article",
    "ArticleListItem",
    "SingleArticleResponse",
    "MultipleArticlesResponse",
    "Comment",
    "SingleCommentResponse",
    "MultipleCommentsResponse",
    "TagsResponse",
    "ErrorBody",
    "SessionDto",
    "SessionsResponse",
];

/// Response properties that are sometimes absent.
const OPTIONAL_RESPONSE_PROPERTIES: &[&str] = &["refreshToken"];

/// The published document, as JSON.
pub fn document(app: &Conduit) -> Value {
    let raw: Value =
        serde_json::from_str(&api_service(app, None, None).spec()).unwrap_or(Value::Null);
    complete(raw)
}

/// The document as YAML (what `docs/openapi.yaml` holds).
pub fn to_yaml(document: &Value) -> String {
    serde_yaml::to_string(document).unwrap_or_default()
}

/// poem-openapi wraps a `$ref` in `allOf: [{$ref}, {description}]` to describe a
/// property; fuzzers and converters handle the plain `$ref` better, and the referenced
/// schema carries its own description.
fn flatten_ref_wrappers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let single_ref = map
                .get("allOf")
                .and_then(Value::as_array)
                .and_then(|all| all.first())
                .filter(|first| first.get("$ref").is_some())
                .cloned();
            if let Some(reference) = single_ref {
                *value = reference;
                return;
            }
            map.values_mut().for_each(flatten_ref_wrappers);
        }
        Value::Array(items) => items.iter_mut().for_each(flatten_ref_wrappers),
        _ => {}
    }
}

fn complete(mut doc: Value) -> Value {
    flatten_ref_wrappers(&mut doc);
    doc["info"]["description"] = Value::String(description());
    doc["info"]["contact"] = json!({"name": "Conduit API maintainers", "url": "https://github.com/realworld-apps/realworld"});
    doc["info"]["license"] = json!({"name": "MIT", "url": "https://opensource.org/licenses/MIT"});
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        // Timestamps are strings in the DTOs (formatted with exactly three fractional
        // digits); the document says what they are.
        for schema in schemas.values_mut() {
            if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                for (name, property) in properties.iter_mut() {
                    if name == "createdAt" || name == "updatedAt" {
                        property["format"] = Value::String("date-time".into());
                    }
                }
            }
        }
        constrain_request_schemas(schemas);
        for name in RESPONSE_SCHEMAS {
            if let Some(schema) = schemas.get_mut(*name) {
                let all: Vec<Value> = schema["properties"]
                    .as_object()
                    .map(|p| {
                        p.keys()
                            .filter(|k| !OPTIONAL_RESPONSE_PROPERTIES.contains(&k.as_str()))
                            .cloned()
                            .map(Value::String)
                            .collect()
                    })
                    .unwrap_or_default();
                schema["required"] = Value::Array(all);
            }
        }
    }
    doc["components"]["headers"] = shared_headers();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(methods) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in methods.iter_mut() {
                plain_json_request_body(operation);
                complete_operation(operation);
                if method == "get" {
                    make_conditional(operation);
                }
                if method == "post" {
                    make_idempotent(path, operation);
                }
            }
        }
    }
    doc
}

/// The domain's rules on request fields, stated in the schemas so that a client (or a
/// fuzzer) can tell a valid request from an invalid one without trying it. The values
/// come from the value objects' own constants.
fn constrain_request_schemas(schemas: &mut Map<String, Value>) {
    let username =
        json!({"minLength": 1, "maxLength": Username::MAX, "pattern": Username::PATTERN});
    let email = json!({"maxLength": Email::MAX, "pattern": Email::PATTERN});
    let new_password = json!({"minLength": Password::MIN, "maxLength": Password::MAX, "pattern": NOT_BLANK_PATTERN});
    let title = json!({"maxLength": ArticleTitle::MAX, "pattern": SINGLE_LINE_PATTERN});
    let description = json!({"maxLength": ArticleDescription::MAX, "pattern": SINGLE_LINE_PATTERN});
    let body = json!({"maxLength": ArticleBody::MAX, "pattern": MULTI_LINE_PATTERN});
    let tags = json!({
        "maxItems": TagName::MAX_PER_ARTICLE,
        "items": {"type": "string", "maxLength": TagName::MAX, "pattern": SINGLE_LINE_PATTERN},
    });
    let rules: Vec<(&str, &str, Value)> = vec![
        ("NewUser", "username", username.clone()),
        ("NewUser", "email", email.clone()),
        ("NewUser", "password", new_password.clone()),
        ("LoginUser", "email", email.clone()),
        (
            "LoginUser",
            "password",
            json!({"maxLength": Password::MAX, "pattern": NOT_BLANK_PATTERN}),
        ),
        ("UpdateUser", "username", username),
        ("UpdateUser", "email", email),
        ("UpdateUser", "password", new_password),
        (
            "UpdateUser",
            "bio",
            json!({"maxLength": Bio::MAX, "pattern": NO_NUL_PATTERN}),
        ),
        (
            "UpdateUser",
            "image",
            json!({"maxLength": ImageUrl::MAX, "pattern": ImageUrl::PATTERN}),
        ),
        ("NewArticle", "title", title.clone()),
        ("NewArticle", "description", description.clone()),
        ("NewArticle", "body", body.clone()),
        ("NewArticle", "tagList", tags.clone()),
        ("UpdateArticle", "title", title),
        ("UpdateArticle", "description", description),
        ("UpdateArticle", "body", body),
        ("UpdateArticle", "tagList", tags),
        (
            "NewComment",
            "body",
            json!({"maxLength": CommentBody::MAX, "pattern": MULTI_LINE_PATTERN}),
        ),
        (
            "NewApiKey",
            "name",
            json!({"maxLength": ApiKeyName::MAX, "pattern": SINGLE_LINE_PATTERN}),
        ),
        (
            "NewApiKey",
            "scopes",
            json!({
                "minItems": 1,
                "items": {"type": "string", "enum": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()},
            }),
        ),
        ("NewApiKey", "expiresAt", json!({"format": "date-time"})),
    ];
    for (schema, property, constraints) in rules {
        let target = schemas
            .get_mut(schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(property))
            .and_then(Value::as_object_mut);
        if let (Some(target), Some(constraints)) = (target, constraints.as_object()) {
            for (key, value) in constraints {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Paging bounds on `limit` and `offset`, as `routes::page` applies them.
fn constrain_paging(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let (minimum, maximum, default) = match parameter["name"].as_str() {
            Some("limit") => (1, crate::routes::MAX_LIMIT, Page::DEFAULT_LIMIT as i64),
            Some("offset") => (0, crate::routes::MAX_OFFSET, 0),
            _ => continue,
        };
        if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) {
            schema.insert("minimum".into(), json!(minimum));
            schema.insert("maximum".into(), json!(maximum));
            schema.insert("default".into(), json!(default));
        }
    }
}

/// Request bodies are declared as `application/json`, the media type JSON is registered
/// under (RFC 8259 defines no `charset` parameter for it); the server accepts it with or
/// without a charset. poem-openapi declares the type it answers with,
/// `application/json; charset=utf-8`, for requests too, and tools that look the request
/// media type up by name then make no example body (Insomnia's importer: `.ci/clients`).
fn plain_json_request_body(operation: &mut Value) {
    let Some(content) = operation
        .pointer_mut("/requestBody/content")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(media) = content.remove("application/json; charset=utf-8") {
        content.insert("application/json".into(), media);
    }
}

/// What every operation gets: paging bounds, explicit `security` when public, the 429,
/// the rate-limit headers on successes, and, from its descriptor, an example for every
/// error response and the links of its success response.
fn complete_operation(operation: &mut Value) {
    constrain_paging(operation);
    let descriptor = operation["operationId"]
        .as_str()
        .and_then(crate::routes::operation);
    if operation.get("security").is_none() {
        // Public operations say so explicitly.
        operation["security"] = Value::Array(vec![]);
    }
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    // Every operation is under `/api`, so every one is rate limited.
    responses.insert("429".into(), too_many_requests_response());
    for (status, response) in responses.iter_mut() {
        let Ok(status) = status.parse::<u16>() else {
            continue;
        };
        if status < 400 {
            add_rate_limit_headers(response);
            continue;
        }
        let body = descriptor
            .and_then(|descriptor| descriptor.example(status))
            .unwrap_or_else(|| catalogue_example(status));
        if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
            for media in content.values_mut() {
                media["example"] = body.to_json().unwrap_or(Value::Null);
            }
        }
    }
    if let Some(descriptor) = descriptor {
        add_links(&descriptor.links, responses);
    }
}

/// The catalogue's example for `status`: its first code with that status.
fn catalogue_example(status: u16) -> ErrorBody {
    ErrorCode::ALL
        .into_iter()
        .find(|code| code.status() == status)
        .unwrap_or(ErrorCode::Internal)
        .example()
}

/// OpenAPI links on the success response, to what can be done with what it returned.
fn add_links(links: &Links, responses: &mut Map<String, Value>) {
    if links.to.is_empty() {
        return;
    }
    let parameters: Map<String, Value> = links
        .parameters
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .collect();
    let links: Map<String, Value> = links
        .to
        .iter()
        .map(|(operation, description)| {
            let link = json!({
                "operationId": operation.id,
                "parameters": parameters,
                "description": description,
            });
            (operation.id.to_owned(), link)
        })
        .collect();
    if let Some((_, success)) = responses
        .iter_mut()
        .find(|(status, _)| status.starts_with('2'))
    {
        success["links"] = Value::Object(links);
    }
}

/// Documents conditional requests on a read: `ETag` and `Cache-Control` on its 200, the
/// `If-None-Match` parameter and the 304 answer (see `crate::conditional`).
fn make_conditional(operation: &mut Value) {
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    let Some(ok) = responses.get_mut("200").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(headers) = ok
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
    {
        headers.insert("ETag".into(), header_ref("ETag"));
        headers.insert("Cache-Control".into(), header_ref("Cache-Control"));
    }
    responses.insert(
        "304".into(),
        json!({
            "description": "Not modified: the representation still has the entity tag sent in \
                `If-None-Match`; the body is empty. Reuse the copy you hold.",
            "headers": {"ETag": header_ref("ETag")},
        }),
    );
    let parameter = json!({
        "name": "If-None-Match",
        "in": "header",
        "required": false,
        "description": "Entity tags (from `ETag`) of representations the client already \
            holds; when the current one matches, the answer is 304 without a body.",
        "schema": {"type": "string"},
        "example": "\"3q2-7w6oJ4eJ9uM2yQfXcQ\"",
    });
    add_parameter(operation, parameter);
}

/// Documents `Idempotency-Key` on a `POST` (see `crate::idempotency`): the optional
/// header parameter, the 422 for a malformed key, and, where answers are kept, the
/// replay header on successes, the 409 for a key in use and the 422 for a reused key.
fn make_idempotent(path: &str, operation: &mut Value) {
    use crate::idempotency::{IDEMPOTENT_REPLAYED, UNSTORED_PATHS};
    let stored = !UNSTORED_PATHS.contains(&path);
    add_parameter(operation, idempotency_key_parameter(stored));
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    let error_response = |description: &str, code: ErrorCode| {
        json!({
            "description": description,
            "content": {"application/json; charset=utf-8": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
                "example": code.example().to_json().unwrap_or(Value::Null),
            }},
        })
    };
    let extend =
        |responses: &mut Map<String, Value>, status: &str, text: &str, code| match responses
            .get_mut(status)
        {
            Some(response) => {
                let before = response["description"].as_str().unwrap_or_default();
                response["description"] = Value::String(format!("{before} {text}"));
            }
            None => {
                responses.insert(status.into(), error_response(text, code));
            }
        };
    extend(
        responses,
        "422",
        "A malformed `Idempotency-Key` (`validation_failed`).",
        ErrorCode::ValidationFailed,
    );
    if !stored {
        return;
    }
    extend(
        responses,
        "422",
        "The `Idempotency-Key` was used for another request (`idempotency_key_reused`).",
        ErrorCode::IdempotencyKeyReused,
    );
    extend(
        responses,
        "409",
        "A request with this `Idempotency-Key` is still running \
         (`idempotency_key_in_flight`); retry after `Retry-After` seconds.",
        ErrorCode::IdempotencyKeyInFlight,
    );
    if let Some(conflict) = responses.get_mut("409") {
        conflict["headers"]["Retry-After"] = header_ref("Retry-After");
    }
    for (status, response) in responses.iter_mut() {
        if status.starts_with('2') {
            response["headers"][IDEMPOTENT_REPLAYED] = header_ref(IDEMPOTENT_REPLAYED);
        }
    }
}

/// The `Idempotency-Key` header parameter; `stored`: whether answers are kept.
fn idempotency_key_parameter(stored: bool) -> Value {
    let description = if stored {
        "A key of the client's choosing (a UUID, say) that makes retrying this request \
         safe: a retry with the same key and the same request (method, path, body) within \
         its retention (24 hours by default) gets the first answer again, marked `Idempotent-Replayed: true`, without \
         the work being done twice. Refusals of the request (422, 404, 409) are replayed \
         too; 401, 403, 408, 429 and 5xx answers are not kept (the retry runs). Keys \
         belong to the signed-in user, whether by access token or API key. The same key with another \
         request is 422 (`idempotency_key_reused`); while the first request runs, 409 \
         (`idempotency_key_in_flight`) with `Retry-After`. Ignored for callers the \
         operation refuses (401, 403)."
    } else {
        "Accepted for uniformity, but this operation's answers carry credentials, so they \
         are never stored or replayed: a retry runs again (which is safe here). A malformed \
         key is still refused (422)."
    };
    json!({
        "name": crate::idempotency::IDEMPOTENCY_KEY,
        "in": "header",
        "required": false,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
        "example": "8e03978e-40d5-43e8-bc93-6894a57f9324",
    })
}

/// Adds `parameter` to the operation's parameters.
fn add_parameter(operation: &mut Value, parameter: Value) {
    match operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        Some(parameters) => parameters.push(parameter),
        None => operation["parameters"] = Value::Array(vec![parameter]),
    }
}

/// A reference to one of the headers of [`shared_headers`].
fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

/// Response headers described once: the rate limits' and conditional requests'.
fn shared_headers() -> Value {
    use crate::rate_limit::{RATE_LIMIT, RATE_LIMIT_POLICY};
    json!({
        RATE_LIMIT_POLICY: {
            "description": "The rate-limit policy this request counts against, in the form of \
                draft-ietf-httpapi-ratelimit-headers: its name, `q` requests per `w` seconds. \
                `auth` covers registration, login, token refresh and the OAuth sign-in steps, \
                counted per client address; `write` every other write, and `read` every read, \
                counted per user (or API key, or client address when anonymous). The numbers \
                are the server's configuration (defaults: auth 30 per 600 s, write 120 per 60 s, \
                read 600 per 60 s). Absent when rate limiting is switched off.",
            "schema": {"type": "string"},
            "example": "\"read\";q=600;w=60",
        },
        RATE_LIMIT: {
            "description": "What is left of the allowance under that policy: `r` more requests \
                may be sent now, and the whole allowance is back in `t` seconds.",
            "schema": {"type": "string"},
            "example": "\"read\";r=599;t=1",
        },
        "Retry-After": {
            "description": "Whole seconds to wait before the next request of this policy is \
                allowed.",
            "schema": {"type": "integer", "minimum": 1},
            "example": 12,
        },
        "ETag": {
            "description": "Entity tag of this representation (a digest of the body). Send it \
                back in `If-None-Match` to get 304 while it is unchanged. It differs between \
                callers whenever the body does (`favorited`, `following`).",
            "schema": {"type": "string"},
            "example": "\"3q2-7w6oJ4eJ9uM2yQfXcQ\"",
        },
        crate::idempotency::IDEMPOTENT_REPLAYED: {
            "description": "`true` on an answer replayed for a retry with the same \
                `Idempotency-Key`: the request was not processed again. Absent otherwise.",
            "schema": {"type": "string", "enum": ["true"]},
            "example": "true",
        },
        "Cache-Control": {
            "description": "`private, no-cache`: the answer may depend on the caller, so shared \
                caches must not keep it, and a client copy must be revalidated (with \
                `If-None-Match`) before reuse.",
            "schema": {"type": "string"},
            "example": "private, no-cache",
        },
    })
}

/// The 429 of every operation; its example body is added with the other errors'.
fn too_many_requests_response() -> Value {
    use crate::rate_limit::{RATE_LIMIT, RATE_LIMIT_POLICY};
    json!({
        "description": "Too many requests (`rate_limited`): the caller used up its allowance \
            under this operation's rate-limit policy; nothing was done. Retry after \
            `Retry-After` seconds.",
        "headers": {
            "Retry-After": header_ref("Retry-After"),
            RATE_LIMIT: header_ref(RATE_LIMIT),
            RATE_LIMIT_POLICY: header_ref(RATE_LIMIT_POLICY),
        },
        "content": {
            "application/json; charset=utf-8": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
            },
        },
    })
}

/// Documents the rate-limit headers on a success (or redirect) response.
fn add_rate_limit_headers(response: &mut Value) {
    use crate::rate_limit::{RATE_LIMIT, RATE_LIMIT_POLICY};
    let Some(response) = response.as_object_mut() else {
        return;
    };
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(headers) = headers.as_object_mut() {
        headers.insert(RATE_LIMIT.into(), header_ref(RATE_LIMIT));
        headers.insert(RATE_LIMIT_POLICY.into(), header_ref(RATE_LIMIT_POLICY));
    }
}

/// The routes served outside `/api`, with what each is for. They are not operations of
/// the API (no rate limit, no authentication, not under the `/api` server), so the
/// document lists them in its description instead of under `paths`.
pub const OPERATIONAL_ROUTES: [(&str, &str); 5] = [
    (
        "/health/live",
        "liveness: `ok` (200) while the process serves",
    ),
    (
        "/health/ready",
        "readiness: JSON naming each dependency; 200 while the database answers \
         (`degraded` if Redis fails), 503 when it does not",
    ),
    ("/openapi.json", "this document, as JSON"),
    ("/openapi.yaml", "this document, as YAML"),
    ("/docs", "this document in Swagger UI"),
];

fn description() -> String {
    let mut text = String::from(
        "The RealWorld (Conduit) blogging API: users, profiles, follows, articles, tags, \
         favorites and comments, true to the RealWorld contract 2.0.0.\n\n\
         **Authentication.** Registration and login return a JWT in `user.token`. Send it \
         as `Authorization: Token <jwt>` (the contract's form) or `Authorization: Bearer \
         <jwt>`. Operations marked with an optional lock also serve anonymous callers; a \
         token sent to them must still be valid (401 otherwise).\n\n\
         **Errors.** Every error, on every operation, has the body \
         `{\"errors\": {\"<field>\": [\"<message>\"]}, \"code\": \"<code>\"}`: the contract's \
         `errors` object plus a stable machine-readable `code`. Branch on `code` and \
         show the messages.\n\n\
         **Rate limits.** Every operation counts against one policy: `auth` (registration, \
         login, token refresh, OAuth sign-in; per client address), `write` (other writes) \
         or `read` (reads), the last two per user, API key or, for anonymous callers, client \
         address. Every response says which policy applied and what is left of it \
         (`RateLimit-Policy: \"read\";q=600;w=60`, `RateLimit: \"read\";r=599;t=1`, as in \
         draft-ietf-httpapi-ratelimit-headers); past the limit the answer is 429 \
         (`rate_limited`) with `Retry-After` in seconds.\n\n\
         **Conditional requests.** Successful reads carry an `ETag`; send it back in \
         `If-None-Match` and an unchanged answer is 304 with no body. Reads are cached on \
         the server per caller, and every write invalidates what it changed before it \
         answers, so a read sent after a write's answer always sees the write.\n\n\
         **Outside `/api`.** The server also answers these `GET` routes, for operators and \
         tools; nothing else is served:\n\n",
    );
    for (path, purpose) in OPERATIONAL_ROUTES {
        text.push_str(&format!("- `{path}`: {purpose}\n"));
    }
    text.push('\n');
    text.push_str(&error_catalogue_table());
    text
}

/// The error catalogue as a Markdown table: code, status, meaning, example body.
pub fn error_catalogue_table() -> String {
    let mut table = String::from("| code | status | meaning | example body |\n|---|---|---|---|\n");
    for code in ErrorCode::ALL {
        let example = code.example().to_json().unwrap_or(Value::Null);
        table.push_str(&format!(
            "| `{}` | {} | {} | `{}` |\n",
            code.as_str(),
            code.status(),
            code.meaning(),
            example
        ));
    }
    table
}

/// `docs/errors.md`: the catalogue for readers of the repository.
pub fn error_catalogue_markdown() -> String {
    format!(
        "# Error catalogue\n\n\
         Generated from `ErrorCode` in `crates/api/src/error.rs` by `cargo run -q -- docs`; \
         a test fails when this file and the code disagree. The same table is in the \
         OpenAPI document's description.\n\n\
         Every error response, on every endpoint, has this body:\n\n\
         ```json\n{{\"errors\": {{\"<field>\": [\"<message>\"]}}, \"code\": \"<code>\"}}\n```\n\n\
         `errors` is the RealWorld contract's shape: each key is a field (`email`, `title`, \
         `tagList`...) or a resource (`article`, `comment`, `profile`, `token`, \
         `credentials`), each value a list of messages. `code` is stable: clients branch \
         on it, never on messages.\n\n{}",
        error_catalogue_table()
    )
}

/// For each documented path, the methods it answers: what a 405 lists in `Allow`.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods {
    /// Each documented path: its segments, its `Allow` value, and its template.
    routes: Vec<(Vec<String>, String, String)>,
}

impl AllowedMethods {
    /// Reads the paths of `document`, served under `prefix` (`/api`).
    pub fn from_document(document: &Value, prefix: &str) -> Self {
        let mut routes = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            let mut methods: Vec<String> = item
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .map(|m| m.to_uppercase())
                .collect();
            methods.push("OPTIONS".into());
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".into());
            }
            methods.sort();
            let template = format!("{prefix}{path}");
            let segments = template.split('/').map(str::to_owned).collect();
            routes.push((segments, methods.join(", "), template));
        }
        Self { routes }
    }

    /// The documented path a request path falls under: of several (`/articles/feed` and
    /// `/articles/{slug}`), the one with the most literal segments.
    fn route(&self, path: &str) -> Option<&(Vec<String>, String, String)> {
        // Compared segment by segment as the path is split: once per request, unallocated.
        let segments = path.split('/').count();
        let is_parameter = |t: &String| t.starts_with('{') && t.ends_with('}');
        self.routes
            .iter()
            .filter(|(template, _, _)| template.len() == segments)
            .filter(|(template, _, _)| {
                template
                    .iter()
                    .zip(path.split('/'))
                    .all(|(t, s)| (is_parameter(t) && !s.is_empty()) || t == s)
            })
            .min_by_key(|(template, _, _)| template.iter().filter(|t| is_parameter(t)).count())
    }

    /// The `Allow` value for a request path, if the path is documented.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.route(path).map(|(_, methods, _)| methods.as_str())
    }

    /// The documented template of a request path (`/api/articles/{slug}`), if any: what
    /// request logs and metrics name, instead of the path with its values.
    pub fn template(&self, path: &str) -> Option<&str> {
        self.route(path).map(|(_, _, template)| template.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_the_matching_path() {
        let document = json!({"paths": {
            "/articles": {"get": {}, "post": {}},
            "/articles/{slug}": {"get": {}, "put": {}, "delete": {}},
            "/articles/feed": {"get": {}},
        }});
        let allowed = AllowedMethods::from_document(&document, "/api");
        assert_eq!(
            allowed.for_path("/api/articles"),
            Some("GET, HEAD, OPTIONS, POST")
        );
        assert_eq!(
            allowed.for_path("/api/articles/feed"),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(
            allowed.for_path("/api/articles/x"),
            Some("DELETE, GET, HEAD, OPTIONS, PUT")
        );
        assert_eq!(allowed.for_path("/api/nope"), None);
        assert_eq!(
            allowed.template("/api/articles/feed"),
            Some("/api/articles/feed")
        );
        assert_eq!(
            allowed.template("/api/articles/x"),
            Some("/api/articles/{slug}")
        );
        assert_eq!(allowed.template("/api/articles/"), None);
    }
}
