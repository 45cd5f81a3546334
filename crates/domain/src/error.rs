//! Errors a caller can act on. Every variant maps to one HTTP status in the API layer;
//! `Unexpected` and `Unavailable` carry their source for logs and never reach a client.

use std::{collections::BTreeMap, fmt};

/// A boxed source error kept for logging.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why one value was rejected. The `Display` text is the message clients see, in the
/// wording of the RealWorld contract ("can't be blank").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Empty, or only white space.
    #[error("can't be blank")]
    Blank,
    /// Fewer characters than allowed.
    #[error("is too short (minimum is {min} characters)")]
    TooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// More characters than allowed.
    #[error("is too long (maximum is {max} characters)")]
    TooLong {
        /// The maximum length in characters.
        max: usize,
    },
    /// Too many items in a list.
    #[error("has too many entries (maximum is {max})")]
    TooMany {
        /// The maximum number of items.
        max: usize,
    },
    /// A number outside its range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Not of the expected form; `expected` says what the form is.
    #[error("is invalid: {expected}")]
    Format {
        /// A short description of the accepted form.
        expected: &'static str,
    },
    /// `null` where a value is required.
    #[error("can't be null")]
    Null,
    /// A rule of the domain that is not about the value's form.
    #[error("{0}")]
    Rule(&'static str),
}

/// The rejected fields of one request, each with its messages. Serialises to the
/// contract's `{"errors": {"<field>": ["<message>"]}}` body in the API layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    fields: BTreeMap<String, Vec<String>>,
}

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One error on one field.
    pub fn single(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records `message` against `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.fields
            .entry(field.into())
            .or_default()
            .push(message.to_string());
    }

    /// Keeps the value of `result`, or records its error against `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.add(field, invalid);
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The recorded errors, by field name.
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.fields
    }

    /// `Ok(value)` when nothing was recorded. `value` is `None` only when some check
    /// failed, so a `None` with no recorded error is reported as an invalid request
    /// rather than trusted.
    pub fn finish<T>(mut self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.is_empty() => Ok(value),
            _ => {
                if self.is_empty() {
                    self.add("request", Invalid::Rule("is invalid"));
                }
                Err(self)
            }
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, messages) in &self.fields {
            for message in messages {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{field} {message}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// A kind of thing a client addresses; names the error key in 403 and 404 bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// An article, addressed by slug.
    Article,
    /// A comment, addressed by id within an article.
    Comment,
    /// A user's public profile, addressed by username.
    Profile,
    /// The signed-in user's own account.
    User,
    /// One of the signed-in user's sessions.
    Session,
    /// One of the signed-in user's API keys.
    ApiKey,
    /// A configured identity provider (OAuth login).
    Provider,
}

impl Resource {
    /// The key used in error bodies (`{"errors": {"article": ["not found"]}}`).
    pub fn key(self) -> &'static str {
        match self {
            Resource::Article => "article",
            Resource::Comment => "comment",
            Resource::Profile => "profile",
            Resource::User => "user",
            Resource::Session => "session",
            Resource::ApiKey => "apiKey",
            Resource::Provider => "provider",
        }
    }
}

/// A value that must be unique across stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueField {
    /// Email addresses, compared without regard to case.
    Email,
    /// Usernames, compared without regard to case.
    Username,
    /// Article slugs.
    Slug,
    /// Identities at a provider: each is linked to one account at most.
    Identity,
}

impl UniqueField {
    /// The field name used in error bodies.
    pub fn key(self) -> &'static str {
        match self {
            UniqueField::Email => "email",
            UniqueField::Username => "username",
            UniqueField::Slug => "slug",
            UniqueField::Identity => "identity",
        }
    }
}

/// Why authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were sent where they are required.
    TokenMissing,
    /// The credentials sent could not be read or verified (bad format, bad signature,
    /// expired, or the account no longer exists).
    TokenInvalid,
    /// Email and password did not match an account.
    InvalidCredentials,
    /// The refresh token is unknown, retired, revoked or expired.
    RefreshTokenInvalid,
    /// The API key is not ours, malformed, expired or revoked.
    ApiKeyInvalid,
    /// The OAuth login code is unknown, used or expired.
    LoginCodeInvalid,
}

/// What a storage port can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken; nothing was written.
    #[error("duplicate {}", .0.key())]
    Duplicate(UniqueField),
    /// The store could not be reached (connection lost, pool exhausted, timed out).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else; a bug or a broken invariant.
    #[error("store failure: {0}")]
    Unexpected(#[source] BoxError),
}

/// What a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more value rules (HTTP 422).
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    /// Authentication is missing or failed (HTTP 401).
    #[error("unauthorized: {0:?}")]
    Unauthorized(AuthFailure),
    /// The caller is known but may not do this to the resource (HTTP 403).
    #[error("forbidden: {}", .0.key())]
    Forbidden(Resource),
    /// The caller's API key does not carry this scope (HTTP 403).
    #[error("the API key lacks the scope {0}")]
    InsufficientScope(crate::api_key::Scope),
    /// The addressed resource does not exist (HTTP 404).
    #[error("{} not found", .0.key())]
    NotFound(Resource),
    /// The write would break a uniqueness rule (HTTP 409).
    #[error("{} has already been taken", .0.key())]
    Conflict(UniqueField),
    /// A dependency is down; retrying later may succeed (HTTP 503).
    #[error("service unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// A bug or broken invariant (HTTP 500). The source is logged, never shown.
    #[error("unexpected: {0}")]
    Unexpected(#[source] BoxError),
}

impl Error {
    /// Wraps any error as [`Error::Unexpected`].
    pub fn unexpected(source: impl Into<BoxError>) -> Self {
        Error::Unexpected(source.into())
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Duplicate(field) => Error::Conflict(field),
            StoreError::Unavailable(source) => Error::Unavailable(source),
            StoreError::Unexpected(source) => Error::Unexpected(source),
        }
    }
}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Error::Validation(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_messages_per_field() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.check("email", Ok::<_, Invalid>(1)), Some(1));
        assert_eq!(errors.check::<u8>("email", Err(Invalid::Blank)), None);
        errors.add("password", Invalid::TooShort { min: 8 });
        assert_eq!(errors.fields()["email"], vec!["can't be blank"]);
        assert_eq!(
            errors.fields()["password"],
            vec!["is too short (minimum is 8 characters)"]
        );
    }

    #[test]
    fn finish_fails_when_anything_was_recorded() {
        let errors = ValidationErrors::single("title", Invalid::Blank);
        assert!(errors.finish(Some(())).is_err());
        assert_eq!(ValidationErrors::new().finish(Some(5)).ok(), Some(5));
        let missing = ValidationErrors::new().finish::<u8>(None);
        assert!(missing.is_err_and(|e| e.fields().contains_key("request")));
    }

    #[test]
    fn store_errors_become_use_case_errors() {
        assert!(matches!(
            Error::from(StoreError::Duplicate(UniqueField::Email)),
            Error::Conflict(UniqueField::Email)
        ));
    }
}
