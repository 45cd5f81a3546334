//! One descriptor per operation: what the document says of an operation beyond what its
//! handler's types say (the API-key scope it needs, its errors with their examples, its
//! links). Each routes module declares its descriptors next to its handlers, as constants
//! named after the `operationId` (`CREATE_ARTICLE`:
//! `Operation::post("CreateArticle", "/articles").scope(..).json_body().errors(&[..])`),
//! and [`super::OPERATIONS`] lists them all. Descriptions shared by several operations
//! are constants ([`ErrorCase::UNAUTHORIZED`]...), written once. Read by the handlers (their error type, made by
//! [`operation_errors!`](crate::operation_errors), and their scope check), by the
//! document generator (`crate::openapi`) and by the idempotency layer, so what is
//! documented and what is enforced cannot drift.
//!
//! How the caller authenticates is not repeated here: the handler's extractor
//! (`TokenAuth`, `UserAuth`, `OptionalAuth`, or none) says it, and poem-openapi documents
//! it; a test checks that the operations open to API keys are those with a scope.

use conduit_domain::{Error, Resource, UniqueField, ValidationErrors, api_key::Scope};
use poem::IntoResponse;
use poem_openapi::{
    ResponseContent,
    payload::Json,
    registry::{MetaResponse, MetaResponses, Registry},
};

use crate::error::{ApiError, ErrorBody, ErrorCode};

/// The HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// As the document names it (`post`).
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
        }
    }
}

/// One operation of the API.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The `operationId`.
    pub(crate) id: &'static str,
    /// The method.
    pub(crate) method: Method,
    /// The path under `/api`, with its parameters in braces, as the document has it.
    pub(crate) path: &'static str,
    /// The scope an API key needs; `None` when API keys are not accepted.
    pub(crate) scope: Option<Scope>,
    /// Whether the request has a JSON body, and so may get 400, 413 and 415.
    pub(crate) body: bool,
    /// The errors particular to the operation; [`Operation::cases`] adds the others.
    pub(crate) errors: &'static [ErrorCase],
    /// The operations its success response leads to.
    pub(crate) links: Links,
}

/// One documented error response: its description and its example, from which its status
/// follows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCase {
    /// The response's description.
    pub(crate) description: &'static str,
    /// What its example body is.
    pub(crate) example: Example,
}

/// The example body of an error response, made by the code that makes the real answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Example {
    /// The catalogue's example of the code (`ErrorCode::example`).
    Code(ErrorCode),
    /// 403 for an API key without the operation's scope.
    MissingScope,
    /// 403: the resource belongs to another user.
    Forbidden(Resource),
    /// 404: no such resource.
    NotFound(Resource),
    /// 409: the value is taken.
    Taken(UniqueField),
    /// 422 with the errors the operation's parser (or rule) gives a bad request.
    Invalid(fn() -> Option<ValidationErrors>),
}

/// OpenAPI links from an operation's success response to what can be done next.
#[derive(Debug)]
pub(crate) struct Links {
    /// Each parameter of the linked operations, with where its value comes from
    /// (`$response.body#/article/slug`).
    pub(crate) parameters: &'static [(&'static str, &'static str)],
    /// The linked operations, each with what following the link does.
    pub(crate) to: &'static [(&'static Operation, &'static str)],
}

impl ErrorCase {
    /// An error whose example is the catalogue's for `code`.
    pub(crate) const fn code(code: ErrorCode, description: &'static str) -> Self {
        Self::new(Example::Code(code), description)
    }

    /// 403 for an API key without the operation's scope.
    pub(crate) const fn missing_scope(description: &'static str) -> Self {
        Self::new(Example::MissingScope, description)
    }

    /// 403 for someone else's `resource`.
    pub(crate) const fn forbidden(resource: Resource, description: &'static str) -> Self {
        Self::new(Example::Forbidden(resource), description)
    }

    /// 404 for a missing `resource`.
    pub(crate) const fn not_found(resource: Resource, description: &'static str) -> Self {
        Self::new(Example::NotFound(resource), description)
    }

    /// 409 for a taken `field`.
    pub(crate) const fn taken(field: UniqueField, description: &'static str) -> Self {
        Self::new(Example::Taken(field), description)
    }

    /// 422 with the errors `refusal` makes.
    pub(crate) const fn invalid(
        description: &'static str,
        refusal: fn() -> Option<ValidationErrors>,
    ) -> Self {
        Self::new(Example::Invalid(refusal), description)
    }

    const fn new(example: Example, description: &'static str) -> Self {
        Self {
            description,
            example,
        }
    }

