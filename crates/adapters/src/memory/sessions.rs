//! Sessions in process memory: the embedded default's session store when no Redis is
//! configured and the database is not wanted for it, and the reference the other
//! adapters are tested against.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    ports::SessionStore,
    session::{
        Decision, NewSession, RefreshTokenHash, Rotation, RotationRules, Session, SessionId,
        SessionStatus,
    },
    time::Timestamp,
};

/// Every session and refresh token, behind one lock.
#[derive(Debug, Default)]
pub struct MemorySessions {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<SessionId, Entry>,
    tokens: HashMap<RefreshTokenHash, Token>,
}

#[derive(Debug, Clone)]
struct Entry {
    session: Session,
    refreshed_at: Timestamp,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Token {
    session: SessionId,
    retired_at: Option<Timestamp>,
}

impl MemorySessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Unexpected("session store lock poisoned".into()))
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn start(&self, new: NewSession) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        let session = Session {
            id: new.id.clone(),
            user_id: new.user_id,
            user_agent: new.user_agent,
            created_at: new.created_at,
            last_used_at: new.created_at,
            expires_at: new.expires_at,
        };
        state.tokens.insert(
            new.first_token,
            Token {
                session: new.id.clone(),
                retired_at: None,
            },
        );
        state.sessions.insert(
            new.id,
            Entry {
                session,
                refreshed_at: new.created_at,
                revoked: false,
            },
        );
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: RefreshTokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.lock()?;
        let Some(token) = state.tokens.get(presented).cloned() else {
            return Ok(Rotation::Rejected);
        };
        let Some(entry) = state.sessions.get_mut(&token.session) else {
            return Ok(Rotation::Rejected);
        };
        let live = (!entry.revoked).then_some(&entry.session);
        let outcome = match rules.decide(live, token.retired_at) {
            Decision::Reject => return Ok(Rotation::Rejected),
            Decision::Revoke => {
                entry.revoked = true;
                return Ok(Rotation::Reused(entry.session.clone()));
            }
            decision => {
                entry.session.last_used_at = rules.now;
                entry.refreshed_at = rules.now;
                if decision == Decision::Rotate {
                    Rotation::Rotated(entry.session.clone())
                } else {
                    Rotation::GraceReissue(entry.session.clone())
                }
            }
        };
        if let Some(current) = state.tokens.get_mut(presented)
            && current.retired_at.is_none()
        {
            current.retired_at = Some(rules.now);
        }
        state.tokens.insert(
            next,
            Token {
                session: token.session,
                retired_at: None,
            },
        );
        Ok(outcome)
    }

    async fn active(
        &self,
        user: UserId,
        now: Timestamp,
        idle: time::Duration,
    ) -> Result<Vec<Session>, StoreError> {
        let state = self.lock()?;
        let mut sessions: Vec<Session> = state
            .sessions
            .values()
            .filter(|e| e.session.user_id == user && !e.revoked && e.session.is_live(now, idle))
            .map(|e| e.session.clone())
            .collect();
        sessions.sort_by(|a, b| {
            b.last_used_at
                .cmp(&a.last_used_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(sessions)
    }

    async fn revoke(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        match state.sessions.get_mut(session) {
            Some(entry) if entry.session.user_id == user && !entry.revoked => {
                entry.revoked = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_all(&self, user: UserId, keep: Option<&SessionId>) -> Result<u64, StoreError> {
        let mut state = self.lock()?;
        let mut revoked = 0;
        for entry in state.sessions.values_mut() {
            if entry.session.user_id == user && !entry.revoked && Some(&entry.session.id) != keep {
                entry.revoked = true;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        let state = self.lock()?;
        Ok(state
            .sessions
            .get(id)
            .filter(|entry| !entry.revoked)
            .map(|entry| SessionStatus {
                user_id: entry.session.user_id,
                last_used_at: entry.session.last_used_at,
                refreshed_at: entry.refreshed_at,
                expires_at: entry.session.expires_at,
            }))
    }

    async fn touch(&self, id: &SessionId, at: Timestamp) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        if let Some(entry) = state.sessions.get_mut(id)
            && !entry.revoked
            && entry.session.last_used_at < at
        {
            entry.session.last_used_at = at;
        }
        Ok(())
    }
}
