//! `POST /users`, `POST /users/login`, `GET /user`, `PUT /user`.

use conduit_app::Conduit;
use conduit_domain::api_key::Scope;
use poem_openapi::{OpenApi, param::Header, payload::Json};

use super::{
    ApiTags, SignedIn, UserCreated,
    cookie::{CookiePolicy, sign_in_answer},
};
use crate::{
    dto, parse,
    security::{Caller, UserAuth},
};

crate::operation_errors!(
    /// Errors of `POST /users`.
    RegisterErrors with_body {
        Conflict = 409: "The username or the email is already taken, without regard to case (`conflict`); the key names which.",
        Unprocessable = 422: "A field is missing, blank, too short, too long, malformed or not a string (`validation_failed`); every bad field is listed.",
    }
);

crate::operation_errors!(
    /// Errors of `POST /users/login`.
    LoginErrors with_body {
        Unauthorized = 401: "Email and password do not match an account (`invalid_credentials`).",
        Unprocessable = 422: "The email or the password is missing, blank, malformed or not a string (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `GET /user`.
    CurrentUserErrors {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The API key lacks the `user:read` scope (`insufficient_scope`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

crate::operation_errors!(
    /// Errors of `PUT /user`.
    UpdateUserErrors with_body {
        Unauthorized = 401: "No credentials were sent (`token_missing`), the access token is malformed, foreign or expired (`token_invalid`), or the API key is invalid, expired or revoked (`api_key_invalid`).",
        Forbidden = 403: "The API key lacks the `user:write` scope (`insufficient_scope`), or an API key tried to change the email or password, which needs a user session (`forbidden`, key `user`).",
        Conflict = 409: "The new username or email is already taken (`conflict`).",
        Unprocessable = 422: "A field is blank, null where not allowed, too short, too long, malformed or not a string (`validation_failed`).",
    }
);

/// Registration, login and the signed-in user's account.
#[derive(Debug, Clone)]
pub struct UsersApi {
    /// The application.
    pub app: Conduit,
    /// The refresh-token cookie, when on.
    pub cookie: Option<CookiePolicy>,
}

#[OpenApi(tag = "ApiTags::UserAndAuthentication")]
impl UsersApi {
    /// Register a new user
    ///
    /// Creates an account and signs it in: the answer carries an access token and a
    /// refresh token (`user.refreshToken`). Usernames and emails are unique without
    /// regard to case (409 when taken).
    #[oai(path = "/users", method = "post", operation_id = "CreateUser")]
    async fn register(
        &self,
        body: Json<dto::NewUserRequest>,
        /// Shown later in the session list.
        #[oai(name = "User-Agent")]
        user_agent: Header<Option<String>>,
    ) -> Result<UserCreated, RegisterErrors> {
        let input = parse::register(body.0.user).map_err(conduit_domain::Error::from)?;
        let signed_in = self.app.register(input, client(user_agent)).await?;
        let (body, cookie) = sign_in_answer(self.cookie, signed_in);
        Ok(UserCreated::Created(Json(body), cookie))
    }

    /// Existing user login
    ///
    /// Signs in with email (any case) and password, starting a new session: the answer
    /// carries an access token and a refresh token. A wrong password and an unknown email
    /// get the same 401.
    #[oai(path = "/users/login", method = "post", operation_id = "Login")]
    async fn login(
        &self,
        body: Json<dto::LoginUserRequest>,
        /// Shown later in the session list.
        #[oai(name = "User-Agent")]
        user_agent: Header<Option<String>>,
    ) -> Result<SignedIn, LoginErrors> {
        let input = parse::login(body.0.user).map_err(conduit_domain::Error::from)?;
        let signed_in = self.app.login(input, client(user_agent)).await?;
        let (body, cookie) = sign_in_answer(self.cookie, signed_in);
        Ok(SignedIn::Ok(Json(body), cookie))
    }

    /// Get current user
    ///
    /// The signed-in user, with a fresh access token. Called with an API key (scope
    /// `user:read`), `token` is that key: keys never yield session tokens.
    #[oai(path = "/user", method = "get", operation_id = "GetCurrentUser")]
    async fn current(&self, auth: UserAuth) -> Result<Json<dto::UserResponse>, CurrentUserErrors> {
        match auth.caller(&self.app, Scope::UserRead).await? {
            Caller::Session(claims) => Ok(Json(self.app.current_user(&claims).await?.into())),
            Caller::Key { user, token } => {
                let account = self.app.account(user).await?;
                Ok(Json(dto::UserResponse::for_api_key(account, token)))
            }
        }
    }

    /// Update current user
    ///
    /// Changes any of email, username, password, bio and image. Absent fields are left
    /// as they are; `bio` and `image` are cleared by `null` or `""`. A new password ends
    /// every other session of the user. An API key (scope `user:write`) may change the
    /// username, bio and image, but not the email or password (403).
    #[oai(path = "/user", method = "put", operation_id = "UpdateCurrentUser")]
    async fn update(
        &self,
        auth: UserAuth,
        body: Json<dto::UpdateUserRequest>,
    ) -> Result<Json<dto::UserResponse>, UpdateUserErrors> {
        let caller = auth.caller(&self.app, Scope::UserWrite).await?;
        let changes = parse::update_user(body.0.user).map_err(conduit_domain::Error::from)?;
        match caller {
            Caller::Session(claims) => {
                Ok(Json(self.app.update_user(&claims, changes).await?.into()))
            }
            Caller::Key { user, token } => {
                let account = self.app.update_account(user, changes).await?;
                Ok(Json(dto::UserResponse::for_api_key(account, token)))
            }
        }
    }
}

/// What the session list shows of the client that signed in.
pub(crate) fn client(user_agent: Header<Option<String>>) -> conduit_app::ClientInfo {
    conduit_app::ClientInfo {
        user_agent: user_agent.0,
    }
}