    /// 401 on an operation that needs an access token or an API key.
    pub(crate) const UNAUTHORIZED: ErrorCase = ErrorCase::code(
        ErrorCode::TokenMissing,
        "No credentials were sent (`token_missing`), the access token is malformed, foreign \
         or expired (`token_invalid`), or the API key is invalid, expired or revoked \
         (`api_key_invalid`).",
    );

    /// 401 on an operation that also serves anonymous callers.
    pub(crate) const UNAUTHORIZED_OPTIONAL: ErrorCase = ErrorCase::code(
        ErrorCode::TokenInvalid,
        "Credentials were sent and are invalid (`token_invalid`, `api_key_invalid`); send \
         none for the anonymous view.",
    );

    /// 403 on an operation that also serves anonymous callers.
    pub(crate) const FORBIDDEN_OPTIONAL: ErrorCase = ErrorCase::missing_scope(
        "An API key without the `user:read` scope (`insufficient_scope`); send none for the \
         anonymous view.",
    );

    /// 403 for an API key without `user:read`, on an operation that needs credentials.
    pub(crate) const MISSING_USER_READ: ErrorCase =
        ErrorCase::missing_scope("The API key lacks the `user:read` scope (`insufficient_scope`).");

    /// 404 for an unknown slug.
    pub(crate) const ARTICLE_NOT_FOUND: ErrorCase = ErrorCase::not_found(
        Resource::Article,
        "No article has this slug (`not_found`, key `article`).",
    );

    /// 422 where the RealWorld contract lists one but nothing is validated.
    pub(crate) const CONTRACT_422: ErrorCase = ErrorCase::code(
        ErrorCode::ValidationFailed,
        "Not returned by this operation; listed because the RealWorld contract lists 422 \
         (`validation_failed`) for every operation.",
    );

    /// 422 on an operation beyond the contract where nothing is validated.
    pub(crate) const UNIFORM_422: ErrorCase = ErrorCase::code(
        ErrorCode::ValidationFailed,
        "Not returned by this operation; listed for consistency with the rest of the API \
         (`validation_failed`).",
    );

    /// What any JSON request body can cause.
    const WITH_BODY: [ErrorCase; 3] = [
        ErrorCase::code(
            ErrorCode::MalformedJson,
            "The body is not valid JSON (`malformed_json`).",
        ),
        ErrorCase::code(
            ErrorCode::PayloadTooLarge,
            "The body is larger than the server accepts (`payload_too_large`).",
        ),
        ErrorCase::code(
            ErrorCode::UnsupportedMediaType,
            "The body was not sent as `application/json` (`unsupported_media_type`).",
        ),
    ];

    /// What any operation can answer.
    const ALWAYS: [ErrorCase; 2] = [
        ErrorCase::code(
            ErrorCode::Internal,
            "A fault on the server (`internal`); no detail is disclosed.",
        ),
        ErrorCase::code(
            ErrorCode::Unavailable,
            "The database is unavailable (`unavailable`); retry later.",
        ),
    ];

    /// The response's status.
    pub(crate) fn status(&self) -> u16 {
        match self.example {
            Example::Code(code) => code.status(),
            Example::MissingScope | Example::Forbidden(_) => 403,
            Example::NotFound(_) => 404,
            Example::Taken(_) => 409,
            Example::Invalid(_) => 422,
        }
    }

    /// The example body, on an operation that needs `scope` of API keys.
    fn example(&self, scope: Option<Scope>) -> ErrorBody {
        let error = match self.example {
            Example::Code(code) => return code.example(),
            Example::MissingScope => match scope {
                Some(scope) => Error::InsufficientScope(scope),
                None => return ErrorCode::InsufficientScope.example(),
            },
            Example::Forbidden(resource) => Error::Forbidden(resource),
            Example::NotFound(resource) => Error::NotFound(resource),
            Example::Taken(field) => Error::Conflict(field),
            Example::Invalid(refusal) => match refusal() {
                Some(errors) => Error::Validation(errors),
                None => return ErrorCode::ValidationFailed.example(),
            },
        };
        ApiError::from(error).into_body()
    }
}

impl Operation {
    /// `GET path`, operation `id`.
    pub(crate) const fn get(id: &'static str, path: &'static str) -> Self {
        Self::new(id, Method::Get, path)
    }

    /// `POST path`, operation `id`.
    pub(crate) const fn post(id: &'static str, path: &'static str) -> Self {
        Self::new(id, Method::Post, path)
    }

    /// `PUT path`, operation `id`.
    pub(crate) const fn put(id: &'static str, path: &'static str) -> Self {
        Self::new(id, Method::Put, path)
    }

    /// `DELETE path`, operation `id`.
    pub(crate) const fn delete(id: &'static str, path: &'static str) -> Self {
        Self::new(id, Method::Delete, path)
    }

