//! The one error format: `{"errors": {"<field>": ["<message>"]}, "code": "<code>"}`.
//!
//! Every failure on every endpoint leaves through this module: use-case errors through
//! [`ApiError::from`], and failures that happen before a handler runs (unknown route,
//! wrong method, unreadable body, missing credentials, oversized body, a panic) through
//! [`normalize`], which rewrites poem's own errors into the same shape.

use std::collections::BTreeMap;

use conduit_domain::{Error, Resource, error::AuthFailure};
use poem::{
    Response,
    error::{MethodNotAllowedError, NotFoundError, ReadBodyError},
    http::StatusCode,
};
use poem_openapi::{
    ApiResponse, Enum, Object,
    error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
    payload::Json,
};

/// Stable, machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 422: one or more fields broke a rule; see `errors`.
    ValidationFailed,
    /// 400: the body is not valid JSON.
    MalformedJson,
    /// 401: the endpoint needs an `Authorization` header and none was sent.
    TokenMissing,
    /// 401: the token could not be read, was not signed by us, or has expired.
    TokenInvalid,
    /// 401: email and password do not match an account.
    InvalidCredentials,
    /// 403: the resource belongs to someone else.
    Forbidden,
    /// 404: the addressed resource does not exist.
    NotFound,
    /// 404: no route has this path.
    RouteNotFound,
    /// 405: the route exists, but not with this method.
    MethodNotAllowed,
    /// 409: a unique value (email, username, slug) is already taken.
    Conflict,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 415: the body is not sent as `application/json`.
    UnsupportedMediaType,
    /// 500: a fault on our side; the details are in the server log, not here.
    Internal,
    /// 503: a dependency (the database) is unavailable; retry later.
    Unavailable,
}

/// The body of every error response.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ErrorBody {
    /// Messages by field (or by resource: `article`, `comment`, `profile`, `token`,
    /// `credentials`). A field may carry several messages.
    pub errors: BTreeMap<String, Vec<String>>,
    /// Machine-readable error code.
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

impl poem_openapi::types::Example for ErrorBody {
    fn example() -> Self {
        Self::new(ErrorCode::ValidationFailed, "title", "can't be blank")
    }
}

/// Every error status an endpoint can answer, each with an [`ErrorBody`].
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
    /// The resource does not exist.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// A unique value is already taken.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The input broke a rule.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// A fault on our side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The database is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    /// 401 for a request without credentials.
    pub fn token_missing() -> Self {
        ApiError::Unauthorized(Json(ErrorBody::new(
            ErrorCode::TokenMissing,
            "token",
            "is missing",
        )))
    }

    /// 401 for credentials that do not verify.
    pub fn token_invalid() -> Self {
        ApiError::Unauthorized(Json(ErrorBody::new(
            ErrorCode::TokenInvalid,
            "token",
            "is invalid",
        )))
    }

    /// 422 with one message on one field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable(Json(ErrorBody::new(
            ErrorCode::ValidationFailed,
            field,
            message,
        )))
    }

    fn internal() -> Self {
        ApiError::Internal(Json(ErrorBody::new(
            ErrorCode::Internal,
            "server",
            "an unexpected error occurred",
        )))
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Validation(errors) => ApiError::Unprocessable(Json(ErrorBody {
                errors: errors.fields().clone(),
                code: ErrorCode::ValidationFailed,
            })),
            Error::Unauthorized(AuthFailure::TokenMissing) => ApiError::token_missing(),
            Error::Unauthorized(AuthFailure::TokenInvalid) => ApiError::token_invalid(),
            Error::Unauthorized(AuthFailure::InvalidCredentials) => ApiError::Unauthorized(Json(
                ErrorBody::new(ErrorCode::InvalidCredentials, "credentials", "invalid"),
            )),
            Error::Forbidden(resource) => ApiError::Forbidden(Json(ErrorBody::new(
                ErrorCode::Forbidden,
                resource.key(),
                "forbidden",
            ))),
            Error::NotFound(resource) => ApiError::NotFound(Json(not_found(resource))),
            Error::Conflict(field) => ApiError::Conflict(Json(ErrorBody::new(
                ErrorCode::Conflict,
                field.key(),
                "has already been taken",
            ))),
            Error::Unavailable(source) => {
                tracing::error!(error = %source, "dependency unavailable");
                ApiError::Unavailable(Json(ErrorBody::new(
                    ErrorCode::Unavailable,
                    "server",
                    "temporarily unavailable, retry later",
                )))
            }
            Error::Unexpected(source) => {
                tracing::error!(error = %source, "unexpected error");
                ApiError::internal()
            }
        }
    }
}

