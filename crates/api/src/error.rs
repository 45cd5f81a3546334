//! The one error format: `{"errors": {"<field>": ["<message>"]}, "code": "<code>"}`.
//!
//! Every failure on every endpoint leaves through this module: use-case errors through
//! [`ApiError::from`], and failures that happen before a handler runs (unknown route,
//! wrong method, unreadable body, missing credentials, oversized body, a panic) through
//! [`normalize`], which rewrites poem's own errors into the same shape. The catalogue of
//! codes ([`ErrorCode::ALL`]) is the single source of the error documentation in the
//! OpenAPI document and in `docs/errors.md`.

use std::collections::BTreeMap;

use conduit_domain::{Error, Resource, error::AuthFailure};
use poem::{
    IntoResponse, Response,
    error::{MethodNotAllowedError, NotFoundError, ReadBodyError},
};
use poem_openapi::{
    ApiResponse, Enum, Object,
    error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
    payload::Json,
    types::Example,
};

/// Stable, machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not valid JSON.
    MalformedJson,
    /// 401: the endpoint needs an `Authorization` header and none was sent.
    TokenMissing,
    /// 401: the token could not be read, was not signed by us, or has expired.
    TokenInvalid,
    /// 401: email and password do not match an account.
    InvalidCredentials,
    /// 401: the refresh token is unknown, retired, revoked or expired.
    RefreshTokenInvalid,
    /// 401: the API key is not ours, malformed, expired or revoked.
    ApiKeyInvalid,
    /// 401: the OAuth login code is unknown, already used or expired.
    LoginCodeInvalid,
    /// 403: the resource belongs to someone else.
    Forbidden,
    /// 403: the API key does not carry the scope this operation needs.
    InsufficientScope,
    /// 404: the addressed resource does not exist.
    NotFound,
    /// 404: no route has this path.
    RouteNotFound,
    /// 405: the route exists, but not with this method.
    MethodNotAllowed,
    /// 409: a unique value (email, username, slug) is already taken.
    Conflict,
    /// 409: the provider identity is linked to another account.
    IdentityInUse,
    /// 409: a request with this `Idempotency-Key` is still running.
    IdempotencyKeyInFlight,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 415: the body is not sent as `application/json`.
    UnsupportedMediaType,
    /// 422: one or more fields broke a rule; see `errors`.
    ValidationFailed,
    /// 422: this `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused,
    /// 429: the caller sent too many requests; retry after `Retry-After` seconds.
    RateLimited,
    /// 500: a fault on our side; the details are in the server log, not here.
    Internal,
    /// 503: a dependency (the database) is unavailable; retry later.
    Unavailable,
}

