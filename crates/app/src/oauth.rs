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
//!
//! A signed-in person links another provider with `oauth_link_start`: the same flow, whose
//! callback links nothing and starts no session. It keeps the identity under a one-time
//! *link code* for the user who started the flow and sends the browser back with it;
//! `oauth_link_confirm` links the identity only when that same user, signed in, posts
//! the code. So a link URL completed in someone else's browser links nothing (login
//! CSRF, ADR 0011). A sign-in never links an identity into an existing account by email
//! (pre-account takeover, ADR 0011).

use std::sync::Arc;

use conduit_domain::{
    Error, Invalid, Resource, StoreError, UniqueField, UserId, ValidationErrors,
    error::AuthFailure,
    identity::{ExternalIdentity, IdentityError, IdentityLink},
    ports::IdentityProvider,
    user::{Email, NewUser, Password, Username},
};

use crate::{Authenticated, ClientInfo, Conduit};

mod pending;
#[cfg(test)]
mod tests;

use pending::{Flow, PendingLink, PendingLogin};

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

/// A frontend address the flow may send the browser back to: it starts with one of the
/// allowed addresses ([`OAuthSettings::allowed_return_to`]) and holds no line break and no
/// `#` (the outcome goes in the URL fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// `raw`, when the flow may send the browser back to it.
    fn allowed(raw: &str, settings: &OAuthSettings) -> Result<Self, Error> {
        let allowed = settings
            .allowed_return_to
            .iter()
            .any(|prefix| raw.starts_with(prefix.as_str()));
        if !allowed || raw.contains(['\n', '#']) {
            return Err(ValidationErrors::single(
                "returnTo",
                Invalid::Rule("is not an allowed address"),
            )
            .into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the provider's callback ended, for the frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthOutcome {
    /// Signed in: [`Conduit::oauth_exchange`] turns this one-time login code into tokens.
    SignedIn {
        /// The login code.
        code: String,
    },
    /// A link waits: [`Conduit::oauth_link_confirm`] turns this one-time link code into
    /// the link.
    LinkPending {
        /// The link code.
        link_code: String,
    },
    /// Nothing was signed in or linked.
    Failed(OAuthFailure),
}

/// Why a sign-in or a link ended with nothing done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthFailure {
    /// The person or the provider refused, or the provider's answer failed verification.
    AccessDenied,
    /// The provider sent no code.
    InvalidRequest,
    /// The provider or our storage could not be reached; try again.
    TemporarilyUnavailable,
    /// The provider gave no usable email.
    EmailRequired,
    /// The provider has not verified the email: no account is made from it.
    EmailUnverified,
    /// An account holds the email and the identity is not linked to it.
    AccountExists,
    /// Making the new account failed.
    AccountCreationFailed,
    /// The account that started the link no longer exists.
    AccountNotFound,
    /// The identity is linked to another account.
    IdentityInUse,
}

impl OAuthFailure {
    /// The reason code the frontend reads (and the security log records).
    pub fn code(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InvalidRequest => "invalid_request",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::EmailRequired => "email_required",
            Self::EmailUnverified => "email_unverified",
            Self::AccountExists => "account_exists",
            Self::AccountCreationFailed => "account_creation_failed",
            Self::AccountNotFound => "account_not_found",
            Self::IdentityInUse => "identity_in_use",
        }
    }
}

/// Where the provider's callback sends the browser back, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthReturn {
    /// The frontend address the flow started with.
    pub return_to: ReturnTo,
    /// How it ended.
    pub outcome: OAuthOutcome,
}

const STATE_PREFIX: &str = "oauth-state:";
const CODE_PREFIX: &str = "oauth-code:";
const LINK_CODE_PREFIX: &str = "oauth-link:";

