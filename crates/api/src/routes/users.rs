//! `POST /users`, `POST /users/login`, `GET /user`, `PUT /user`.

use conduit_app::Conduit;
use conduit_domain::{Invalid, UniqueField, ValidationErrors, api_key::Scope};
use poem_openapi::{OpenApi, param::Header, payload::Json};

use super::{
    ApiTags, SignedIn, UserCreated,
    cookie::{CookiePolicy, sign_in_answer},
    operation::{ErrorCase, Operation},
    profiles,
};
use crate::{
    dto,
    error::ErrorCode,
    exact::Field,
    parse,
    security::{Caller, UserAuth},
};

pub(crate) const CREATE_USER: Operation = Operation::post("CreateUser", "/users")
    .json_body()
    .errors(&[
        ErrorCase::taken(
            UniqueField::Username,
            "The username or the email is already taken, without regard to case (`conflict`); \
             the key names which.",
        ),
        ErrorCase::invalid(
            "A field is missing, blank, too short, too long, malformed or not a string \
             (`validation_failed`); every bad field is listed.",
            || {
                parse::register(Field::new(dto::NewUser {
                    username: "".into(),
                    email: "jake@jake".into(),
                    password: "short".into(),
                }))
                .err()
            },
        ),
    ])
    .links(
        &[("username", "$response.body#/user/username")],
        &[
            (
                &profiles::GET_PROFILE_BY_USERNAME,
                "The new user's public profile.",
            ),
            (&profiles::FOLLOW_USER_BY_USERNAME, "Follow the new user."),
            (
                &profiles::UNFOLLOW_USER_BY_USERNAME,
                "Unfollow the new user.",
            ),
        ],
    );
crate::operation_errors!(RegisterErrors = CREATE_USER);

pub(crate) const LOGIN: Operation = Operation::post("Login", "/users/login")
    .json_body()
    .errors(&[
        ErrorCase::code(
            ErrorCode::InvalidCredentials,
            "Email and password do not match an account (`invalid_credentials`).",
        ),
        ErrorCase::invalid(
            "The email or the password is missing, blank, malformed or not a string \
             (`validation_failed`).",
            || {
                parse::login(Field::new(dto::LoginUser {
                    email: "".into(),
                    password: "".into(),
                }))
                .err()
            },
        ),
    ]);
crate::operation_errors!(LoginErrors = LOGIN);

pub(crate) const GET_CURRENT_USER: Operation = Operation::get("GetCurrentUser", "/user")
    .scope(Scope::UserRead)
    .errors(&[
        ErrorCase::UNAUTHORIZED,
        ErrorCase::MISSING_USER_READ,
        ErrorCase::CONTRACT_422,
    ]);
crate::operation_errors!(CurrentUserErrors = GET_CURRENT_USER);

pub(crate) const UPDATE_CURRENT_USER: Operation = Operation::put("UpdateCurrentUser", "/user")
    .scope(Scope::UserWrite)
    .json_body()
    .errors(&[
        ErrorCase::UNAUTHORIZED,
        ErrorCase::missing_scope(
            "The API key lacks the `user:write` scope (`insufficient_scope`), or an API key \
             tried to change the email or password, which needs a user session (`forbidden`, \
             key `user`).",
        ),
        ErrorCase::taken(
            UniqueField::Email,
            "The new username or email is already taken (`conflict`).",
        ),
        ErrorCase::invalid(
            "A field is blank, null where not allowed, too short, too long, malformed or not a \
             string (`validation_failed`).",
            || Some(ValidationErrors::single("email", Invalid::Null)),
        ),
    ]);
crate::operation_errors!(UpdateUserErrors = UPDATE_CURRENT_USER);

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
        match auth.caller(&self.app, GET_CURRENT_USER.scope).await? {
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
        let caller = auth.caller(&self.app, UPDATE_CURRENT_USER.scope).await?;
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
