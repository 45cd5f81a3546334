//! Sessions: one per sign-in, each holding a family of refresh tokens.
//!
//! A sign-in (password or OAuth) starts a session and hands out its first refresh token.
//! Refreshing retires the presented token and issues its successor in the same session
//! (the token *family*). Presenting a retired token again, after the grace window, is
//! taken as theft: the whole session is revoked. Only hashes of refresh tokens are stored.

use std::fmt;

use crate::{UserId, time::Timestamp};

/// Identifies a session; shown to its owner (`GET /auth/sessions`) and carried in access
/// tokens as `sid`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub String);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A refresh token in clear text: opaque and high-entropy. Only its holder has it; the
/// server keeps its [`RefreshTokenHash`]. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(pub String);

impl RefreshToken {
    /// The clear text, to send to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// The stored form of a refresh token: a one-way hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefreshTokenHash(pub String);

/// What starting a session stores.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// New session id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// The `User-Agent` of the client that signed in, if any (shortened).
    pub user_agent: Option<String>,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// The session ends at this time whatever happens (absolute lifetime).
    pub expires_at: Timestamp,
    /// Hash of the first refresh token.
    pub first_token: RefreshTokenHash,
}

/// A session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// `User-Agent` at sign-in.
    pub user_agent: Option<String>,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// Last refresh (or sign-in).
    pub last_used_at: Timestamp,
    /// End of the absolute lifetime.
    pub expires_at: Timestamp,
}

/// A session as an access-token check sees it: not revoked (the store says `None` then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStatus {
    /// Owner.
    pub user_id: UserId,
    /// Last use: sign-in, refresh, or an accepted access token (recorded at most about
    /// once a minute).
    pub last_used_at: Timestamp,
    /// Sign-in or the last refresh: access tokens issued before it are superseded once
    /// their freshness window ends.
    pub refreshed_at: Timestamp,
    /// End of the absolute lifetime.
    pub expires_at: Timestamp,
}

impl SessionStatus {
    /// Whether the session is usable at `now`: before its absolute end, and used less
    /// than `idle` ago.
    pub fn is_live(&self, now: Timestamp, idle: time::Duration) -> bool {
        live(self.expires_at, self.last_used_at, now, idle)
    }
}

impl Session {
    /// Whether the session is usable at `now` (see [`SessionStatus::is_live`]).
    pub fn is_live(&self, now: Timestamp, idle: time::Duration) -> bool {
        live(self.expires_at, self.last_used_at, now, idle)
    }
}

fn live(
    expires_at: Timestamp,
    last_used_at: Timestamp,
    now: Timestamp,
    idle: time::Duration,
) -> bool {
    let now = now.as_offset_date_time();
    now < expires_at.as_offset_date_time() && now < last_used_at.as_offset_date_time() + idle
}

/// The rules a rotation applies, fixed by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationRules {
    /// The time of the rotation.
    pub now: Timestamp,
    /// A retired token presented again at most this long after it was retired is
    /// exchanged again instead of being treated as stolen (two browser tabs refreshing at
    /// once). Zero turns the grace off.
    pub grace: time::Duration,
    /// A session not used for this long is over (idle lifetime).
    pub idle: time::Duration,
}

impl RotationRules {
    /// Whether a token retired at `retired_at` may still be exchanged now.
    pub fn within_grace(&self, retired_at: Timestamp) -> bool {
        self.grace.is_positive()
            && self.now.as_offset_date_time() - retired_at.as_offset_date_time() <= self.grace
    }

    /// The rotation decision, from what the store read of the presented token's session
    /// (`None`: no session, or a revoked one) and of the token (`retired_at`: `None` while
    /// current). Every session store applies it (the Redis script mirrors it), atomically
    /// with its reads.
    pub fn decide(&self, session: Option<&Session>, retired_at: Option<Timestamp>) -> Decision {
        match (session, retired_at) {
            (None, _) => Decision::Reject,
            (Some(s), _) if !s.is_live(self.now, self.idle) => Decision::Reject,
            (Some(_), None) => Decision::Rotate,
            (Some(_), Some(retired)) if self.within_grace(retired) => Decision::Reissue,
            (Some(_), Some(_)) => Decision::Revoke,
        }
    }
}

/// What a store does with a presented refresh token ([`RotationRules::decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Unknown token or session, revoked, or past a lifetime: nothing changes.
    Reject,
    /// Current token: retire it, make `next` current, record the refresh.
    Rotate,
    /// Retired within the grace window: `next` is issued too, the refresh recorded.
    Reissue,
    /// Retired earlier: reuse, the whole session is revoked.
    Revoke,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now retired and `next` is current.
    Rotated(Session),
    /// The token had just been retired (within the grace window): `next` was issued as
    /// well, and the earlier successor stays valid.
    GraceReissue(Session),
    /// The token had been retired before the grace window: the session is now revoked.
    Reused(Session),
    /// Unknown token, or its session is revoked or past its idle or absolute lifetime.
    Rejected,
}

#[cfg(test)]
mod tests {
    use time::{Duration, OffsetDateTime};

    use super::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::new(
            OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::minutes(minutes),
        )
    }

    fn session(last_used: i64, expires: i64) -> Session {
        Session {
            id: SessionId("s".into()),
            user_id: UserId(1),
            user_agent: None,
            created_at: at(0),
            last_used_at: at(last_used),
            expires_at: at(expires),
        }
    }

    #[test]
    fn the_rotation_decision_follows_liveness_then_retirement_then_grace() {
        let rules = |now: i64, grace: i64| RotationRules {
            now: at(now),
            grace: Duration::minutes(grace),
            idle: Duration::minutes(60),
        };
        let live = session(0, 1_000);
        let cases = [
            (rules(10, 1), None, None, Decision::Reject),
            (rules(10, 1), Some(&live), None, Decision::Rotate),
            (rules(10, 1), Some(&live), Some(at(9)), Decision::Reissue),
            (rules(10, 1), Some(&live), Some(at(8)), Decision::Revoke),
            (rules(10, 0), Some(&live), Some(at(10)), Decision::Revoke),
            // Idle for the whole lifetime, or past the absolute end: nothing changes,
            // retired token or not.
            (rules(60, 1), Some(&live), None, Decision::Reject),
            (rules(60, 1), Some(&live), Some(at(1)), Decision::Reject),
        ];
        for (rules, session, retired, expected) in cases {
            assert_eq!(
                rules.decide(session, retired),
                expected,
                "{rules:?} {retired:?}"
            );
        }
        let ended = session(990, 1_000);
        assert_eq!(rules(1_000, 1).decide(Some(&ended), None), Decision::Reject);
    }
}
