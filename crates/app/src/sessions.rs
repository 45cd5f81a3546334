//! Sessions: refreshing access tokens, signing out, and listing or ending sign-ins.

use conduit_domain::{
    Error, Resource, UserId,
    error::{AuthFailure, StoreError},
    ports::AccessClaims,
    session::{NewSession, Rotation, RotationRules, Session, SessionId},
    time::Timestamp,
    user::User,
};

use crate::{Authenticated, ClientInfo, Conduit};

/// Longest `User-Agent` kept with a session.
const USER_AGENT_MAX: usize = 256;

/// How long sessions and their refresh tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: time::Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub absolute: time::Duration,
    /// A retired refresh token presented again within this window is exchanged again
    /// instead of being treated as stolen (concurrent refreshes from one client).
    pub grace: time::Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: time::Duration::days(14),
            absolute: time::Duration::days(60),
            grace: time::Duration::seconds(10),
        }
    }
}

/// A session as its owner sees it, marked when it is the one asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session.
    pub session: Session,
    /// Whether the caller's access token belongs to it.
    pub current: bool,
}

/// An access token's use is written to its session at most this often (or a quarter of
/// the idle lifetime, if that is shorter): enough for an idle lifetime of days, without
/// a write on every request.
const TOUCH_EVERY: time::Duration = time::Duration::minutes(1);

impl Conduit {
    /// Who an access token speaks for, if its session is alive. The signature, issuer,
    /// audience and `exp` (the session's end) are checked in the token; then the session
    /// store must know the session, not revoked, owned by the token's user, within its
    /// idle and absolute lifetimes; and a token issued before the session's last refresh
    /// must still be within its freshness window. So a client that only ever sends the
    /// token it got at sign-in keeps working for as long as its session lives, and no
    /// longer. An accepted token counts as a use of its session (for the idle lifetime).
    /// Any refusal is `Unauthorized(TokenInvalid)`, never a store error.
    ///
    /// A session store that cannot answer (Redis or the database down) is not a sign-out:
    /// a token within its freshness window (`auth.token_ttl_seconds` after issue) is
    /// accepted on its signature alone, as every token was before tokens were bound to
    /// sessions, and an older one is a store error (503, retry later). A missed `touch`
    /// is not an error either: the next use writes it.
    pub async fn authenticate(&self, token: &str) -> Result<AccessClaims, Error> {
        let claims = self.token_claims(token)?;
        let invalid = || Error::Unauthorized(AuthFailure::TokenInvalid);
        let now = self.ports.clock.now();
        let status = match self.ports.sessions.status(&claims.session).await {
            Ok(status) => status,
            Err(StoreError::Unavailable(source)) if now < claims.fresh_until => {
                tracing::warn!(
                    error = %source,
                    "session store unavailable: a fresh access token is accepted on its signature"
                );
                return Ok(claims);
            }
            Err(err) => return Err(err.into()),
        };
        let status = status
            .filter(|s| s.user_id == claims.user && s.is_live(now, self.ports.session_policy.idle))
            .ok_or_else(invalid)?;
        if superseded(&claims, status.refreshed_at, now) {
            return Err(invalid());
        }
        let touch_every = TOUCH_EVERY.min(self.ports.session_policy.idle / 4);
        if now.as_offset_date_time() - status.last_used_at.as_offset_date_time() >= touch_every
            && let Err(err) = self.ports.sessions.touch(&claims.session, now).await
        {
            tracing::warn!(error = %err, "a session's last use was not recorded");
        }
        Ok(claims)
    }

    /// What an access token says, from its signature alone, without asking whether its
    /// session is alive: for deciding whom a request counts against (rate limits), never
    /// for letting it act.
    pub fn token_claims(&self, token: &str) -> Result<AccessClaims, Error> {
        self.ports.tokens.verify(token).map_err(Error::Unauthorized)
    }

