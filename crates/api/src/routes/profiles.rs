//! `GET /profiles/{username}` and following.

use conduit_app::Conduit;
use conduit_domain::api_key::Scope;
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::ApiTags;
use crate::{
    dto,
    security::{OptionalAuth, UserAuth},
};

crate::operation_errors!(
    /// Errors of `GET /profiles/{username}`.
    GetProfileErrors {
        Unauthorized = 401: "Credentials were sent and are invalid (`token_invalid`, `api_key_invalid`); send none for the anonymous view.",
        Forbidden = 403: "An API key without the `user:read` scope (`insufficient_scope`); send none for the anonymous view.",
        NotFound = 404: "No user has this username (`not_found`, key `profile`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

crate::operation_errors!(
    /// Errors of following and unfollowing.
    FollowErrors {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        NotFound = 404: "No user has this username (`not_found`, key `profile`).",
        Forbidden = 403: "Following yourself (`forbidden`, key `profile`), or the API key lacks the `follows:write` scope (`insufficient_scope`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

/// Public profiles and following.
#[derive(Debug, Clone)]
pub struct ProfilesApi {
    /// The application.
    pub app: Conduit,
}

fn profile(p: conduit_domain::user::Profile) -> Json<dto::ProfileResponse> {
    Json(dto::ProfileResponse { profile: p.into() })
}

#[OpenApi(tag = "ApiTags::Profile")]
impl ProfilesApi {
    /// Get a profile
    ///
    /// A user's public profile. Authentication is optional; with it, `following` says
    /// whether the caller follows this user.
    #[oai(
        path = "/profiles/:username",
        method = "get",
        operation_id = "GetProfileByUsername"
    )]
    async fn get(
        &self,
        auth: OptionalAuth,
        /// Username of the profile (any case).
        username: Path<String>,
    ) -> Result<Json<dto::ProfileResponse>, GetProfileErrors> {
        let viewer = auth.viewer(&self.app).await?;
        Ok(profile(self.app.profile(&username.0, viewer).await?))
    }

    /// Follow a user
    ///
    /// Idempotent: following twice is not an error.
    #[oai(
        path = "/profiles/:username/follow",
        method = "post",
        operation_id = "FollowUserByUsername"
    )]
    async fn follow(
        &self,
        auth: UserAuth,
        /// Username of the profile to follow.
        username: Path<String>,
    ) -> Result<Json<dto::ProfileResponse>, FollowErrors> {
        let user = auth.user(&self.app, Scope::FollowsWrite).await?;
        Ok(profile(self.app.follow(user, &username.0).await?))
    }

    /// Unfollow a user
    ///
    /// Idempotent: unfollowing someone not followed is not an error.
    #[oai(
        path = "/profiles/:username/follow",
        method = "delete",
        operation_id = "UnfollowUserByUsername"
    )]
    async fn unfollow(
        &self,
        auth: UserAuth,
        /// Username of the profile to unfollow.
        username: Path<String>,
    ) -> Result<Json<dto::ProfileResponse>, FollowErrors> {
        let user = auth.user(&self.app, Scope::FollowsWrite).await?;
        Ok(profile(self.app.unfollow(user, &username.0).await?))
    }
}
