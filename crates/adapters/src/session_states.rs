//! Session states kept in the process, in front of a session store that only this process
//! writes (SQLite, memory): the access-token check (ADR 0009) then costs a hash-map read
//! instead of a database query, and stays exact, because every change to a session goes
//! through this decorator, which forgets the states it changes.
//!
//! Not for a store that other instances write (PostgreSQL, Redis): a session they end
//! would go on working here.

use std::sync::{
    Mutex,
    atomic::{AtomicU64, Ordering},
};

use async_trait::async_trait;
use conduit_domain::{
    UserId,
    error::StoreError,
    ports::SessionStore,
    session::{
        NewSession, RefreshTokenHash, Rotation, RotationRules, Session, SessionId, SessionStatus,
    },
    time::Timestamp,
};
use moka::sync::Cache;

/// How many session states are kept (about 150 bytes each).
const CAPACITY: u64 = 100_000;

/// A [`SessionStore`] that answers [`status`](SessionStore::status) from memory.
///
/// A read that raced a change must not put back the state from before it: every change
/// moves `epoch` on and forgets what it changed under `fill`, and a read keeps its answer
/// only if, under `fill`, the epoch is still the one it saw before asking the store.
pub struct LocalSessionStates<S> {
    inner: S,
    states: Cache<SessionId, SessionStatus>,
    epoch: AtomicU64,
    fill: Mutex<()>,
}

impl<S: SessionStore> LocalSessionStates<S> {
    /// Keeps the states of `inner`'s sessions, which nothing else may change.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            states: Cache::new(CAPACITY),
            epoch: AtomicU64::new(0),
            fill: Mutex::new(()),
        }
    }

    /// Forgets `session` (or every session) after a change.
    fn changed(&self, session: Option<&SessionId>) {
        let _fill = self.fill.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match session {
            Some(id) => self.states.invalidate(id),
            None => self.states.invalidate_all(),
        }
    }
}