impl ErrorCode {
    /// Every code, in catalogue order.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::MalformedJson,
        ErrorCode::TokenMissing,
        ErrorCode::TokenInvalid,
        ErrorCode::InvalidCredentials,
        ErrorCode::RefreshTokenInvalid,
        ErrorCode::ApiKeyInvalid,
        ErrorCode::LoginCodeInvalid,
        ErrorCode::Forbidden,
        ErrorCode::InsufficientScope,
        ErrorCode::NotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::IdentityInUse,
        ErrorCode::IdempotencyKeyInFlight,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationFailed,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    /// The HTTP status that always goes with this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson => 400,
            ErrorCode::TokenMissing
            | ErrorCode::TokenInvalid
            | ErrorCode::InvalidCredentials
            | ErrorCode::RefreshTokenInvalid
            | ErrorCode::ApiKeyInvalid
            | ErrorCode::LoginCodeInvalid => 401,
            ErrorCode::Forbidden | ErrorCode::InsufficientScope => 403,
            ErrorCode::NotFound | ErrorCode::RouteNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict | ErrorCode::IdentityInUse | ErrorCode::IdempotencyKeyInFlight => {
                409
            }
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ValidationFailed | ErrorCode::IdempotencyKeyReused => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The code as it appears in bodies (`"validation_failed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::TokenMissing => "token_missing",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::RefreshTokenInvalid => "refresh_token_invalid",
            ErrorCode::ApiKeyInvalid => "api_key_invalid",
            ErrorCode::LoginCodeInvalid => "login_code_invalid",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdentityInUse => "identity_in_use",
            ErrorCode::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// What the code means and what a client should do about it.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => {
                "The body is not valid JSON. Fix the request; do not retry it as is."
            }
            ErrorCode::TokenMissing => {
                "The endpoint needs `Authorization: Token <jwt>` and none was sent. Sign in, then retry with the token."
            }
            ErrorCode::TokenInvalid => {
                "The token is malformed, not signed by this server, or expired. Sign in again."
            }
            ErrorCode::InvalidCredentials => {
                "Email and password do not match an account. The answer is the same whether or not the email is registered."
            }
            ErrorCode::RefreshTokenInvalid => {
                "The refresh token is unknown, already used, revoked or expired. Sign in again. Reusing a used refresh token ends its whole session."
            }
            ErrorCode::ApiKeyInvalid => {
                "The `X-API-Key` is not one of ours, is malformed, has expired or was revoked. Create a new key."
            }
            ErrorCode::LoginCodeInvalid => {
                "The login code from an OAuth sign-in is unknown, already used or expired (it lives one minute). Start the sign-in again."
            }
            ErrorCode::InsufficientScope => {
                "The API key is valid but its scopes (or an attenuation of it) do not allow this operation. The message names the scope needed."
            }
            ErrorCode::Forbidden => {
                "The resource belongs to another user: only the author may change or delete an article or comment. The key names the resource."
            }
            ErrorCode::NotFound => {
                "The addressed article, comment or profile does not exist. The key names the resource."
            }
            ErrorCode::RouteNotFound => {
                "No endpoint has this path. Check the URL (every endpoint is under `/api`)."
            }
            ErrorCode::MethodNotAllowed => "The path exists, but not with this HTTP method.",
            ErrorCode::Conflict => {
                "A unique value is already taken: `email` or `username` (compared without regard to case), or no free article `slug` was found (retry). The key names the field."
            }
            ErrorCode::IdentityInUse => {
                "The provider identity being linked is already linked to another account (each identity signs in to one account); nothing was linked. Sign in with it to reach that account."
            }
            ErrorCode::IdempotencyKeyInFlight => {
                "A request with this `Idempotency-Key` is still being processed; nothing was done for this one. Retry the same request after `Retry-After` seconds to get its answer."
            }
            ErrorCode::PayloadTooLarge => {
                "The body is larger than the server accepts (1 MiB by default)."
            }
            ErrorCode::UnsupportedMediaType => {
                "The body was not sent as `Content-Type: application/json`."
            }
            ErrorCode::ValidationFailed => {
                "One or more values broke a rule; each key is a field, each message a rule (\"can't be blank\", \"is too short (minimum is 8 characters)\"). A field of another JSON type than documented is refused by name too (\"must be a string\", \"can't be null\", \"is missing\"); a number is never read as a string. Fix every listed field."
            }
            ErrorCode::IdempotencyKeyReused => {
                "This `Idempotency-Key` was already used (within its retention, 24 hours by default) for a request with another method, path or body; nothing was done. Use a new key for a new request."
            }
            ErrorCode::RateLimited => {
                "The caller used up its allowance for this group of endpoints (see the `RateLimit` and `RateLimit-Policy` headers). Wait the `Retry-After` seconds, then retry; the request was not processed."
            }
            ErrorCode::Internal => {
                "A fault on the server. Nothing about it is disclosed; the server log has the details. Retrying may not help."
            }
            ErrorCode::Unavailable => {
                "The database is unreachable for now. Retry later, with backoff."
            }
        }
    }

    /// A typical body with this code.
    pub fn example(self) -> ErrorBody {
        let (key, message) = match self {
            ErrorCode::MalformedJson => (
                "body",
                "is not valid JSON: EOF while parsing an object at line 1 column 9",
            ),
            ErrorCode::TokenMissing => ("token", "is missing"),
            ErrorCode::TokenInvalid => ("token", "is invalid"),
            ErrorCode::InvalidCredentials => ("credentials", "invalid"),
            ErrorCode::RefreshTokenInvalid => ("refreshToken", "is invalid"),
            ErrorCode::ApiKeyInvalid => ("apiKey", "is invalid"),
            ErrorCode::LoginCodeInvalid => ("code", "is invalid"),
            ErrorCode::InsufficientScope => ("apiKey", "does not allow articles:write"),
            ErrorCode::Forbidden => ("article", "forbidden"),
            ErrorCode::NotFound => ("article", "not found"),
            ErrorCode::RouteNotFound => ("route", "not found"),
            ErrorCode::MethodNotAllowed => ("method", "is not allowed on this route"),
            ErrorCode::Conflict => ("username", "has already been taken"),
            ErrorCode::IdentityInUse => ("identity", "is linked to another account"),
            ErrorCode::IdempotencyKeyInFlight => (
                "Idempotency-Key",
                "a request with this key is still in progress, retry in 30 seconds",
            ),
            ErrorCode::PayloadTooLarge => ("body", "is too large"),
            ErrorCode::UnsupportedMediaType => {
                ("content-type", "is missing: send application/json")
            }
            ErrorCode::ValidationFailed => ("title", "can't be blank"),
            ErrorCode::IdempotencyKeyReused => (
                "Idempotency-Key",
                "was used for a different request; use a new key",
            ),
            ErrorCode::RateLimited => ("request", "too many requests, retry in 12 seconds"),
            ErrorCode::Internal => ("server", "an unexpected error occurred"),
            ErrorCode::Unavailable => ("server", "temporarily unavailable, retry later"),
        };
        ErrorBody::new(self, key, message)
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(example)]
pub struct ErrorBody {
    /// Messages by field (or by resource: `article`, `comment`, `profile`, `token`,
    /// `credentials`). A field may carry several messages.
    pub errors: BTreeMap<String, Vec<String>>,
    /// Machine-readable error code; see the error catalogue in the API description.
    pub code: ErrorCode,
}

impl ErrorBody {
    /// One message on one key.
    pub fn new(code: ErrorCode, key: &str, message: impl Into<String>) -> Self {
        Self {
            errors: BTreeMap::from([(key.to_owned(), vec![message.into()])]),
            code,
        }
    }
}

impl Example for ErrorBody {
    fn example() -> Self {
        ErrorCode::ValidationFailed.example()
    }
}

/// Every error status the API answers, each with an [`ErrorBody`]. Operations declare the
/// subset they can return in their descriptor (`crate::routes::operation`).
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The body is not valid JSON.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Authentication is missing or invalid.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The signed-in user may not do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The resource or route does not exist.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The method is not allowed on this route.
    #[oai(status = 405)]
    MethodNotAllowed(Json<ErrorBody>),
    /// A unique value is already taken.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The body is too large.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The input broke a rule.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many requests; retry later.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>),
    /// A fault on our side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The database is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    /// The error for `code`, with one message on one key. The status follows from the
    /// code, so the two can never disagree.
    pub fn new(code: ErrorCode, key: &str, message: impl Into<String>) -> Self {
        Self::from_body(ErrorBody::new(code, key, message))
    }

    /// Wraps a body in the variant of its code's status.
    pub fn from_body(body: ErrorBody) -> Self {
        let body = Json(body);
        match body.0.code.status() {
            400 => ApiError::BadRequest(body),
            401 => ApiError::Unauthorized(body),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            405 => ApiError::MethodNotAllowed(body),
            409 => ApiError::Conflict(body),
            413 => ApiError::PayloadTooLarge(body),
            415 => ApiError::UnsupportedMediaType(body),
            422 => ApiError::Unprocessable(body),
            429 => ApiError::TooManyRequests(body),
            503 => ApiError::Unavailable(body),
            _ => ApiError::Internal(body),
        }
    }

    /// The body, whatever the status.
    pub fn into_body(self) -> ErrorBody {
        self.body().clone()
    }

    /// The status it is answered with: its code's ([`ApiError::from_body`]).
    pub fn status(&self) -> u16 {
        self.body().code.status()
    }

    /// The body, whatever the status.
    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::MethodNotAllowed(b)
            | ApiError::Conflict(b)
            | ApiError::PayloadTooLarge(b)
            | ApiError::UnsupportedMediaType(b)
            | ApiError::Unprocessable(b)
            | ApiError::TooManyRequests(b)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b) => &b.0,
        }
    }

    /// 401 for a request without credentials.
    pub fn token_missing() -> Self {
        Self::from_body(ErrorCode::TokenMissing.example())
    }

    /// 401 for credentials that do not verify.
    pub fn token_invalid() -> Self {
        Self::from_body(ErrorCode::TokenInvalid.example())
    }

    /// 500 with no detail.
    pub fn internal() -> Self {
        Self::from_body(ErrorCode::Internal.example())
    }

    /// 429 for a caller who may send the next request in `retry_after_seconds`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let unit = if retry_after_seconds == 1 {
            "second"
        } else {
            "seconds"
        };
        Self::new(
            ErrorCode::RateLimited,
            "request",
            format!("too many requests, retry in {retry_after_seconds} {unit}"),
        )
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Validation(errors) => ApiError::from_body(ErrorBody {
                errors: errors.fields().clone(),
                code: ErrorCode::ValidationFailed,
            }),
            Error::Unauthorized(AuthFailure::TokenMissing) => ApiError::token_missing(),
            Error::Unauthorized(AuthFailure::TokenInvalid) => ApiError::token_invalid(),
            Error::Unauthorized(AuthFailure::InvalidCredentials) => {
                ApiError::from_body(ErrorCode::InvalidCredentials.example())
            }
            Error::Unauthorized(AuthFailure::RefreshTokenInvalid) => {
                ApiError::from_body(ErrorCode::RefreshTokenInvalid.example())
            }
            Error::Unauthorized(AuthFailure::ApiKeyInvalid) => {
                ApiError::from_body(ErrorCode::ApiKeyInvalid.example())
            }
            Error::Unauthorized(AuthFailure::LoginCodeInvalid) => {
                ApiError::from_body(ErrorCode::LoginCodeInvalid.example())
            }
            Error::InsufficientScope(scope) => ApiError::new(
                ErrorCode::InsufficientScope,
                "apiKey",
                format!("does not allow {scope}"),
            ),
            Error::Forbidden(resource) => {
                ApiError::new(ErrorCode::Forbidden, resource.key(), "forbidden")
            }
            Error::NotFound(resource) => not_found(resource),
            Error::Conflict(conduit_domain::UniqueField::Identity) => {
                ApiError::from_body(ErrorCode::IdentityInUse.example())
            }
            Error::Conflict(field) => {
                ApiError::new(ErrorCode::Conflict, field.key(), "has already been taken")
            }
            Error::Unavailable(source) => {
                tracing::error!(error = %source, "dependency unavailable");
                ApiError::from_body(ErrorCode::Unavailable.example())
            }
            Error::Unexpected(source) => {
                tracing::error!(error = %source, "unexpected error");
                ApiError::internal()
            }
        }
    }
}

fn not_found(resource: Resource) -> ApiError {
    ApiError::new(ErrorCode::NotFound, resource.key(), "not found")
}

/// Rewrites any error that escaped a handler into the standard shape. Errors that
/// already are an error response of ours pass through unchanged.
pub fn normalize(err: poem::Error) -> Response {
    let api_error = if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        if is_json_syntax_error(&e.reason) {
            ApiError::new(
                ErrorCode::MalformedJson,
                "body",
                format!("is not valid JSON: {}", e.reason),
            )
        } else {
            ApiError::new(
                ErrorCode::ValidationFailed,
                "body",
                format!("does not match the documented schema: {}", e.reason),
            )
        }
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        ApiError::new(ErrorCode::ValidationFailed, e.name, "is invalid")
    } else if err.is::<ParsePathError>() {
        // A path segment of the wrong type (a comment id that is not a number) names
        // nothing that can exist. poem numbers path parameters internally, so the
        // parameter's name is not available; the contract's generic key is used.
        ApiError::new(ErrorCode::NotFound, "resource", "not found")
    } else if err.is::<AuthorizationError>() {
        ApiError::token_missing()
    } else if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        let message = match e {
            ContentTypeError::ExpectContentType => "is missing: send application/json".to_owned(),
            ContentTypeError::NotSupported { content_type } => {
                format!("{content_type} is not supported: send application/json")
            }
        };
        ApiError::new(ErrorCode::UnsupportedMediaType, "content-type", message)
    } else if err.is::<NotFoundError>() {
        ApiError::from_body(ErrorCode::RouteNotFound.example())
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::from_body(ErrorCode::MethodNotAllowed.example())
    } else if let Some(ReadBodyError::PayloadTooLarge) = err.downcast_ref::<ReadBodyError>() {
        ApiError::from_body(ErrorCode::PayloadTooLarge.example())
    } else if !err.has_source() {
        // Built from a response: one of ours (JSON) passes through; anything else poem
        // produced on its own is replaced by ours for its status.
        let response = err.into_response();
        let status = response.status();
        let ours = response
            .content_type()
            .is_some_and(|ct| ct.starts_with("application/json"));
        if ours || !(status.is_client_error() || status.is_server_error()) {
            return response;
        }
        generic(status.as_u16())
    } else if err.status().is_client_error() {
        generic(err.status().as_u16())
    } else {
        tracing::error!(error = %err, "unhandled error");
        ApiError::internal()
    };
    api_error.into_response()
}

/// 413 in the standard shape.
pub fn payload_too_large() -> Response {
    ApiError::from_body(ErrorCode::PayloadTooLarge.example()).into_response()
}

/// 500 in the standard shape, with no detail.
pub fn internal_error_response() -> Response {
    ApiError::internal().into_response()
}

/// The catalogue's answer for a bare status poem produced without a typed error.
fn generic(status: u16) -> ApiError {
    let code = ErrorCode::ALL
        .into_iter()
        .find(|code| {
            code.status() == status
                && *code != ErrorCode::NotFound
                && *code != ErrorCode::TokenInvalid
        })
        .unwrap_or(if status >= 500 {
            ErrorCode::Internal
        } else {
            ErrorCode::ValidationFailed
        });
    ApiError::from_body(code.example())
}

/// serde_json reports syntax errors with a position ("... at line 1 column 5");
/// schema mismatches found by poem-openapi never carry one.
fn is_json_syntax_error(reason: &str) -> bool {
    reason.contains(" at line ") && reason.contains(" column ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_syntax_errors_from_schema_mismatches() {
        assert!(is_json_syntax_error("expected value at line 1 column 1"));
        assert!(!is_json_syntax_error(
            r#"failed to parse "NewUser": Type "string" expects an input value."#
        ));
    }

    #[test]
    fn use_case_errors_map_to_contract_statuses() {
        let cases = [
            (ApiError::from(Error::NotFound(Resource::Article)), 404),
            (ApiError::from(Error::Forbidden(Resource::Comment)), 403),
            (
                ApiError::from(Error::Unauthorized(AuthFailure::InvalidCredentials)),
                401,
            ),
            (
                ApiError::from(Error::Conflict(conduit_domain::UniqueField::Email)),
                409,
            ),
            (ApiError::from(Error::unexpected("boom")), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.into_response().status().as_u16(), status);
        }
    }

    /// A 500 or a 503 says what happened in general terms; the error behind it (a driver
    /// message, an address, a query) stays in the server's log.
    #[test]
    fn internal_and_unavailable_bodies_carry_nothing_of_their_source() {
        let secret = "connection to postgres://admin:hunter2@10.0.0.7:5432 failed: SELECT 1";
        for (error, status, code) in [
            (Error::unexpected(secret), 500, "internal"),
            (Error::Unavailable(secret.into()), 503, "unavailable"),
        ] {
            let response = ApiError::from(error).into_response();
            assert_eq!(response.status().as_u16(), status);
            let body = String::from_utf8(body_bytes(response)).expect("UTF-8");
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(json["code"], code, "{body}");
            for fragment in [
                "postgres",
                "hunter2",
                "10.0.0.7",
                "5432",
                "SELECT",
                "connection",
            ] {
                assert!(!body.contains(fragment), "{fragment} in {body}");
            }
        }
    }

    /// The body of a response built in memory.
    fn body_bytes(response: poem::Response) -> Vec<u8> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(response.into_body().into_vec())
            .expect("the body")
    }

    #[test]
    fn every_code_answers_with_its_own_status_and_name() {
        for code in ErrorCode::ALL {
            let response = ApiError::from_body(code.example()).into_response();
            assert_eq!(response.status().as_u16(), code.status(), "{code:?}");
            let json = poem_openapi::types::ToJSON::to_json(&code);
            assert_eq!(
                json,
                Some(serde_json::Value::from(code.as_str())),
                "{code:?}"
            );
        }
    }

    #[test]
    fn the_rate_limited_example_is_what_the_limiter_sends() {
        assert_eq!(
            ApiError::rate_limited(12).into_body(),
            ErrorCode::RateLimited.example()
        );
        assert_eq!(
            ApiError::rate_limited(1).into_body().errors["request"],
            ["too many requests, retry in 1 second"]
        );
    }

    #[test]
    fn bare_statuses_get_catalogue_bodies() {
        assert_eq!(generic(404).into_body().code, ErrorCode::RouteNotFound);
        assert_eq!(generic(401).into_body().code, ErrorCode::TokenMissing);
        assert_eq!(generic(502).into_body().code, ErrorCode::Internal);
        assert_eq!(generic(418).into_body().code, ErrorCode::ValidationFailed);
    }
}