    /// An operation without a body, closed to API keys, with only the errors of every
    /// operation, and no links.
    const fn new(id: &'static str, method: Method, path: &'static str) -> Self {
        Self {
            id,
            method,
            path,
            scope: None,
            body: false,
            errors: &[],
            links: Links {
                parameters: &[],
                to: &[],
            },
        }
    }

    /// Open to API keys with `scope`.
    pub(crate) const fn scope(self, scope: Scope) -> Self {
        Self {
            scope: Some(scope),
            ..self
        }
    }

    /// With a JSON request body.
    pub(crate) const fn json_body(self) -> Self {
        Self { body: true, ..self }
    }

    /// With `errors` besides those of every operation (and of a body).
    pub(crate) const fn errors(self, errors: &'static [ErrorCase]) -> Self {
        Self { errors, ..self }
    }

    /// With links from its success response to the operations `to`, each with what
    /// following it does, whose parameters come from `parameters`.
    pub(crate) const fn links(
        self,
        parameters: &'static [(&'static str, &'static str)],
        to: &'static [(&'static Operation, &'static str)],
    ) -> Self {
        Self {
            links: Links { parameters, to },
            ..self
        }
    }

    /// Every error response: the operation's own, those of a JSON body if it has one,
    /// and 500 and 503.
    pub(crate) fn cases(&self) -> impl Iterator<Item = &ErrorCase> {
        let body: &[ErrorCase] = if self.body {
            &ErrorCase::WITH_BODY
        } else {
            &[]
        };
        body.iter().chain(self.errors).chain(&ErrorCase::ALWAYS)
    }

    /// The example body of the error response with `status`, if the operation has one.
    pub(crate) fn example(&self, status: u16) -> Option<ErrorBody> {
        self.cases()
            .find(|case| case.status() == status)
            .map(|case| case.example(self.scope))
    }

    /// The error responses, for the handler's error type.
    pub(crate) fn responses(&self) -> MetaResponses {
        let responses = self
            .cases()
            .map(|case| MetaResponse {
                description: case.description,
                status: Some(case.status()),
                status_range: None,
                content: <Json<ErrorBody> as ResponseContent>::media_types(),
                headers: vec![],
            })
            .collect();
        MetaResponses { responses }
    }

    /// Registers what the error responses refer to.
    pub(crate) fn register(registry: &mut Registry) {
        <Json<ErrorBody> as ResponseContent>::register(registry);
    }

    /// `error` if the operation documents its status; otherwise logged and replaced by a
    /// 500, so the document never under-states what a client can receive.
    pub(crate) fn admit(&self, error: ApiError) -> ApiError {
        if self.cases().any(|case| case.status() == error.status()) {
            return error;
        }
        tracing::error!(
            error = ?error,
            operation = self.id,
            "an error status the operation does not document"
        );
        ApiError::internal()
    }

    /// `error` as a poem error, with the description of its response as the message.
    pub(crate) fn poem_error(&self, error: ApiError) -> poem::Error {
        let status = error.status();
        let mut err = poem::Error::from_response(error.into_response());
        if let Some(case) = self.cases().find(|case| case.status() == status) {
            err.set_error_message(case.description);
        }
        err
    }
}

/// Declares `$name`, the error type of the operation `$operation` (a descriptor): what
/// its handler returns in `Err`, documented as the descriptor's error responses. Any
/// `ApiError` or use-case error converts into it; one whose status the descriptor does
/// not list becomes a 500 ([`Operation::admit`]).
#[macro_export]
macro_rules! operation_errors {
    ($name:ident = $operation:path) => {
        #[doc = concat!("The errors of [`", stringify!($operation), "`].")]
        #[derive(Debug)]
        pub struct $name($crate::error::ApiError);

        impl From<$crate::error::ApiError> for $name {
            fn from(error: $crate::error::ApiError) -> Self {
                Self($operation.admit(error))
            }
        }

        impl From<conduit_domain::Error> for $name {
            fn from(error: conduit_domain::Error) -> Self {
                $crate::error::ApiError::from(error).into()
            }
        }

        impl poem::IntoResponse for $name {
            fn into_response(self) -> poem::Response {
                self.0.into_response()
            }
        }

        impl From<$name> for poem::Error {
            fn from(errors: $name) -> Self {
                $operation.poem_error(errors.0)
            }
        }

        impl poem_openapi::ApiResponse for $name {
            fn meta() -> poem_openapi::registry::MetaResponses {
                $operation.responses()
            }

            fn register(registry: &mut poem_openapi::registry::Registry) {
                $crate::routes::operation::Operation::register(registry);
            }
        }
    };
}