fn not_found(resource: Resource) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, resource.key(), "not found")
}

fn respond(status: StatusCode, body: ErrorBody) -> Response {
    let mut response = poem::IntoResponse::into_response(Json(body));
    response.set_status(status);
    response
}

/// Rewrites any error that escaped a handler into the standard shape. Errors that
/// already are an [`ApiError`] response pass through unchanged.
pub fn normalize(err: poem::Error) -> Response {
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return if is_json_syntax_error(&e.reason) {
            respond(
                StatusCode::BAD_REQUEST,
                ErrorBody::new(
                    ErrorCode::MalformedJson,
                    "body",
                    format!("is not valid JSON: {}", e.reason),
                ),
            )
        } else {
            respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody::new(
                    ErrorCode::ValidationFailed,
                    "body",
                    schema_message(&e.reason),
                ),
            )
        };
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::new(ErrorCode::ValidationFailed, e.name, "is invalid"),
        );
    }
    if err.is::<ParsePathError>() {
        // A path segment of the wrong type (a comment id that is not a number) names
        // nothing that can exist. poem numbers path parameters internally, so the
        // parameter's name is not available; the contract's generic key is used.
        return respond(
            StatusCode::NOT_FOUND,
            ErrorBody::new(ErrorCode::NotFound, "resource", "not found"),
        );
    }
    if err.is::<AuthorizationError>() {
        return respond(
            StatusCode::UNAUTHORIZED,
            ErrorBody::new(ErrorCode::TokenMissing, "token", "is missing"),
        );
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return respond(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorBody::new(
                ErrorCode::UnsupportedMediaType,
                "content-type",
                match e {
                    ContentTypeError::ExpectContentType => {
                        "is missing: send application/json".to_owned()
                    }
                    ContentTypeError::NotSupported { content_type } => {
                        format!("{content_type} is not supported: send application/json")
                    }
                },
            ),
        );
    }
    if err.is::<NotFoundError>() {
        return respond(
            StatusCode::NOT_FOUND,
            ErrorBody::new(ErrorCode::RouteNotFound, "route", "not found"),
        );
    }
    if err.is::<MethodNotAllowedError>() {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorBody::new(
                ErrorCode::MethodNotAllowed,
                "method",
                "is not allowed on this route",
            ),
        );
    }
    if let Some(ReadBodyError::PayloadTooLarge) = err.downcast_ref::<ReadBodyError>() {
        return payload_too_large();
    }
    if !err.has_source() {
        // Built from a response (an `ApiError`, or a response poem made on purpose).
        let response = err.into_response();
        if response.status().is_client_error() || response.status().is_server_error() {
            let already_ours = response
                .content_type()
                .is_some_and(|ct| ct.starts_with("application/json"));
            if !already_ours {
                return generic(response.status());
            }
        }
        return response;
    }
    let status = err.status();
    if status.is_client_error() {
        return generic(status);
    }
    tracing::error!(error = %err, "unhandled error");
    internal_error_response()
}

/// 413 in the standard shape.
pub fn payload_too_large() -> Response {
    respond(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorBody::new(ErrorCode::PayloadTooLarge, "body", "is too large"),
    )
}

/// 500 in the standard shape, with no detail.
pub fn internal_error_response() -> Response {
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorBody::new(
            ErrorCode::Internal,
            "server",
            "an unexpected error occurred",
        ),
    )
}

fn generic(status: StatusCode) -> Response {
    let (code, key, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::RouteNotFound, "route", "not found"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method",
            "is not allowed on this route",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "body", "is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "content-type",
            "is not supported",
        ),
        StatusCode::UNAUTHORIZED => (ErrorCode::TokenMissing, "token", "is missing"),
        s if s.is_server_error() => return internal_error_response(),
        _ => (ErrorCode::ValidationFailed, "request", "is invalid"),
    };
    respond(status, ErrorBody::new(code, key, message))
}

/// serde_json reports syntax errors with a position ("... at line 1 column 5");
/// schema mismatches found by poem-openapi never carry one.
fn is_json_syntax_error(reason: &str) -> bool {
    reason.contains(" at line ") && reason.contains(" column ")
}

/// poem-openapi's schema messages name our internal type names; keep them, since
/// they match the schema names in the published OpenAPI document.
fn schema_message(reason: &str) -> String {
    format!("does not match the documented schema: {reason}")
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
            let response = poem::IntoResponse::into_response(error);
            assert_eq!(response.status().as_u16(), status);
        }
    }
}
