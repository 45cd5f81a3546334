//! Sign-in with a third-party identity provider (OAuth 2.0 authorization code with PKCE,
//! OpenID Connect where the provider speaks it). See ADR 0011.
//!
//! 1. `oauth_start`: remember a pending login under its `state` and send the browser to
//!    the provider.
//! 2. `oauth_callback`: the provider sends the browser back with a code; the code is
//!    exchanged (with the PKCE verifier), the person is matched to an account, and the
//!    browser is sent to the frontend with a one-time *login code* in the URL fragment
//!    (fragments never reach servers, so no server logs it; and it is not a token).
//! 3. `oauth_exchange`: the frontend posts the login code and receives the same tokens as
//!    a password login.

use std::sync::Arc;

use conduit_domain::{
    Error, Invalid, Resource, StoreError, UniqueField, UserId, ValidationErrors,
    error::AuthFailure,
    identity::{ExternalIdentity, IdentityError, IdentityLink},
    ports::IdentityProvider,
    user::{Email, NewUser, Password, Username},
};

use crate::{Authenticated, ClientInfo, Conduit};

/// Settings of the OAuth login flow.
#[derive(Clone, Default)]
pub struct OAuthSettings {
    /// The configured providers.
    pub providers: Vec<Arc<dyn IdentityProvider>>,
    /// Our public base URL for callbacks, e.g. `https://api.example.com/api/auth/oauth`;
    /// the callback of provider `p` is `{callback_base}/{p}/callback`.
    pub callback_base: String,
    /// Where the flow may send the browser back: `returnTo` must start with one of these.
    pub allowed_return_to: Vec<String>,
    /// How long a pending login waits for the provider.
    pub state_ttl: time::Duration,
    /// How long a login code can be exchanged.
    pub code_ttl: time::Duration,
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.providers.iter().map(|p| p.id()).collect();
        f.debug_struct("OAuthSettings")
            .field("providers", &ids)
            .field("callback_base", &self.callback_base)
            .field("allowed_return_to", &self.allowed_return_to)
            .finish_non_exhaustive()
    }
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect(pub String);

const STATE_PREFIX: &str = "oauth-state:";
const CODE_PREFIX: &str = "oauth-code:";

impl Conduit {
    fn provider(&self, id: &str) -> Result<Arc<dyn IdentityProvider>, Error> {
        self.ports
            .oauth
            .providers
            .iter()
            .find(|p| p.id() == id)
            .cloned()
            .ok_or(Error::NotFound(Resource::Provider))
    }

    fn callback_url(&self, provider: &str) -> String {
        format!(
            "{}/{provider}/callback",
            self.ports.oauth.callback_base.trim_end_matches('/')
        )
    }

    /// Starts a login with `provider`; the frontend will be sent back to `return_to`.
    #[tracing::instrument(skip(self))]
    pub async fn oauth_start(&self, provider: &str, return_to: &str) -> Result<Redirect, Error> {
        let idp = self.provider(provider)?;
        let allowed = self
            .ports
            .oauth
            .allowed_return_to
            .iter()
            .any(|prefix| return_to.starts_with(prefix.as_str()));
        if !allowed || return_to.contains(['\n', '#']) {
            return Err(ValidationErrors::single(
                "returnTo",
                Invalid::Rule("is not an allowed address"),
            )
            .into());
        }
        let start = idp
            .start(&self.callback_url(provider))
            .await
            .map_err(Error::Unavailable)?;
        let pending = format!(
            "{provider}\n{}\n{}\n{return_to}",
            start.pkce_verifier, start.nonce
        );
        let expires =
            (self.ports.clock.now().as_offset_date_time() + self.ports.oauth.state_ttl).into();
        self.ports
            .one_time
            .put(&format!("{STATE_PREFIX}{}", start.state), pending, expires)
            .await?;
        Ok(Redirect(start.url))
    }