    /// Starts a session for `user` and returns its first tokens.
    pub(crate) async fn start_session(
        &self,
        user: User,
        client: ClientInfo,
    ) -> Result<Authenticated, Error> {
        let now = self.ports.clock.now();
        let session_ends: Timestamp =
            (now.as_offset_date_time() + self.ports.session_policy.absolute).into();
        let id = self.ports.refresh_tokens.new_session_id();
        let (refresh, hash) = self.ports.refresh_tokens.generate();
        let user_agent = client.user_agent.map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(USER_AGENT_MAX)
                .collect()
        });
        self.ports
            .sessions
            .start(NewSession {
                id: id.clone(),
                user_id: user.id,
                user_agent,
                created_at: now,
                expires_at: session_ends,
                first_token: hash,
            })
            .await?;
        self.with_access_token(user, id, session_ends, Some(refresh))
    }

    /// Exchanges a refresh token for a new access token and a new refresh token, and
    /// retires the one presented. A retired token presented again after the grace window
    /// ends its whole session (it was copied), and that is logged as a security event.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, presented: &str) -> Result<Authenticated, Error> {
        let invalid = || Error::Unauthorized(AuthFailure::RefreshTokenInvalid);
        if presented.is_empty() || presented.len() > 512 {
            return Err(invalid());
        }
        let presented = self.ports.refresh_tokens.hash(presented);
        let (next, next_hash) = self.ports.refresh_tokens.generate();
        let rules = RotationRules {
            now: self.ports.clock.now(),
            grace: self.ports.session_policy.grace,
            idle: self.ports.session_policy.idle,
        };
        let session = match self
            .ports
            .sessions
            .rotate(&presented, next_hash, rules)
            .await?
        {
            Rotation::Rotated(session) => session,
            Rotation::GraceReissue(session) => {
                tracing::info!(target: "security", event = "refresh_grace_reissue", user_id = %session.user_id, session_id = %session.id);
                session
            }
            Rotation::Reused(session) => {
                tracing::warn!(
                    target: "security",
                    event = "refresh_token_reuse",
                    user_id = %session.user_id,
                    session_id = %session.id,
                    "a retired refresh token was presented again; the session is revoked"
                );
                return Err(invalid());
            }
            Rotation::Rejected => return Err(invalid()),
        };
        let user = self
            .ports
            .stores
            .users
            .by_id(session.user_id)
            .await?
            .ok_or_else(invalid)?;
        self.with_access_token(user, session.id, session.expires_at, Some(next))
    }

    /// Ends the caller's session (its refresh tokens stop working).
    // The span names the user, not the claims (session id and times stay out of logs
    // but for the security events).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user))]
    pub async fn logout(&self, caller: &AccessClaims) -> Result<(), Error> {
        self.ports
            .sessions
            .revoke(caller.user, &caller.session)
            .await?;
        tracing::info!(target: "security", event = "logout", user_id = %caller.user, session_id = %caller.session);
        Ok(())
    }

    /// Ends every session of the caller, this one included.
    // The span names the user, not the claims (session id and times stay out of logs
    // but for the security events).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user))]
    pub async fn logout_all(&self, caller: &AccessClaims) -> Result<u64, Error> {
        let ended = self.ports.sessions.revoke_all(caller.user, None).await?;
        tracing::info!(target: "security", event = "logout_all", user_id = %caller.user, sessions = ended);
        Ok(ended)
    }

    /// The caller's active sessions, most recently used first.
    // The span names the user, not the claims (session id and times stay out of logs
    // but for the security events).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user))]
    pub async fn sessions(&self, caller: &AccessClaims) -> Result<Vec<SessionView>, Error> {
        let now = self.ports.clock.now();
        let sessions = self
            .ports
            .sessions
            .active(caller.user, now, self.ports.session_policy.idle)
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == caller.session,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions. Another user's session is not found.
    #[tracing::instrument(skip(self))]
    pub async fn end_session(&self, user: UserId, session: &SessionId) -> Result<(), Error> {
        if self.ports.sessions.revoke(user, session).await? {
            tracing::info!(target: "security", event = "session_revoked", user_id = %user, session_id = %session);
            Ok(())
        } else {
            Err(Error::NotFound(Resource::Session))
        }
    }
}