impl<S> std::fmt::Debug for LocalSessionStates<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSessionStates")
            .field("kept", &self.states.entry_count())
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn rotated_session(rotation: &Rotation) -> Option<&Session> {
    match rotation {
        Rotation::Rotated(s) | Rotation::GraceReissue(s) | Rotation::Reused(s) => Some(s),
        Rotation::Rejected => None,
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for LocalSessionStates<S> {
    async fn start(&self, session: NewSession) -> Result<(), StoreError> {
        let id = session.id.clone();
        let result = self.inner.start(session).await;
        self.changed(Some(&id));
        result
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: RefreshTokenHash,
        rules: RotationRules,
    ) -> Result<Rotation, StoreError> {
        let result = self.inner.rotate(presented, next, rules).await;
        match &result {
            Ok(rotation) => {
                if let Some(session) = rotated_session(rotation) {
                    self.changed(Some(&session.id));
                }
            }
            // Whether it changed anything is unknown.
            Err(_) => self.changed(None),
        }
        result
    }

    async fn active(
        &self,
        user: UserId,
        now: Timestamp,
        idle: time::Duration,
    ) -> Result<Vec<Session>, StoreError> {
        self.inner.active(user, now, idle).await
    }

    async fn revoke(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError> {
        let result = self.inner.revoke(user, session).await;
        self.changed(Some(session));
        result
    }

    async fn revoke_all(&self, user: UserId, keep: Option<&SessionId>) -> Result<u64, StoreError> {
        let result = self.inner.revoke_all(user, keep).await;
        self.changed(None);
        result
    }

    async fn status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        if let Some(state) = self.states.get(id) {
            return Ok(Some(state));
        }
        let seen = self.epoch.load(Ordering::SeqCst);
        let state = self.inner.status(id).await?;
        // Unknown and revoked sessions are not kept: they are asked about only by tokens
        // of ended sessions, and a session started later must not find a stale `None`.
        if let Some(state) = &state {
            let _fill = self.fill.lock().unwrap_or_else(|e| e.into_inner());
            if self.epoch.load(Ordering::SeqCst) == seen {
                self.states.insert(id.clone(), *state);
            }
        }
        Ok(state)
    }

    async fn touch(&self, id: &SessionId, at: Timestamp) -> Result<(), StoreError> {
        let result = self.inner.touch(id, at).await;
        self.changed(Some(id));
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::OffsetDateTime;
    use tokio::sync::{Notify, Semaphore};

    use super::*;
    use crate::memory::sessions::MemorySessions;

    /// The memory store, whose `status` can be held between reading and answering.
    struct Held {
        inner: MemorySessions,
        /// Set: `status` reads, then waits for a permit before it answers.
        hold: std::sync::atomic::AtomicBool,
        read: Notify,
        answer: Semaphore,
    }

    #[async_trait]
    impl SessionStore for Held {
        async fn start(&self, session: NewSession) -> Result<(), StoreError> {
            self.inner.start(session).await
        }
        async fn rotate(
            &self,
            presented: &RefreshTokenHash,
            next: RefreshTokenHash,
            rules: RotationRules,
        ) -> Result<Rotation, StoreError> {
            self.inner.rotate(presented, next, rules).await
        }
        async fn active(
            &self,
            user: UserId,
            now: Timestamp,
            idle: time::Duration,
        ) -> Result<Vec<Session>, StoreError> {
            self.inner.active(user, now, idle).await
        }
        async fn revoke(&self, user: UserId, session: &SessionId) -> Result<bool, StoreError> {
            self.inner.revoke(user, session).await
        }
        async fn revoke_all(
            &self,
            user: UserId,
            keep: Option<&SessionId>,
        ) -> Result<u64, StoreError> {
            self.inner.revoke_all(user, keep).await
        }
        async fn status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
            let state = self.inner.status(id).await;
            if self.hold.load(Ordering::SeqCst) {
                self.read.notify_one();
                self.answer.acquire().await.expect("open").forget();
            }
            state
        }
        async fn touch(&self, id: &SessionId, at: Timestamp) -> Result<(), StoreError> {
            self.inner.touch(id, at).await
        }
    }

    fn now() -> Timestamp {
        Timestamp::new(OffsetDateTime::now_utc())
    }

    async fn start(sessions: &dyn SessionStore, user: i64, id: &str) -> SessionId {
        let id = SessionId(id.to_owned());
        sessions
            .start(NewSession {
                id: id.clone(),
                user_id: UserId(user),
                user_agent: None,
                created_at: now(),
                expires_at: Timestamp::new(OffsetDateTime::now_utc() + time::Duration::days(1)),
                first_token: RefreshTokenHash(format!("hash-{}", id.0)),
            })
            .await
            .expect("started");
        id
    }

    /// A check that read the session before a logout and answers after it must not leave
    /// the live state behind for the next check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_racing_a_logout_does_not_keep_the_state_from_before_it() {
        let states = Arc::new(LocalSessionStates::new(Held {
            inner: MemorySessions::new(),
            hold: false.into(),
            read: Notify::new(),
            answer: Semaphore::new(0),
        }));
        let id = start(states.as_ref(), 1, "s1").await;
        states.inner.hold.store(true, Ordering::SeqCst);
        let check = tokio::spawn({
            let (states, id) = (states.clone(), id.clone());
            async move { states.status(&id).await.expect("answered") }
        });
        states.inner.read.notified().await;
        assert!(states.revoke(UserId(1), &id).await.expect("revoked"));
        states.inner.answer.add_permits(1);
        assert!(
            check.await.expect("ran").is_some(),
            "it read before the logout"
        );

        states.inner.hold.store(false, Ordering::SeqCst);
        assert_eq!(states.status(&id).await.expect("answered"), None);
    }

    #[tokio::test]
    async fn kept_states_are_forgotten_by_every_change() {
        let states = LocalSessionStates::new(MemorySessions::new());
        let one = start(&states, 1, "one").await;
        let two = start(&states, 1, "two").await;
        let other = start(&states, 2, "other").await;
        for id in [&one, &two, &other] {
            assert!(states.status(id).await.expect("answered").is_some());
        }
        let used = Timestamp::new(OffsetDateTime::now_utc() + time::Duration::minutes(5));
        states.touch(&one, used).await.expect("touched");
        assert_eq!(
            states
                .status(&one)
                .await
                .expect("answered")
                .map(|s| s.last_used_at),
            Some(used)
        );
        assert_eq!(
            states
                .revoke_all(UserId(1), Some(&one))
                .await
                .expect("revoked"),
            1
        );
        assert!(states.status(&one).await.expect("answered").is_some());
        assert_eq!(states.status(&two).await.expect("answered"), None);
        assert!(states.status(&other).await.expect("answered").is_some());
    }
}
