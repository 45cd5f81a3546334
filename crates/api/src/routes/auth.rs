//! `/auth/*`: refreshing tokens, signing out, and the caller's sessions.

use conduit_app::Conduit;
use conduit_domain::{Resource, session::SessionId};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Cookie, Path},
    payload::Json,
};

use super::{
    ApiTags, Deleted, SignedIn,
    cookie::{CookiePolicy, sign_in_answer},
    operation::{ErrorCase, Operation},
};
use crate::{
    dto,
    error::ErrorCode,
    exact::{Field, Mismatch},
    parse,
    security::TokenAuth,
};

pub(crate) const REFRESH_TOKEN: Operation = Operation::post("RefreshToken", "/auth/refresh")
    .json_body()
    .errors(&[
        ErrorCase::code(
            ErrorCode::RefreshTokenInvalid,
            "The refresh token is unknown, already used, revoked or expired \
             (`refresh_token_invalid`); sign in again. Presenting a used token after the grace \
             window also ends its session.",
        ),
        ErrorCase::invalid(
            "The body is not an object (`validation_failed`, key `body`), or `refreshToken` is \
             not a string (key `refreshToken`).",
            || {
                parse::refresh_token(dto::RefreshRequest {
                    refresh_token: Some(Field::refused(Mismatch::Type("a string"))),
                })
                .err()
            },
        ),
    ]);
crate::operation_errors!(RefreshErrors = REFRESH_TOKEN);

/// 401 on the session operations.
const NO_SESSION: ErrorCase = ErrorCase::code(
    ErrorCode::TokenMissing,
    "No token was sent (`token_missing`), or it is malformed, foreign or expired \
     (`token_invalid`).",
);

/// The errors of the session operations that address no session.
const SESSION_ERRORS: &[ErrorCase] = &[NO_SESSION, ErrorCase::UNIFORM_422];

pub(crate) const LOGOUT: Operation =
    Operation::post("Logout", "/auth/logout").errors(SESSION_ERRORS);
crate::operation_errors!(LogoutErrors = LOGOUT);

pub(crate) const LOGOUT_ALL: Operation =
    Operation::post("LogoutAll", "/auth/logout-all").errors(SESSION_ERRORS);
crate::operation_errors!(LogoutAllErrors = LOGOUT_ALL);

pub(crate) const LIST_SESSIONS: Operation = Operation::get("ListSessions", "/auth/sessions")
    .errors(SESSION_ERRORS)
    .links(
        &[("id", "$response.body#/sessions/0/id")],
        &[(&DELETE_SESSION, "End the most recently used session.")],
    );
crate::operation_errors!(SessionsErrors = LIST_SESSIONS);

pub(crate) const DELETE_SESSION: Operation =
    Operation::delete("DeleteSession", "/auth/sessions/{id}").errors(&[
        NO_SESSION,
        ErrorCase::not_found(
            Resource::Session,
            "The caller has no active session with this id (`not_found`, key `session`); \
             another user's session is not found either.",
        ),
        ErrorCase::UNIFORM_422,
    ]);
crate::operation_errors!(EndSessionErrors = DELETE_SESSION);

/// Token refresh and session management.
#[derive(Debug, Clone)]
pub struct AuthApi {
    /// The application.
    pub app: Conduit,
    /// The refresh-token cookie, when on.
    pub cookie: Option<CookiePolicy>,
}

/// `204 No Content` after signing out; in cookie mode the cookie is cleared.
#[derive(Debug, ApiResponse)]
pub enum SignedOut {
    /// Signed out.
    #[oai(status = 204)]
    NoContent(
        /// In cookie mode, deletes the refresh-token cookie.
        #[oai(header = "Set-Cookie")]
        Option<String>,
    ),
}

#[OpenApi(tag = "ApiTags::UserAndAuthentication")]
impl AuthApi {
    /// Refresh the tokens
    ///
    /// Exchanges a refresh token for a new access token and a new refresh token (same
    /// `user` shape as login). The presented refresh token is retired: each one works
    /// once. Two refreshes of the same token within a few seconds (two tabs) both succeed;
    /// a used token presented later is taken as stolen and ends its whole session.
    #[oai(path = "/auth/refresh", method = "post", operation_id = "RefreshToken")]
    async fn refresh(
        &self,
        body: Json<dto::RefreshRequest>,
        /// The refresh token, in cookie mode (instead of the body).
        #[oai(name = "conduit_refresh")]
        cookie: Cookie<Option<String>>,
    ) -> Result<SignedIn, RefreshErrors> {
        // The body wins; an empty or absent token is simply not a valid one (401).
        let sent = parse::refresh_token(body.0).map_err(conduit_domain::Error::from)?;
        let presented = sent.or(cookie.0).unwrap_or_default();
        let refreshed = self.app.refresh(&presented).await?;
        let (body, cookie) = sign_in_answer(self.cookie, refreshed);
        Ok(SignedIn::Ok(Json(body), cookie))
    }

    /// Sign out
    ///
    /// Ends the caller's session: its refresh tokens stop working. The access token
    /// itself stays valid until it expires (15 minutes by default).
    #[oai(path = "/auth/logout", method = "post", operation_id = "Logout")]
    async fn logout(&self, auth: TokenAuth) -> Result<SignedOut, LogoutErrors> {
        let caller = auth.claims(&self.app).await?;
        self.app.logout(&caller).await?;
        Ok(SignedOut::NoContent(self.cookie.map(|c| c.clear())))
    }

    /// Sign out everywhere
    ///
    /// Ends every session of the caller, this one included.
    #[oai(path = "/auth/logout-all", method = "post", operation_id = "LogoutAll")]
    async fn logout_all(&self, auth: TokenAuth) -> Result<SignedOut, LogoutAllErrors> {
        let caller = auth.claims(&self.app).await?;
        self.app.logout_all(&caller).await?;
        Ok(SignedOut::NoContent(self.cookie.map(|c| c.clear())))
    }

    /// List sessions
    ///
    /// The caller's active sessions (sign-ins), most recently used first, with when each
    /// started and was last used and the client that started it.
    #[oai(path = "/auth/sessions", method = "get", operation_id = "ListSessions")]
    async fn sessions(
        &self,
        auth: TokenAuth,
    ) -> Result<Json<dto::SessionsResponse>, SessionsErrors> {
        let caller = auth.claims(&self.app).await?;
        let sessions = self.app.sessions(&caller).await?;
        Ok(Json(dto::SessionsResponse {
            sessions: sessions.into_iter().map(Into::into).collect(),
        }))
    }

    /// End a session
    ///
    /// Ends one of the caller's sessions (say, a lost phone's).
    #[oai(
        path = "/auth/sessions/:id",
        method = "delete",
        operation_id = "DeleteSession"
    )]
    async fn end_session(
        &self,
        auth: TokenAuth,
        /// Id of the session, from `GET /auth/sessions`.
        id: Path<String>,
    ) -> Result<Deleted, EndSessionErrors> {
        let caller = auth.claims(&self.app).await?;
        self.app.end_session(caller.user, &SessionId(id.0)).await?;
        Ok(Deleted::NoContent)
    }
}
