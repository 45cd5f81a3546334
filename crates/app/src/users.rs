//! Registration, login, and the signed-in user's account.

use conduit_domain::{
    Error, Resource, UserId,
    error::AuthFailure,
    events::DomainEvent,
    patch::Patch,
    ports::AccessClaims,
    session::{RefreshToken, SessionId},
    time::Timestamp,
    user::{Bio, Email, ImageUrl, NewUser, Password, User, UserChanges, Username},
};

use crate::Conduit;

/// Registration input.
#[derive(Debug, Clone)]
pub struct Register {
    /// Chosen username.
    pub username: Username,
    /// Email address.
    pub email: Email,
    /// Chosen password.
    pub password: Password,
}

/// Login input.
#[derive(Debug, Clone)]
pub struct Login {
    /// Email address, any case.
    pub email: Email,
    /// Password as typed.
    pub password: Password,
}

/// Changes to the signed-in user's account. `None` (or [`Patch::Keep`]) leaves a field
/// unchanged; `bio` and `image` can also be cleared.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    /// New email.
    pub email: Option<Email>,
    /// New username.
    pub username: Option<Username>,
    /// New password.
    pub password: Option<Password>,
    /// The bio: kept, cleared or new.
    pub bio: Patch<Bio>,
    /// The image: kept, cleared or new.
    pub image: Patch<ImageUrl>,
}

/// An account with a fresh access token and, after a sign-in or a refresh, a new
/// refresh token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// A newly issued access token for it.
    pub token: String,
    /// The session the token belongs to.
    pub session: SessionId,
    /// A new refresh token, when this answer started or continued a session.
    pub refresh_token: Option<RefreshToken>,
}

/// What is known of the client at sign-in, shown later in the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

impl Conduit {
    /// Creates an account and signs it in (a new session). Fails with
    /// `Conflict(Email | Username)` when either is taken (without regard to case).
    #[tracing::instrument(skip_all, fields(username = %input.username))]
    pub async fn register(
        &self,
        input: Register,
        client: ClientInfo,
    ) -> Result<Authenticated, Error> {
        let password_hash = self
            .ports
            .hasher
            .hash(&input.password)
            .await
            .map_err(Error::Unexpected)?;
        let user = self
            .ports
            .stores
            .users
            .create(NewUser {
                username: input.username,
                email: input.email,
                password_hash,
                created_at: self.ports.clock.now(),
            })
            .await?;
        tracing::info!(target: "security", event = "registered", user_id = %user.id);
        self.start_session(user, client).await
    }

