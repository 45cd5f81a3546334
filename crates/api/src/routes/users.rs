//! `POST /users`, `POST /users/login`, `GET /user`, `PUT /user`.

use conduit_app::Conduit;
use poem_openapi::{OpenApi, param::Header, payload::Json};

use super::{ApiTags, UserCreated};
use crate::{dto, parse, security::TokenAuth};

crate::operation_errors!(
    /// Errors of `POST /users`.
    RegisterErrors with_body {
        Conflict = 409: "The username or the email is already taken, without regard to case (`conflict`); the key names which.",
        Unprocessable = 422: "A field is blank, too short, too long or malformed (`validation_failed`); every bad field is listed.",
    }
);

crate::operation_errors!(
    /// Errors of `POST /users/login`.
    LoginErrors with_body {
        Unauthorized = 401: "Email and password do not match an account (`invalid_credentials`).",
        Unprocessable = 422: "The email or the password is blank or malformed (`validation_failed`).",
    }
);

crate::operation_errors!(
    /// Errors of `GET /user`.
    CurrentUserErrors {
        Unauthorized = 401: "No token was sent (`token_missing`), or it is malformed, foreign or expired (`token_invalid`).",
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

crate::operation_errors!(
    /// Errors of `PUT /user`.
    UpdateUserErrors with_body {
        Unauthorized = 401: "No token was sent (`token_missing`), or it is malformed, foreign or expired (`token_invalid`).",
        Conflict = 409: "The new username or email is already taken (`conflict`).",
        Unprocessable = 422: "A field is blank, null where not allowed, too short, too long or malformed (`validation_failed`).",
    }
);

/// Registration, login and the signed-in user's account.
#[derive(Debug, Clone)]
pub struct UsersApi {
    /// The application.
    pub app: Conduit,
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
        Ok(UserCreated::Created(Json(signed_in.into())))
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
    ) -> Result<Json<dto::UserResponse>, LoginErrors> {
        let input = parse::login(body.0.user).map_err(conduit_domain::Error::from)?;
        Ok(Json(
            self.app.login(input, client(user_agent)).await?.into(),
        ))
    }

    /// Get current user
    ///
    /// The signed-in user, with a fresh access token.
    #[oai(path = "/user", method = "get", operation_id = "GetCurrentUser")]
    async fn current(&self, auth: TokenAuth) -> Result<Json<dto::UserResponse>, CurrentUserErrors> {
        let caller = auth.claims(&self.app)?;
        Ok(Json(self.app.current_user(&caller).await?.into()))
    }

    /// Update current user
    ///
    /// Changes any of email, username, password, bio and image. Absent fields are left
    /// as they are; `bio` and `image` are cleared by `null` or `""`. A new password ends
    /// every other session of the user.
    #[oai(path = "/user", method = "put", operation_id = "UpdateCurrentUser")]
    async fn update(
        &self,
        auth: TokenAuth,
        body: Json<dto::UpdateUserRequest>,
    ) -> Result<Json<dto::UserResponse>, UpdateUserErrors> {
        let caller = auth.claims(&self.app)?;
        let changes = parse::update_user(body.0.user).map_err(conduit_domain::Error::from)?;
        Ok(Json(self.app.update_user(&caller, changes).await?.into()))
    }
}

/// What the session list shows of the client that signed in.
pub(crate) fn client(user_agent: Header<Option<String>>) -> conduit_app::ClientInfo {
    conduit_app::ClientInfo {
        user_agent: user_agent.0,
    }
}
