//! `/api-keys`: API keys for machine clients. Managing keys needs a user session.

use conduit_app::Conduit;
use conduit_domain::api_key::ApiKeyId;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};

use super::{ApiTags, Deleted};
use crate::{dto, parse, security::TokenAuth};

crate::operation_errors!(
    /// Errors of `POST /api-keys`.
    CreateApiKeyErrors with_body {
        Unauthorized = 401: "No access token was sent (`token_missing`), or it is malformed, foreign or expired (`token_invalid`). API keys cannot create API keys.",
        Unprocessable = 422: "The name is missing, blank or too long, a scope is unknown or none is given, `expiresAt` is malformed or not in the future, or a field is not of its documented JSON type (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `GET /api-keys`.
    ListApiKeysErrors {
        Unauthorized = 401: "No access token was sent (`token_missing`), or it is malformed, foreign or expired (`token_invalid`).",
        Unprocessable = 422: "Not returned by this operation; listed for consistency with the rest of the API (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `DELETE /api-keys/{id}`.
    RevokeApiKeyErrors {
        Unauthorized = 401: "No access token was sent (`token_missing`), or it is malformed, foreign or expired (`token_invalid`).",
        NotFound = 404: "The caller has no unrevoked key with this id (`not_found`, key `apiKey`); another user's key is not found either.",
        Unprocessable = 422: "Not returned by this operation; listed for consistency with the rest of the API (`validation_failed`).",
    }
);

/// `201 Created` with the new key and its token.
#[derive(Debug, ApiResponse)]
pub enum ApiKeyCreated {
    /// The key was created. Its `token` is shown only here: store it now.
    #[oai(status = 201)]
    Created(Json<dto::ApiKeyResponse>),
}

/// API keys.
#[derive(Debug, Clone)]
pub struct ApiKeysApi {
    /// The application.
    pub app: Conduit,
}

#[OpenApi(tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key
    ///
    /// Creates a key that acts as the caller within `scopes`, until `expiresAt` if given.
    /// The answer holds the key's `token` (a Biscuit), shown this once; send it as
    /// `X-API-Key`. A holder may attenuate it offline with any Biscuit library (fewer
    /// scopes, an earlier expiry) and the server honours the attenuation.
    #[oai(path = "/api-keys", method = "post", operation_id = "CreateApiKey")]
    async fn create(
        &self,
        auth: TokenAuth,
        body: Json<dto::NewApiKeyRequest>,
    ) -> Result<ApiKeyCreated, CreateApiKeyErrors> {
        let user = auth.user(&self.app).await?;
        let input = parse::api_key(body.0.api_key).map_err(conduit_domain::Error::from)?;
        let issued = self.app.create_api_key(user, input).await?;
        let mut key = dto::ApiKeyDto::from(issued.key);
        key.token = Some(issued.token);
        Ok(ApiKeyCreated::Created(Json(dto::ApiKeyResponse {
            api_key: key,
        })))
    }

    /// List API keys
    ///
    /// The caller's keys, revoked ones included, newest first; never their tokens.
    #[oai(path = "/api-keys", method = "get", operation_id = "ListApiKeys")]
    async fn list(&self, auth: TokenAuth) -> Result<Json<dto::ApiKeysResponse>, ListApiKeysErrors> {
        let user = auth.user(&self.app).await?;
        let keys = self.app.api_keys(user).await?;
        Ok(Json(dto::ApiKeysResponse {
            api_keys: keys.into_iter().map(Into::into).collect(),
        }))
    }

    /// Revoke an API key
    ///
    /// The key stops working at once, attenuated copies included.
    #[oai(
        path = "/api-keys/:id",
        method = "delete",
        operation_id = "RevokeApiKey"
    )]
    async fn revoke(
        &self,
        auth: TokenAuth,
        /// Id of the key, from `GET /api-keys`.
        id: Path<String>,
    ) -> Result<Deleted, RevokeApiKeyErrors> {
        let user = auth.user(&self.app).await?;
        self.app.revoke_api_key(user, &ApiKeyId(id.0)).await?;
        Ok(Deleted::NoContent)
    }
}