    /// Finishes a login: the provider sent the browser back with `code` and `state` (or
    /// with `error`). Answers where to send the browser: the frontend, with a login code
    /// (or an error) in the URL fragment. An unknown or expired `state` is refused
    /// outright (there is nowhere safe to send the browser).
    #[tracing::instrument(skip(self, code, state))]
    pub async fn oauth_callback(
        &self,
        provider: &str,
        code: Option<&str>,
        state: &str,
        provider_error: Option<&str>,
    ) -> Result<Redirect, Error> {
        // An unknown provider is "not found" before any state is spent.
        let idp = self.provider(provider)?;
        let now = self.ports.clock.now();
        let bad_state = || {
            Error::Validation(ValidationErrors::single(
                "state",
                Invalid::Rule("is unknown or expired"),
            ))
        };
        let pending = self
            .ports
            .one_time
            .take(&format!("{STATE_PREFIX}{state}"), now)
            .await?
            .ok_or_else(bad_state)?;
        let mut parts = pending.splitn(4, '\n');
        let (Some(pending_provider), Some(verifier), Some(nonce), Some(return_to)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_state());
        };
        if pending_provider != provider {
            return Err(bad_state());
        }
        let back = |fragment: String| Ok(Redirect(format!("{return_to}#{fragment}")));
        if provider_error.is_some() {
            tracing::warn!(target: "security", event = "oauth_failed", provider, reason = "the provider refused");
            return back("error=access_denied".into());
        }
        let Some(code) = code else {
            return back("error=invalid_request".into());
        };
        let identity = match idp
            .finish(code, verifier, nonce, &self.callback_url(provider))
            .await
        {
            Ok(identity) => identity,
            Err(IdentityError::Rejected(reason)) => {
                tracing::warn!(target: "security", event = "oauth_failed", provider, reason = %reason);
                return back("error=access_denied".into());
            }
            // The browser goes back to the frontend: the `state` is used up, and a
            // JSON 503 would strand the person on our callback URL.
            Err(IdentityError::Unavailable(source)) => {
                tracing::warn!(target: "security", event = "oauth_failed", provider, reason = "the provider is unavailable", error = %source);
                return back("error=temporarily_unavailable".into());
            }
        };
        let user = match self.account_for(&identity).await {
            Ok(user) => user,
            Err(reason) => {
                tracing::warn!(target: "security", event = "oauth_failed", provider, subject = %identity.subject, reason);
                return back(format!("error={reason}"));
            }
        };
        let (login_code, hash) = self.ports.refresh_tokens.generate();
        let expires = (now.as_offset_date_time() + self.ports.oauth.code_ttl).into();
        self.ports
            .one_time
            .put(
                &format!("{CODE_PREFIX}{}", hash.0),
                user.0.to_string(),
                expires,
            )
            .await?;
        tracing::info!(target: "security", event = "oauth_login", provider, user_id = %user);
        back(format!("code={}", login_code.expose()))
    }

    /// Exchanges a login code for tokens (a new session), once.
    #[tracing::instrument(skip_all)]
    pub async fn oauth_exchange(
        &self,
        code: &str,
        client: ClientInfo,
    ) -> Result<Authenticated, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::LoginCodeInvalid);
        let hash = self.ports.refresh_tokens.hash(code);
        let now = self.ports.clock.now();
        let user = self
            .ports
            .one_time
            .take(&format!("{CODE_PREFIX}{}", hash.0), now)
            .await?
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(invalid)?;
        let user = self
            .ports
            .stores
            .users
            .by_id(UserId(user))
            .await?
            .ok_or_else(invalid)?;
        self.start_session(user, client).await
    }

    /// The account an identity signs in to: its link; else the account with the same
    /// *verified* email (then linked); else a new account. `Err` carries a reason code
    /// for the frontend.
    async fn account_for(&self, identity: &ExternalIdentity) -> Result<UserId, &'static str> {
        let links = &self.ports.identity_links;
        let linked = links
            .user_for(&identity.provider, &identity.subject)
            .await
            .map_err(|_| "temporarily_unavailable")?;
        if let Some(user) = linked {
            return Ok(user);
        }
        let email = identity
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or("email_required")?;
        let existing = self
            .ports
            .stores
            .users
            .by_email(&email)
            .await
            .map_err(|_| "temporarily_unavailable")?;
        let user = match existing {
            Some(user) if identity.email_verified => {
                tracing::info!(target: "security", event = "oauth_linked", provider = %identity.provider, user_id = %user.id);
                user.id
            }
            // Linking by an unverified email would let anyone who types your address at
            // the provider take your account.
            Some(_) => return Err("email_unverified"),
            // Nor is an account made from one: it would hold the address, the real owner
            // could not register, and their later verified sign-in would be linked to it
            // (pre-account takeover).
            None if !identity.email_verified => return Err("email_unverified"),
            None => self
                .create_oauth_account(identity, email)
                .await
                .map_err(|_| "account_creation_failed")?,
        };
        links
            .link(
                IdentityLink {
                    provider: identity.provider.clone(),
                    subject: identity.subject.clone(),
                    user_id: user,
                },
                self.ports.clock.now(),
            )
            .await
            .map_err(|_| "temporarily_unavailable")
    }

    /// A new account for an identity: a username from its hint (made unique), and a
    /// random password nobody knows (password login stays possible after a reset).
    async fn create_oauth_account(
        &self,
        identity: &ExternalIdentity,
        email: Email,
    ) -> Result<UserId, Error> {
        let base: String = identity
            .username_hint
            .as_deref()
            .or_else(|| email.as_str().split('@').next())
            .unwrap_or("user")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .take(48)
            .collect();
        let base = if base.is_empty() || base.chars().all(|c| c == '.') {
            "user".to_owned()
        } else {
            base
        };
        let (secret, _) = self.ports.refresh_tokens.generate();
        let password = Password::new_secret(secret.expose())
            .map_err(|e| Error::Validation(ValidationErrors::single("password", e)))?;
        let password_hash = self
            .ports
            .hasher
            .hash(&password)
            .await
            .map_err(Error::Unexpected)?;
        for attempt in 0..5 {
            let candidate = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{}", self.ports.slugs.next_suffix())
            };
            let username = Username::parse(&candidate)
                .map_err(|e| Error::Validation(ValidationErrors::single("username", e)))?;
            let created = self
                .ports
                .stores
                .users
                .create(NewUser {
                    username,
                    email: email.clone(),
                    password_hash: password_hash.clone(),
                    created_at: self.ports.clock.now(),
                })
                .await;
            match created {
                Ok(user) => {
                    tracing::info!(target: "security", event = "oauth_account_created", provider = %identity.provider, user_id = %user.id);
                    return Ok(user.id);
                }
                Err(StoreError::Duplicate(UniqueField::Username)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::Conflict(UniqueField::Username))
    }
}
