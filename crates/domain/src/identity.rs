//! Sign-in through a third party (OAuth 2.0 / OpenID Connect): what a provider tells us
//! about a person, and the ports the login flow needs.

use crate::UserId;

/// A person as an identity provider describes them after a successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The provider's id in our configuration (`github`, `google`, ...).
    pub provider: String,
    /// The provider's stable, unique id for the person (`sub`).
    pub subject: String,
    /// Their email address, if the provider shares it.
    pub email: Option<String>,
    /// Whether the provider vouches that the email belongs to them. Only a verified
    /// email may link the identity to an existing account.
    pub email_verified: bool,
    /// A preferred username, if any (used to name a new account).
    pub username_hint: Option<String>,
    /// A picture URL, if any.
    pub picture: Option<String>,
}

/// The start of an authorization-code flow: where to send the browser, and the secrets
/// to keep until the provider sends it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationStart {
    /// The provider's authorization URL, with client id, redirect URI, scopes, `state`,
    /// `nonce` and the PKCE challenge.
    pub url: String,
    /// The `state` value in the URL (CSRF protection; also our key for the pending login).
    pub state: String,
    /// The PKCE code verifier, sent only with the code exchange.
    pub pkce_verifier: String,
    /// The OpenID Connect nonce the ID token must carry (empty for plain OAuth 2.0).
    pub nonce: String,
}

/// Why finishing a sign-in with a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The provider refused the code, or its answer did not verify (bad ID token
    /// signature, wrong audience or nonce, missing subject).
    #[error("the identity provider refused the sign-in: {0}")]
    Rejected(String),
    /// The provider could not be reached.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(#[source] crate::error::BoxError),
}

/// Links between provider identities and accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    /// Provider id.
    pub provider: String,
    /// Provider's subject.
    pub subject: String,
    /// Our account.
    pub user_id: UserId,
}