/// An identity just linked by [`Conduit::oauth_link_confirm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// The provider's id.
    pub provider: String,
}

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
        self.begin(provider, return_to, Flow::SignIn).await
    }

    /// Starts linking an identity at `provider` to `user`, who is signed in. The callback
    /// links nothing: it sends the browser back to `return_to` with `#linkCode=<code>`, a
    /// one-time code that [`Conduit::oauth_link_confirm`] turns into the link (whatever
    /// the identity's email) when `user` posts it. No session is started by it.
    #[tracing::instrument(skip(self))]
    pub async fn oauth_link_start(
        &self,
        user: UserId,
        provider: &str,
        return_to: &str,
    ) -> Result<Redirect, Error> {
        self.begin(provider, return_to, Flow::Link(user)).await
    }

    /// Remembers a pending login (a sign-in or a link) under a new `state` and answers
    /// the provider's authorization URL.
    async fn begin(&self, provider: &str, return_to: &str, flow: Flow) -> Result<Redirect, Error> {
        let idp = self.provider(provider)?;
        let return_to = ReturnTo::allowed(return_to, &self.ports.oauth)?;
        let start = idp
            .start(&self.callback_url(provider))
            .await
            .map_err(Error::Unavailable)?;
        let pending = PendingLogin {
            provider: provider.to_owned(),
            verifier: start.pkce_verifier,
            nonce: start.nonce,
            flow,
            return_to,
        };
        let expires =
            (self.ports.clock.now().as_offset_date_time() + self.ports.oauth.state_ttl).into();
        self.ports
            .one_time
            .put(
                &format!("{STATE_PREFIX}{}", start.state),
                pending.encode(),
                expires,
            )
            .await?;
        Ok(Redirect(start.url))
    }

    /// Finishes a login or a link: the provider sent the browser back with `code` and
    /// `state` (or with `error`). Answers where to send the browser (the frontend address
    /// the flow started with) and how the flow ended: a login code (a link code for a
    /// link) or a failure. An unknown or expired `state` is refused outright (there is
    /// nowhere safe to send the browser).
    #[tracing::instrument(skip(self, code, state))]
    pub async fn oauth_callback(
        &self,
        provider: &str,
        code: Option<&str>,
        state: &str,
        provider_error: Option<&str>,
    ) -> Result<OAuthReturn, Error> {
        // An unknown provider is "not found" before any state is spent.
        let idp = self.provider(provider)?;
        let pending = self.take_pending_login(provider, state).await?;
        let identity = self
            .identify(idp.as_ref(), &pending, code, provider_error)
            .await;
        let outcome = match (identity, pending.flow) {
            (Err(failure), _) => OAuthOutcome::Failed(failure),
            (Ok(identity), Flow::Link(user)) => self.hold_link(provider, user, identity).await?,
            (Ok(identity), Flow::SignIn) => self.hold_sign_in(provider, identity).await?,
        };
        Ok(OAuthReturn {
            return_to: pending.return_to,
            outcome,
        })
    }

    /// Takes the pending login of `provider` under `state`, once. Unknown, expired,
    /// unreadable or of another provider: a 422 on `state`.
    async fn take_pending_login(&self, provider: &str, state: &str) -> Result<PendingLogin, Error> {
        let bad_state = || {
            Error::Validation(ValidationErrors::single(
                "state",
                Invalid::Rule("is unknown or expired"),
            ))
        };
        let now = self.ports.clock.now();
        let pending = self
            .ports
            .one_time
            .take(&format!("{STATE_PREFIX}{state}"), now)
            .await?
            .ok_or_else(bad_state)?;
        PendingLogin::decode(&pending)
            .filter(|p| p.provider == provider)
            .ok_or_else(bad_state)
    }

    /// The person the provider signed in, from the `code` it sent back (or its
    /// `provider_error`).
    async fn identify(
        &self,
        idp: &dyn IdentityProvider,
        pending: &PendingLogin,
        code: Option<&str>,
        provider_error: Option<&str>,
    ) -> Result<ExternalIdentity, OAuthFailure> {
        let provider = pending.provider.as_str();
        if provider_error.is_some() {
            tracing::warn!(target: "security", event = "oauth_failed", provider, reason = "the provider refused");
            return Err(OAuthFailure::AccessDenied);
        }
        let code = code.ok_or(OAuthFailure::InvalidRequest)?;
        let callback = self.callback_url(provider);
        match idp
            .finish(code, &pending.verifier, &pending.nonce, &callback)
            .await
        {
            Ok(identity) => Ok(identity),
            Err(IdentityError::Rejected(reason)) => {
                tracing::warn!(target: "security", event = "oauth_failed", provider, reason = %reason);
                Err(OAuthFailure::AccessDenied)
            }
            // The browser goes back to the frontend: the `state` is used up, and a
            // JSON 503 would strand the person on our callback URL.
            Err(IdentityError::Unavailable(source)) => {
                tracing::warn!(target: "security", event = "oauth_failed", provider, reason = "the provider is unavailable", error = %source);
                Err(OAuthFailure::TemporarilyUnavailable)
            }
        }
    }

    /// The end of a link flow started by `user`: `identity` waits under a new link code
    /// for `user` to confirm it.
    async fn hold_link(
        &self,
        provider: &str,
        user: UserId,
        identity: ExternalIdentity,
    ) -> Result<OAuthOutcome, Error> {
        if let Err(reason) = self.linkable(user, &identity).await {
            tracing::warn!(target: "security", event = "oauth_link_refused", provider, subject = %identity.subject, user_id = %user, reason = reason.code());
            return Ok(OAuthOutcome::Failed(reason));
        }
        // Not linked yet: whoever completed the provider's part may not be `user`
        // (a link URL sent to someone else). Only `user`'s own confirmation links.
        let pending = PendingLink {
            user,
            provider: provider.to_owned(),
            subject: identity.subject.clone(),
        };
        let link_code = self.put_code(LINK_CODE_PREFIX, pending.encode()).await?;
        tracing::info!(target: "security", event = "oauth_link_pending", provider, subject = %identity.subject, user_id = %user);
        Ok(OAuthOutcome::LinkPending { link_code })
    }

    /// The end of a sign-in: the account of `identity` waits under a new login code.
    async fn hold_sign_in(
        &self,
        provider: &str,
        identity: ExternalIdentity,
    ) -> Result<OAuthOutcome, Error> {
        let user = match self.account_for(&identity).await {
            Ok(user) => user,
            Err(reason) => {
                tracing::warn!(target: "security", event = "oauth_failed", provider, subject = %identity.subject, reason = reason.code());
                return Ok(OAuthOutcome::Failed(reason));
            }
        };
        let code = self.put_code(CODE_PREFIX, user.0.to_string()).await?;
        tracing::info!(target: "security", event = "oauth_login", provider, user_id = %user);
        Ok(OAuthOutcome::SignedIn { code })
    }

    /// Keeps `value` under a new one-time code for `code_ttl`, the code hashed (a stolen
    /// store copy holds no usable code); answers the code.
    async fn put_code(&self, prefix: &str, value: String) -> Result<String, Error> {
        let (code, hash) = self.ports.refresh_tokens.generate();
        let expires =
            (self.ports.clock.now().as_offset_date_time() + self.ports.oauth.code_ttl).into();
        self.ports
            .one_time
            .put(&format!("{prefix}{}", hash.0), value, expires)
            .await?;
        Ok(code.expose().to_owned())
    }

    /// Takes the value a one-time code of [`Conduit::put_code`] holds, once; `None` for
    /// an unknown, used or expired code.
    async fn take_code(&self, prefix: &str, code: &str) -> Result<Option<String>, Error> {
        let hash = self.ports.refresh_tokens.hash(code);
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .one_time
            .take(&format!("{prefix}{}", hash.0), now)
            .await?)
    }

    /// Links the identity a link code holds to `user`, the signed-in caller, once. The code
    /// is refused (and used up) unless `user` started the link: a link URL completed in
    /// another person's browser links nothing, even when they post the code while signed
    /// in. An identity linked to another account meanwhile is a conflict.
    #[tracing::instrument(skip(self, code))]
    pub async fn oauth_link_confirm(
        &self,
        user: UserId,
        code: &str,
    ) -> Result<LinkedIdentity, Error> {
        let refused = || {
            Error::Validation(ValidationErrors::single(
                "code",
                Invalid::Rule("is unknown, already used, expired or not yours"),
            ))
        };
        let pending = self
            .take_code(LINK_CODE_PREFIX, code)
            .await?
            .ok_or_else(refused)?;
        let pending = PendingLink::decode(&pending).ok_or_else(refused)?;
        if pending.user != user {
            tracing::warn!(target: "security", event = "oauth_link_refused", provider = %pending.provider, subject = %pending.subject, user_id = %user, started_by = %pending.user, reason = "link_code_of_another_user");
            return Err(refused());
        }
        let identity = IdentityLink {
            provider: pending.provider,
            subject: pending.subject,
            user_id: user,
        };
        let (provider, subject) = (identity.provider.clone(), identity.subject.clone());
        let linked_to = self
            .ports
            .identity_links
            .link(identity, self.ports.clock.now())
            .await?;
        if linked_to != user {
            tracing::warn!(target: "security", event = "oauth_link_refused", provider = %provider, subject = %subject, user_id = %user, reason = "identity_in_use");
            return Err(Error::Conflict(UniqueField::Identity));
        }
        tracing::info!(target: "security", event = "oauth_linked", provider = %provider, subject = %subject, user_id = %user);
        Ok(LinkedIdentity { provider })
    }

    /// Exchanges a login code for tokens (a new session), once.
    #[tracing::instrument(skip_all)]
    pub async fn oauth_exchange(
        &self,
        code: &str,
        client: ClientInfo,
    ) -> Result<Authenticated, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::LoginCodeInvalid);
        let user = self
            .take_code(CODE_PREFIX, code)
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

    /// The account an identity signs in to: its link; else, when the provider has
    /// verified its email and no account holds that email, a new account (then linked).
    /// An existing account is never linked by email (ADR 0011): its owner links the
    /// provider while signed in ([`Conduit::oauth_link_start`]). `Err` says why not.
    async fn account_for(&self, identity: &ExternalIdentity) -> Result<UserId, OAuthFailure> {
        let linked = self.linked_user(identity).await?;
        if let Some(user) = linked {
            return Ok(user);
        }
        let email = identity
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or(OAuthFailure::EmailRequired)?;
        // An account made from an unverified address would hold it: the real owner could
        // not register it (pre-account takeover).
        if !identity.email_verified {
            return Err(OAuthFailure::EmailUnverified);
        }
        let existing = self
            .ports
            .stores
            .users
            .by_email(&email)
            .await
            .map_err(|_| OAuthFailure::TemporarilyUnavailable)?;
        // Not linked by email, even a verified one: a password account's email was never
        // verified, so whoever registered it first (perhaps to wait for the real owner's
        // sign-in) would get the identity (pre-account takeover).
        if existing.is_some() {
            return Err(OAuthFailure::AccountExists);
        }
        let user = self
            .create_oauth_account(identity, email)
            .await
            .map_err(|_| OAuthFailure::AccountCreationFailed)?;
        self.store_link(identity, user).await
    }

    /// The account `identity` is linked to, if any. `Err` when the links cannot be read.
    async fn linked_user(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Option<UserId>, OAuthFailure> {
        self.ports
            .identity_links
            .user_for(&identity.provider, &identity.subject)
            .await
            .map_err(|_| OAuthFailure::TemporarilyUnavailable)
    }

    /// Stores the link of `identity` to `user`; answers the user it is linked to, which
    /// is another one when the identity was already linked (the link is kept).
    async fn store_link(
        &self,
        identity: &ExternalIdentity,
        user: UserId,
    ) -> Result<UserId, OAuthFailure> {
        self.ports
            .identity_links
            .link(
                IdentityLink {
                    provider: identity.provider.clone(),
                    subject: identity.subject.clone(),
                    user_id: user,
                },
                self.ports.clock.now(),
            )
            .await
            .map_err(|_| OAuthFailure::TemporarilyUnavailable)
    }

    /// Whether `identity` can be linked to `user`, who started the link: the account still
    /// exists and the identity is not linked to another one. Its email does not matter.
    /// Checked again when the link is confirmed. `Err` says why not.
    async fn linkable(
        &self,
        user: UserId,
        identity: &ExternalIdentity,
    ) -> Result<(), OAuthFailure> {
        let exists = self
            .ports
            .stores
            .users
            .by_id(user)
            .await
            .map_err(|_| OAuthFailure::TemporarilyUnavailable)?;
        if exists.is_none() {
            return Err(OAuthFailure::AccountNotFound);
        }
        let linked = self.linked_user(identity).await?;
        match linked {
            Some(other) if other != user => Err(OAuthFailure::IdentityInUse),
            _ => Ok(()),
        }
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