    /// Signs in with email and password (a new session). An unknown email and a wrong
    /// password fail the same way (`Unauthorized(InvalidCredentials)`) and take the same
    /// time.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<Authenticated, Error> {
        let user = self.ports.stores.users.by_email(&input.email).await?;
        let matched = self
            .ports
            .hasher
            .verify(&input.password, user.as_ref().map(|u| &u.password_hash))
            .await
            .map_err(Error::Unexpected)?;
        match user {
            Some(user) if matched => {
                tracing::info!(target: "security", event = "login", user_id = %user.id);
                self.start_session(user, client).await
            }
            Some(user) => {
                tracing::warn!(target: "security", event = "login_failed", reason = "wrong password", user_id = %user.id);
                Err(Error::Unauthorized(AuthFailure::InvalidCredentials))
            }
            None => {
                tracing::warn!(target: "security", event = "login_failed", reason = "unknown email");
                Err(Error::Unauthorized(AuthFailure::InvalidCredentials))
            }
        }
    }

    /// The signed-in user's account, with a fresh access token in the same session. A
    /// token whose account no longer exists is `Unauthorized(TokenInvalid)`.
    #[tracing::instrument(skip(self))]
    pub async fn current_user(&self, caller: &AccessClaims) -> Result<Authenticated, Error> {
        let user = self
            .ports
            .stores
            .users
            .by_id(caller.user)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::TokenInvalid))?;
        self.with_access_token(user, caller.session.clone(), caller.session_ends, None)
    }

    /// Applies `changes` to the signed-in user's account. A new password ends every
    /// other session of the user.
    #[tracing::instrument(skip(self, changes))]
    pub async fn update_user(
        &self,
        caller: &AccessClaims,
        changes: UpdateUser,
    ) -> Result<Authenticated, Error> {
        let (updated, password_changed) = self.apply_user_changes(caller.user, changes).await?;
        if password_changed {
            let ended = self
                .ports
                .sessions
                .revoke_all(caller.user, Some(&caller.session))
                .await?;
            tracing::info!(target: "security", event = "password_changed", user_id = %caller.user, other_sessions_revoked = ended);
        }
        self.with_access_token(updated, caller.session.clone(), caller.session_ends, None)
    }

    /// Applies `changes` for an API key of `user`. Credentials (email and password) are
    /// not a key's to change: that needs a user session (`Forbidden(User)`).
    #[tracing::instrument(skip(self, changes))]
    pub async fn update_account(&self, user: UserId, changes: UpdateUser) -> Result<User, Error> {
        if changes.password.is_some() || changes.email.is_some() {
            return Err(Error::Forbidden(Resource::User));
        }
        Ok(self.apply_user_changes(user, changes).await?.0)
    }

    /// The account after `changes`, and whether its password changed.
    async fn apply_user_changes(
        &self,
        user: UserId,
        changes: UpdateUser,
    ) -> Result<(User, bool), Error> {
        let password_hash = match &changes.password {
            Some(password) => Some(
                self.ports
                    .hasher
                    .hash(password)
                    .await
                    .map_err(Error::Unexpected)?,
            ),
            None => None,
        };
        let password_changed = password_hash.is_some();
        let changes = UserChanges {
            email: changes.email,
            username: changes.username,
            password_hash,
            bio: changes.bio,
            image: changes.image,
        };
        let updated = if changes.is_empty() {
            self.ports.stores.users.by_id(user).await?
        } else {
            let now = self.ports.clock.now();
            let updated = self.ports.stores.users.update(user, changes, now).await?;
            if updated.is_some() {
                self.announce(DomainEvent::ProfileChanged { user }).await;
            }
            updated
        };
        let updated = updated.ok_or(Error::Unauthorized(AuthFailure::TokenInvalid))?;
        Ok((updated, password_changed))
    }

    /// `user`'s answer with a new access token of `session`, which ends at
    /// `session_ends`.
    pub(crate) fn with_access_token(
        &self,
        user: User,
        session: SessionId,
        session_ends: Timestamp,
        refresh_token: Option<RefreshToken>,
    ) -> Result<Authenticated, Error> {
        let token = self
            .ports
            .tokens
            .issue(user.id, &session, session_ends)
            .map_err(Error::Unexpected)?;
        Ok(Authenticated {
            user,
            token,
            session,
            refresh_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use conduit_domain::{UniqueField, error::AuthFailure};

    use super::*;
    use crate::testing::conduit;

    fn register(name: &str) -> Register {
        Register {
            username: Username::parse(name).expect("username"),
            email: Email::parse(&format!("{name}@example.com")).expect("email"),
            password: Password::new_secret("password123").expect("password"),
        }
    }

    #[tokio::test]
    async fn register_then_login_with_any_email_case() {
        let app = conduit();
        let registered = app
            .register(register("jake"), ClientInfo::default())
            .await
            .expect("registered");
        assert_eq!(
            app.authenticate(&registered.token)
                .await
                .ok()
                .map(|c| c.user),
            Some(registered.user.id)
        );
        let login = Login {
            email: Email::parse("JAKE@example.com").expect("email"),
            password: Password::presented("password123").expect("password"),
        };
        let signed_in = app
            .login(login, ClientInfo::default())
            .await
            .expect("signed in");
        assert_eq!(signed_in.user.id, registered.user.id);
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_email_fail_alike() {
        let app = conduit();
        app.register(register("jane"), ClientInfo::default())
            .await
            .expect("registered");
        for (email, password) in [
            ("jane@example.com", "wrongpassword"),
            ("nobody@example.com", "password123"),
        ] {
            let result = app
                .login(
                    Login {
                        email: Email::parse(email).expect("email"),
                        password: Password::presented(password).expect("password"),
                    },
                    ClientInfo::default(),
                )
                .await;
            assert!(
                matches!(
                    result,
                    Err(Error::Unauthorized(AuthFailure::InvalidCredentials))
                ),
                "{email}"
            );
        }
    }

    #[tokio::test]
    async fn duplicate_registration_is_a_conflict() {
        let app = conduit();
        app.register(register("sam"), ClientInfo::default())
            .await
            .expect("registered");
        let mut again = register("SAM");
        again.email = Email::parse("other@example.com").expect("email");
        let result = app.register(again, ClientInfo::default()).await;
        assert!(matches!(
            result,
            Err(Error::Conflict(UniqueField::Username))
        ));
    }

    #[tokio::test]
    async fn update_changes_password_and_clears_bio() {
        let app = conduit();
        let registered = app
            .register(register("kim"), ClientInfo::default())
            .await
            .expect("registered");
        let me = app.authenticate(&registered.token).await.expect("claims");
        let changes = UpdateUser {
            bio: Bio::parse("hello").expect("bio").into(),
            ..UpdateUser::default()
        };
        assert_eq!(
            app.update_user(&me, changes)
                .await
                .expect("updated")
                .user
                .bio
                .as_deref(),
            Some("hello")
        );
        let changes = UpdateUser {
            bio: Patch::Clear,
            password: Some(Password::new_secret("new password").expect("password")),
            ..UpdateUser::default()
        };
        let updated = app.update_user(&me, changes).await.expect("updated");
        assert_eq!(updated.user.bio, None);
        let old = Login {
            email: Email::parse("kim@example.com").expect("email"),
            password: Password::presented("password123").expect("password"),
        };
        assert!(app.login(old, ClientInfo::default()).await.is_err());
        let new = Login {
            email: Email::parse("kim@example.com").expect("email"),
            password: Password::presented("new password").expect("password"),
        };
        assert!(app.login(new, ClientInfo::default()).await.is_ok());
    }

    #[tokio::test]
    async fn invalid_tokens_are_unauthorized() {
        let app = conduit();
        assert!(matches!(
            app.authenticate("garbage").await,
            Err(Error::Unauthorized(AuthFailure::TokenInvalid))
        ));
        let now = app.ports.clock.now();
        let ghost = app
            .current_user(&AccessClaims {
                user: conduit_domain::UserId(999),
                session: SessionId("gone".into()),
                issued_at: now,
                fresh_until: now,
                session_ends: now,
            })
            .await;
        assert!(matches!(
            ghost,
            Err(Error::Unauthorized(AuthFailure::TokenInvalid))
        ));
    }
}
