//! How callers prove who they are: `Authorization: Token <jwt>` (the contract's form)
//! or `Authorization: Bearer <jwt>`.
//!
//! The schemes only extract the header; verification happens in [`TokenAuth::user`] so
//! that an optional-auth endpoint sent a bad token answers 401 instead of quietly
//! serving the anonymous view.

use conduit_app::Conduit;
use conduit_domain::{UserId, api_key::Scope, ports::AccessClaims};
use poem_openapi::{SecurityScheme, auth::ApiKey};

use crate::error::ApiError;

/// The access token returned by registration or login, sent in the `Authorization`
/// header as `Token <jwt>` (the RealWorld form) or `Bearer <jwt>`.
#[derive(SecurityScheme)]
#[oai(
    rename = "Token",
    ty = "api_key",
    key_name = "Authorization",
    key_in = "header"
)]
pub struct TokenAuth(ApiKey);

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenAuth(<redacted>)")
    }
}

impl TokenAuth {
    /// Who the token speaks for, or 401 when the header is not a valid token of a live
    /// session.
    pub async fn claims(&self, app: &Conduit) -> Result<AccessClaims, ApiError> {
        let token = bearer_token(&self.0.key).ok_or_else(ApiError::token_invalid)?;
        let claims = app.authenticate(token).await?;
        record_user(claims.user);
        Ok(claims)
    }

    /// The signed-in user, or 401 when the header is not a valid token of a live session.
    pub async fn user(&self, app: &Conduit) -> Result<UserId, ApiError> {
        self.claims(app).await.map(|claims| claims.user)
    }
}

/// An API key (a Biscuit token from `POST /api-keys`) in the `X-API-Key` header. It acts
/// as its owner within its scopes.
#[derive(SecurityScheme)]
#[oai(
    rename = "ApiKey",
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header"
)]
pub struct ApiKeyAuth(ApiKey);

impl std::fmt::Debug for ApiKeyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeyAuth(<redacted>)")
    }
}

/// Who is calling: a user's session, or one of their API keys.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An access token of a session.
    Session(AccessClaims),
    /// An API key of `user`; `token` is the key as presented.
    Key {
        /// The key's owner.
        user: UserId,
        /// The presented key.
        token: String,
    },
}

impl Caller {
    /// The user acted as.
    pub fn user(&self) -> UserId {
        match self {
            Caller::Session(claims) => claims.user,
            Caller::Key { user, .. } => *user,
        }
    }
}

/// Authentication for endpoints open to users and to API keys with the right scope.
#[derive(SecurityScheme)]
pub enum UserAuth {
    /// An access token.
    Token(TokenAuth),
    /// An API key.
    ApiKey(ApiKeyAuth),
}

impl std::fmt::Debug for UserAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UserAuth::Token(_) => "UserAuth::Token",
            UserAuth::ApiKey(_) => "UserAuth::ApiKey",
        })
    }
}

impl UserAuth {
    /// The caller, or 401 for a bad credential (whatever `scope` is: a revoked, expired or
    /// forged key is 401 before its scopes are looked at), or 403 for a valid key without
    /// `scope`, the operation's (its descriptor's). With no scope, API keys are refused
    /// as on the operations that take access tokens only (401 `token_missing`); a test
    /// checks that every operation taking `UserAuth` has one.
    pub async fn caller(&self, app: &Conduit, scope: Option<Scope>) -> Result<Caller, ApiError> {
        match self {
            UserAuth::Token(auth) => auth.claims(app).await.map(Caller::Session),
            UserAuth::ApiKey(key) => {
                let scope = scope.ok_or_else(ApiError::token_missing)?;
                let user = app.authenticate_api_key(&key.0.key, scope).await?;
                record_user(user);
                Ok(Caller::Key {
                    user,
                    token: key.0.key.clone(),
                })
            }
        }
    }

    /// The user acted as; see [`UserAuth::caller`].
    pub async fn user(&self, app: &Conduit, scope: Option<Scope>) -> Result<UserId, ApiError> {
        self.caller(app, scope).await.map(|caller| caller.user())
    }
}

/// Authentication for endpoints that also serve anonymous callers. An API key needs the
/// `user:read` scope to be seen as its owner.
#[derive(SecurityScheme)]
pub enum OptionalAuth {
    /// A token was sent: it must be valid.
    Token(TokenAuth),
    /// An API key was sent: it must be valid and carry `user:read`.
    ApiKey(ApiKeyAuth),
    /// No credentials.
    #[oai(fallback)]
    Anonymous,
}

impl std::fmt::Debug for OptionalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OptionalAuth::Token(_) => "OptionalAuth::Token",
            OptionalAuth::ApiKey(_) => "OptionalAuth::ApiKey",
            OptionalAuth::Anonymous => "OptionalAuth::Anonymous",
        })
    }
}

impl OptionalAuth {
    /// The scope an API key needs to be seen as its owner.
    pub const SCOPE: Scope = Scope::UserRead;

    /// `None` for anonymous callers, the user for valid credentials, 401 for bad ones.
    pub async fn viewer(&self, app: &Conduit) -> Result<Option<UserId>, ApiError> {
        match self {
            OptionalAuth::Token(auth) => auth.user(app).await.map(Some),
            OptionalAuth::ApiKey(key) => {
                let user = app.authenticate_api_key(&key.0.key, Self::SCOPE).await?;
                record_user(user);
                Ok(Some(user))
            }
            OptionalAuth::Anonymous => Ok(None),
        }
    }
}

/// Names the caller in the request's log line (see `crate::request_log`).
fn record_user(user: UserId) {
    tracing::Span::current().record("user_id", user.0);
}

/// The token in `Token <t>` or `Bearer <t>` (scheme name in any case).
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    (known && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn accepts_token_and_bearer_schemes() {
        assert_eq!(bearer_token("Token abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
        assert_eq!(bearer_token("Token "), None);
    }
}