/// Whether a refresh of the session at `refreshed_at` has made the token of `claims`
/// unusable at `now`: it was issued before that refresh (compared in the whole seconds
/// of `iat`) and its freshness window is over.
fn superseded(claims: &AccessClaims, refreshed_at: Timestamp, now: Timestamp) -> bool {
    let second = |at: Timestamp| at.as_offset_date_time().unix_timestamp();
    second(claims.issued_at) < second(refreshed_at) && now >= claims.fresh_until
}

#[cfg(test)]
mod tests {
    use conduit_domain::user::{Email, Password, Username};

    use super::*;
    use crate::{Login, Register, UpdateUser, testing::conduit};

    async fn sign_up(app: &Conduit, name: &str) -> Authenticated {
        let input = Register {
            username: Username::parse(name).expect("username"),
            email: Email::parse(&format!("{name}@example.com")).expect("email"),
            password: Password::new_secret("password123").expect("password"),
        };
        app.register(
            input,
            ClientInfo {
                user_agent: Some("tests".into()),
            },
        )
        .await
        .expect("registered")
    }

    fn refresh_token(auth: &Authenticated) -> String {
        auth.refresh_token
            .as_ref()
            .expect("a refresh token")
            .expose()
            .to_owned()
    }

    #[tokio::test]
    async fn refresh_rotates_and_reuse_ends_the_session() {
        // The test application has no grace window: any second use is reuse.
        let app = conduit();
        let first = sign_up(&app, "rotator").await;
        let second = app.refresh(&refresh_token(&first)).await.expect("rotated");
        assert_eq!(second.session, first.session);
        assert_ne!(refresh_token(&second), refresh_token(&first));
        assert_eq!(
            app.authenticate(&second.token)
                .await
                .map(|c| c.session)
                .ok(),
            Some(first.session.clone())
        );
        let reuse = app.refresh(&refresh_token(&first)).await;
        assert!(matches!(
            reuse,
            Err(Error::Unauthorized(AuthFailure::RefreshTokenInvalid))
        ));
        // The whole family is gone: the newest token fails too.
        assert!(app.refresh(&refresh_token(&second)).await.is_err());
        assert!(matches!(
            app.refresh("rt_unknown").await,
            Err(Error::Unauthorized(AuthFailure::RefreshTokenInvalid))
        ));
    }

    #[tokio::test]
    async fn sessions_are_listed_and_ended() {
        let app = conduit();
        let web = sign_up(&app, "multi").await;
        let login = Login {
            email: Email::parse("multi@example.com").expect("email"),
            password: Password::presented("password123").expect("password"),
        };
        let phone = app
            .login(login, ClientInfo::default())
            .await
            .expect("signed in");
        let caller = app.authenticate(&web.token).await.expect("claims");
        let listed = app.sessions(&caller).await.expect("listed");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
        app.end_session(caller.user, &phone.session)
            .await
            .expect("ended");
        assert!(app.refresh(&refresh_token(&phone)).await.is_err());
        assert!(matches!(
            app.end_session(caller.user, &phone.session).await,
            Err(Error::NotFound(Resource::Session))
        ));
        // Another user cannot end this session.
        let other = sign_up(&app, "stranger").await;
        let stranger = app.authenticate(&other.token).await.expect("claims");
        assert!(app.end_session(stranger.user, &web.session).await.is_err());
        assert!(app.refresh(&refresh_token(&web)).await.is_ok());
    }

    #[tokio::test]
    async fn a_new_password_ends_every_other_session() {
        let app = conduit();
        let here = sign_up(&app, "changer").await;
        let login = Login {
            email: Email::parse("changer@example.com").expect("email"),
            password: Password::presented("password123").expect("password"),
        };
        let elsewhere = app
            .login(login, ClientInfo::default())
            .await
            .expect("signed in");
        let caller = app.authenticate(&here.token).await.expect("claims");
        let change = UpdateUser {
            password: Some(Password::new_secret("another password").expect("password")),
            ..UpdateUser::default()
        };
        app.update_user(&caller, change).await.expect("changed");
        assert!(app.refresh(&refresh_token(&elsewhere)).await.is_err());
        assert!(app.refresh(&refresh_token(&here)).await.is_ok());
    }
}
