//! API keys for machine clients.

use conduit_domain::{
    Error, Invalid, Resource, UserId, ValidationErrors,
    api_key::{ApiKey, ApiKeyFailure, ApiKeyId, ApiKeyName, Scope},
    error::AuthFailure,
    time::Timestamp,
    user::User,
};

use crate::Conduit;

/// Input of API key creation.
#[derive(Debug, Clone)]
pub struct CreateApiKey {
    /// The owner's name for it.
    pub name: ApiKeyName,
    /// What it may do (at least one scope).
    pub scopes: Vec<Scope>,
    /// When it stops working; must be in the future.
    pub expires_at: Option<Timestamp>,
}

/// A new key and its token, which is shown this once.
#[derive(Debug, Clone)]
pub struct IssuedApiKey {
    /// The key's metadata.
    pub key: ApiKey,
    /// The token (a Biscuit).
    pub token: String,
}

impl Conduit {
    /// Creates an API key acting as `user` within `input.scopes`.
    #[tracing::instrument(skip(self, input))]
    pub async fn create_api_key(
        &self,
        user: UserId,
        input: CreateApiKey,
    ) -> Result<IssuedApiKey, Error> {
        let now = self.ports.clock.now();
        if let Some(expires_at) = input.expires_at
            && expires_at <= now
        {
            return Err(ValidationErrors::single(
                "expiresAt",
                Invalid::Rule("must be in the future"),
            )
            .into());
        }
        let key = ApiKey {
            id: self.ports.api_key_tokens.new_key_id(),
            user_id: user,
            name: input.name.as_str().to_owned(),
            scopes: input.scopes,
            created_at: now,
            expires_at: input.expires_at,
            revoked_at: None,
        };
        let token = self
            .ports
            .api_key_tokens
            .issue(&key)
            .map_err(Error::Unexpected)?;
        self.ports.api_keys.create(key.clone()).await?;
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        tracing::info!(target: "security", event = "api_key_created", user_id = %user, key_id = %key.id, scopes = ?scopes);
        Ok(IssuedApiKey { key, token })
    }

    /// The caller's keys, revoked ones included, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, Error> {
        Ok(self.ports.api_keys.list(user).await?)
    }

    /// Revokes one of the caller's keys; another user's key is not found.
    #[tracing::instrument(skip(self))]
    pub async fn revoke_api_key(&self, user: UserId, id: &ApiKeyId) -> Result<(), Error> {
        let now = self.ports.clock.now();
        if self.ports.api_keys.revoke(user, id, now).await? {
            tracing::info!(target: "security", event = "api_key_revoked", user_id = %user, key_id = %id);
            Ok(())
        } else {
            Err(Error::NotFound(Resource::ApiKey))
        }
    }

    /// The user an API key acts as, if it allows `scope` now: signature, attenuation,
    /// scope and expiry are checked in the token, revocation against the store.
    pub async fn authenticate_api_key(&self, token: &str, scope: Scope) -> Result<UserId, Error> {
        let now = self.ports.clock.now();
        let invalid = Error::Unauthorized(AuthFailure::ApiKeyInvalid);
        // Authentication before authorization: a key outside its scopes is first checked
        // against the store, so a revoked or expired key is 401 whatever the operation.
        let (verified, allowed) = match self.ports.api_key_tokens.verify(token, scope, now) {
            Ok(verified) => (verified, true),
            Err(ApiKeyFailure::InsufficientScope(verified)) => (verified, false),
            Err(ApiKeyFailure::Invalid) => return Err(invalid),
        };
        let stored = self.ports.api_keys.get(&verified.key).await?;
        let usable = stored.as_ref().is_some_and(|key| {
            key.user_id == verified.user
                && key.revoked_at.is_none()
                && key.expires_at.is_none_or(|expires_at| now < expires_at)
        });
        if !usable {
            tracing::warn!(target: "security", event = "api_key_refused", key_id = %verified.key, reason = "revoked, expired or unknown");
            return Err(invalid);
        }
        if !allowed {
            return Err(Error::InsufficientScope(scope));
        }
        // The request's span (if the caller keeps one) names the key, never the token.
        tracing::Span::current().record("api_key_id", tracing::field::display(&verified.key));
        Ok(verified.user)
    }

    /// The key an API key token names, from its signature and expiry alone, whatever the
    /// scope and without asking the store whether it was revoked: for deciding whom a
    /// request counts against (rate limits), never for letting it act.
    pub fn api_key_claims(&self, token: &str) -> Option<ApiKeyId> {
        let now = self.ports.clock.now();
        // Any scope will do: a key outside it is still named (`InsufficientScope`).
        match self
            .ports
            .api_key_tokens
            .verify(token, Scope::UserRead, now)
        {
            Ok(verified) | Err(ApiKeyFailure::InsufficientScope(verified)) => Some(verified.key),
            Err(ApiKeyFailure::Invalid) => None,
        }
    }

    /// The account of `user`, without issuing any token (for API key callers).
    pub async fn account(&self, user: UserId) -> Result<User, Error> {
        self.ports
            .stores
            .users
            .by_id(user)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::ApiKeyInvalid))
    }
}
