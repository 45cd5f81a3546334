//! How callers prove who they are: `Authorization: Token <jwt>` (the contract's form)
//! or `Authorization: Bearer <jwt>`.
//!
//! The schemes only extract the header; verification happens in [`TokenAuth::user`] so
//! that an optional-auth endpoint sent a bad token answers 401 instead of quietly
//! serving the anonymous view.

use conduit_app::Conduit;
use conduit_domain::{UserId, ports::AccessClaims};
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
    /// Who the token speaks for, or 401 when the header is not a valid token.
    pub fn claims(&self, app: &Conduit) -> Result<AccessClaims, ApiError> {
        let token = bearer_token(&self.0.key).ok_or_else(ApiError::token_invalid)?;
        Ok(app.authenticate(token)?)
    }

    /// The signed-in user, or 401 when the header is not a valid token.
    pub fn user(&self, app: &Conduit) -> Result<UserId, ApiError> {
        self.claims(app).map(|claims| claims.user)
    }
}

/// Authentication for endpoints that also serve anonymous callers.
#[derive(SecurityScheme)]
pub enum OptionalAuth {
    /// A token was sent: it must be valid.
    Token(TokenAuth),
    /// No `Authorization` header.
    #[oai(fallback)]
    Anonymous,
}

impl std::fmt::Debug for OptionalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionalAuth::Token(_) => f.write_str("OptionalAuth::Token"),
            OptionalAuth::Anonymous => f.write_str("OptionalAuth::Anonymous"),
        }
    }
}

impl OptionalAuth {
    /// `None` for anonymous callers, the user for a valid token, 401 for a bad one.
    pub fn viewer(&self, app: &Conduit) -> Result<Option<UserId>, ApiError> {
        match self {
            OptionalAuth::Token(auth) => auth.user(app).map(Some),
            OptionalAuth::Anonymous => Ok(None),
        }
    }
}

/// The token in `Token <t>` or `Bearer <t>` (scheme name in any case).
fn bearer_token(header: &str) -> Option<&str> {
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
