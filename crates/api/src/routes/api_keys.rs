//! `/api-keys`: API keys for machine clients. Managing keys needs a user session.

use conduit_app::Conduit;
use conduit_domain::{Resource, api_key::ApiKeyId};
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};

use super::{
    ApiTags, Deleted,
    operation::{ErrorCase, Operation},
};
use crate::{dto, error::ErrorCode, exact::Field, parse, security::TokenAuth};

pub(crate) const CREATE_API_KEY: Operation = Operation::post("CreateApiKey", "/api-keys")
    .json_body()
    .errors(&[
        ErrorCase::code(
            ErrorCode::TokenMissing,
            "No access token was sent (`token_missing`), or it is malformed, foreign or expired \
             (`token_invalid`). API keys cannot create API keys.",
        ),
        ErrorCase::invalid(
            "The name is missing, blank or too long, a scope is unknown or none is given, \
             `expiresAt` is malformed or not in the future, or a field is not of its documented \
             JSON type (`validation_failed`).",
            || {
                parse::api_key(Field::new(dto::NewApiKey {
                    name: "".into(),
                    scopes: ["articles:read"].into_iter().collect(),
                    expires_at: None,
                }))
                .err()
            },
        ),
    ])
    .links(
        &[("id", "$response.body#/apiKey/id")],
        &[(&REVOKE_API_KEY, "Revoke the new key.")],
    );
crate::operation_errors!(CreateApiKeyErrors = CREATE_API_KEY);

/// 401 on listing and revoking keys.
const NO_ACCESS_TOKEN: ErrorCase = ErrorCase::code(
    ErrorCode::TokenMissing,
    "No access token was sent (`token_missing`), or it is malformed, foreign or expired \
     (`token_invalid`).",
);

pub(crate) const LIST_API_KEYS: Operation = Operation::get("ListApiKeys", "/api-keys")
    .errors(&[NO_ACCESS_TOKEN, ErrorCase::UNIFORM_422])
    .links(
        &[("id", "$response.body#/apiKeys/0/id")],
        &[(&REVOKE_API_KEY, "Revoke the newest key.")],
    );
crate::operation_errors!(ListApiKeysErrors = LIST_API_KEYS);

pub(crate) const REVOKE_API_KEY: Operation = Operation::delete("RevokeApiKey", "/api-keys/{id}")
    .errors(&[
        NO_ACCESS_TOKEN,
        ErrorCase::not_found(
            Resource::ApiKey,
            "The caller has no unrevoked key with this id (`not_found`, key `apiKey`); another \
             user's key is not found either.",
        ),
        ErrorCase::UNIFORM_422,
    ]);
crate::operation_errors!(RevokeApiKeyErrors = REVOKE_API_KEY);

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
