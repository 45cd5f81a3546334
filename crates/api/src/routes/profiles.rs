//! `GET /profiles/{username}` and following.

use conduit_app::Conduit;
use conduit_domain::{Invalid, Resource, ValidationErrors, api_key::Scope};
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::{
    ApiTags,
    operation::{ErrorCase, Example, Operation},
};
use crate::{
    dto,
    security::{OptionalAuth, UserAuth},
};

/// 404 for an unknown username.
const PROFILE_NOT_FOUND: ErrorCase = ErrorCase::not_found(
    Resource::Profile,
    "No user has this username (`not_found`, key `profile`).",
);

pub(crate) const GET_PROFILE_BY_USERNAME: Operation =
    Operation::get("GetProfileByUsername", "/profiles/{username}")
        .scope(OptionalAuth::SCOPE)
        .errors(&[
            ErrorCase::UNAUTHORIZED_OPTIONAL,
            ErrorCase::FORBIDDEN_OPTIONAL,
            PROFILE_NOT_FOUND,
            ErrorCase::CONTRACT_422,
        ]);
crate::operation_errors!(GetProfileErrors = GET_PROFILE_BY_USERNAME);

/// The errors of following and unfollowing.
const FOLLOW_ERRORS: &[ErrorCase] = &[
    ErrorCase::UNAUTHORIZED,
    ErrorCase::forbidden(
        Resource::Profile,
        "Following yourself (`forbidden`, key `profile`), or the API key lacks the \
         `follows:write` scope (`insufficient_scope`).",
    ),
    PROFILE_NOT_FOUND,
    // The example is stale: no code gives it (following yourself is a 403); it stays
    // until the published document may change.
    ErrorCase {
        example: Example::Invalid(|| {
            Some(ValidationErrors::single(
                "username",
                Invalid::Rule("can't follow yourself"),
            ))
        }),
        ..ErrorCase::CONTRACT_422
    },
];

pub(crate) const FOLLOW_USER_BY_USERNAME: Operation =
    Operation::post("FollowUserByUsername", "/profiles/{username}/follow")
        .scope(Scope::FollowsWrite)
        .errors(FOLLOW_ERRORS);
crate::operation_errors!(FollowErrors = FOLLOW_USER_BY_USERNAME);

pub(crate) const UNFOLLOW_USER_BY_USERNAME: Operation =
    Operation::delete("UnfollowUserByUsername", "/profiles/{username}/follow")
        .scope(Scope::FollowsWrite)
        .errors(FOLLOW_ERRORS);
crate::operation_errors!(UnfollowErrors = UNFOLLOW_USER_BY_USERNAME);

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
        let user = auth.user(&self.app, FOLLOW_USER_BY_USERNAME.scope).await?;
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
    ) -> Result<Json<dto::ProfileResponse>, UnfollowErrors> {
        let user = auth
            .user(&self.app, UNFOLLOW_USER_BY_USERNAME.scope)
            .await?;
        Ok(profile(self.app.unfollow(user, &username.0).await?))
    }
}
