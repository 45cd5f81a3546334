//! The contract of [`SessionStore`]: what every adapter must do, written once and run
//! against each backend by `main.rs`. The in-memory store is the reference.
//!
//! Every test takes a fresh, empty store. All times are fixed, relative to [`T0`], so
//! that the time rules (grace window, idle and absolute lifetimes) are tested to the
//! millisecond on their edges and no backend may consult a clock of its own.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use conduit_adapters::crypto::RandomRefreshTokens;
use conduit_domain::{
    UserId,
    ports::{RefreshTokens, SessionStore, UserStore},
    session::{
        NewSession, RefreshTokenHash, Rotation, RotationRules, Session, SessionId, SessionStatus,
    },
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Username},
};
use time::{Duration, OffsetDateTime, macros::datetime};

/// What a test works on: the store under test, and accounts for the sessions to belong
/// to (SQL backends refer to them by foreign key).
pub struct Subject {
    /// The store under test.
    pub sessions: Arc<dyn SessionStore>,
    /// Where users are registered; the SQL backends share the session store's database.
    pub users: Arc<dyn UserStore>,
}

/// The origin of every time in the suite, with non-zero milliseconds so that the round
/// trip through storage is exercised at full precision.
const T0: OffsetDateTime = datetime!(2024-05-01 10:00:00.123 UTC);
/// The idle lifetime every rotation applies.
const IDLE: Duration = Duration::hours(1);
/// The absolute lifetime of sessions, unless a test says otherwise.
const LIFETIME: Duration = Duration::days(30);
/// A grace window long enough for two tabs refreshing at once.
const GRACE: Duration = Duration::seconds(30);
/// Concurrent presentations of one token in the race tests.
const RACERS: usize = 16;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `T0 + offset`.
fn at(offset: Duration) -> Timestamp {
    Timestamp::new(T0 + offset)
}

fn rules(now: Timestamp, grace: Duration) -> RotationRules {
    RotationRules {
        now,
        grace,
        idle: IDLE,
    }
}

/// A fresh token hash, as the application makes them.
fn token() -> RefreshTokenHash {
    RandomRefreshTokens.generate().1
}

/// Registers a user with a unique name and returns their id.
async fn user(subject: &Subject) -> UserId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let name = format!("sessionuser{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let user = subject
        .users
        .create(NewUser {
            username: Username::parse(&name).expect("valid username"),
            email: Email::parse(&format!("{name}@example.com")).expect("valid email"),
            password_hash: PasswordHash::new(format!(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"
            )),
            created_at: at(Duration::ZERO),
        })
        .await
        .expect("user created");
    user.id
}

/// Starts a session of `user` at `created` lasting `lifetime`; returns the session as
/// its owner should see it and the hash of its first token.
async fn start_for(
    subject: &Subject,
    user: UserId,
    created: Timestamp,
    lifetime: Duration,
    agent: Option<&str>,
) -> (Session, RefreshTokenHash) {
    let first = token();
    let new = NewSession {
        id: RandomRefreshTokens.new_session_id(),
        user_id: user,
        user_agent: agent.map(str::to_owned),
        created_at: created,
        expires_at: Timestamp::new(created.as_offset_date_time() + lifetime),
        first_token: first.clone(),
    };
    let session = Session {
        id: new.id.clone(),
        user_id: user,
        user_agent: new.user_agent.clone(),
        created_at: created,
        last_used_at: created,
        expires_at: new.expires_at,
    };
    subject.sessions.start(new).await.expect("session started");
    (session, first)
}

/// Starts a session of the usual lifetime.
async fn start(
    subject: &Subject,
    user: UserId,
    created: Timestamp,
    agent: Option<&str>,
) -> (Session, RefreshTokenHash) {
    start_for(subject, user, created, LIFETIME, agent).await
}

/// Presents `presented` at `now`; returns the outcome and the successor it proposed.
async fn rotate(
    subject: &Subject,
    presented: &RefreshTokenHash,
    now: Timestamp,
    grace: Duration,
) -> (Rotation, RefreshTokenHash) {
    let next = token();
    let outcome = subject
        .sessions
        .rotate(presented, next.clone(), rules(now, grace))
        .await
        .expect("rotation answered");
    (outcome, next)
}

/// `session` as it is after a successful use at `now`.
fn used_at(session: &Session, now: Timestamp) -> Session {
    Session {
        last_used_at: now,
        ..session.clone()
    }
}

async fn active(subject: &Subject, user: UserId, now: Timestamp) -> Vec<Session> {
    subject
        .sessions
        .active(user, now, IDLE)
        .await
        .expect("active sessions listed")
}

async fn revoke(subject: &Subject, user: UserId, session: &SessionId) -> bool {
    subject
        .sessions
        .revoke(user, session)
        .await
        .expect("revoke answered")
}

async fn revoke_all(subject: &Subject, user: UserId, keep: Option<&SessionId>) -> u64 {
    subject
        .sessions
        .revoke_all(user, keep)
        .await
        .expect("revoke_all answered")
}

/// Presents `presented` `RACERS` times at once, each with a successor of its own.
async fn race(
    subject: &Subject,
    presented: &RefreshTokenHash,
    now: Timestamp,
    grace: Duration,
) -> Vec<(Rotation, RefreshTokenHash)> {
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (store, presented, next) = (subject.sessions.clone(), presented.clone(), token());
        tasks.push(tokio::spawn(async move {
            let outcome = store
                .rotate(&presented, next.clone(), rules(now, grace))
                .await;
            (outcome, next)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        let (outcome, next) = task.await.expect("racer finished");
        let outcome = outcome.unwrap_or_else(|e| panic!("a concurrent rotation failed: {e:?}"));
        outcomes.push((outcome, next));
    }
    outcomes
}

// ---------------------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------------------

/// Start, rotate, and rotate the successor: each rotation returns the whole session as
/// it now is.
pub async fn rotating_a_current_token_makes_its_successor_current(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), Some("Firefox/130")).await;

    let now = at(Duration::minutes(1));
    let (outcome, second) = rotate(&subject, &first, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, now)));

    let later = at(Duration::minutes(2));
    let (outcome, _) = rotate(&subject, &second, later, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, later)));
}

/// A retired token presented after the grace window is taken as stolen: the answer is
/// `Reused` with the session as it was (not touched by the reuse), and from then on no
/// token of that session works, not even the newest.
pub async fn retired_token_after_grace_is_reused_and_ends_the_session(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let retired = at(Duration::minutes(1));
    let (_, second) = rotate(&subject, &first, retired, GRACE).await;
    let last_use = at(Duration::minutes(2));
    let (_, newest) = rotate(&subject, &second, last_use, GRACE).await;

    let late = Timestamp::new(retired.as_offset_date_time() + GRACE).next_after();
    let (outcome, _) = rotate(&subject, &first, late, GRACE).await;
    assert_eq!(outcome, Rotation::Reused(used_at(&session, last_use)));

    for token in [&newest, &second, &first] {
        let (outcome, _) = rotate(&subject, token, late.next_after(), GRACE).await;
        assert_eq!(outcome, Rotation::Rejected);
    }
    assert!(active(&subject, alice, late).await.is_empty());
    assert!(
        !revoke(&subject, alice, &session.id).await,
        "already revoked"
    );
}

/// A retired token presented again within the grace window (here exactly at its end) is
/// exchanged again, and both successors stay valid.
pub async fn retired_token_within_grace_is_reissued_and_both_successors_work(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let retired = at(Duration::minutes(1));
    let (outcome, second) = rotate(&subject, &first, retired, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, retired)));

    let edge = Timestamp::new(retired.as_offset_date_time() + GRACE);
    let (outcome, second_again) = rotate(&subject, &first, edge, GRACE).await;
    assert_eq!(outcome, Rotation::GraceReissue(used_at(&session, edge)));

    let later = at(Duration::minutes(5));
    let (outcome, _) = rotate(&subject, &second, later, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, later)));
    let (outcome, _) = rotate(&subject, &second_again, later, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, later)));
}

/// The grace window is counted from the token's first retirement: a reissue does not
/// restart it.
pub async fn grace_window_counts_from_the_first_retirement(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    rotate(&subject, &first, at(Duration::minutes(1)), GRACE).await;

    let within = at(Duration::minutes(1) + Duration::seconds(20));
    let (outcome, _) = rotate(&subject, &first, within, GRACE).await;
    assert_eq!(outcome, Rotation::GraceReissue(used_at(&session, within)));

    let beyond = at(Duration::minutes(1) + Duration::seconds(40));
    let (outcome, _) = rotate(&subject, &first, beyond, GRACE).await;
    assert_eq!(outcome, Rotation::Reused(used_at(&session, within)));
}

/// With the grace window off, presenting a retired token again, even at the very
/// instant it was retired, is reuse.
pub async fn without_grace_immediate_re_presentation_is_reused(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let now = at(Duration::minutes(1));
    let (outcome, second) = rotate(&subject, &first, now, Duration::ZERO).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, now)));

    let (outcome, _) = rotate(&subject, &first, now, Duration::ZERO).await;
    assert_eq!(outcome, Rotation::Reused(used_at(&session, now)));
    let (outcome, _) = rotate(&subject, &second, now, Duration::ZERO).await;
    assert_eq!(outcome, Rotation::Rejected);
}

/// A token never issued is rejected, and touches no session.
pub async fn unknown_token_is_rejected(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;

    let now = at(Duration::minutes(1));
    let (outcome, _) = rotate(&subject, &token(), now, GRACE).await;
    assert_eq!(outcome, Rotation::Rejected);
    let (outcome, _) = rotate(&subject, &token(), now, Duration::ZERO).await;
    assert_eq!(outcome, Rotation::Rejected);

    assert_eq!(active(&subject, alice, now).await, vec![session.clone()]);
    let (outcome, _) = rotate(&subject, &first, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, now)));
}

// ---------------------------------------------------------------------------------------
// Lifetimes
// ---------------------------------------------------------------------------------------

/// A session unused for the idle lifetime is over: its tokens are rejected and it is no
/// longer listed. Each use restarts the idle clock. A rejection changes nothing.
pub async fn idle_lifetime_ends_a_session(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;

    // Just inside the idle lifetime, twice in a row: use restarts the clock.
    let used = at(IDLE - Duration::milliseconds(1));
    let (outcome, second) = rotate(&subject, &first, used, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, used)));
    let used_again = Timestamp::new(used.as_offset_date_time() + IDLE - Duration::milliseconds(1));
    let (outcome, third) = rotate(&subject, &second, used_again, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, used_again)));
    let session = used_at(&session, used_again);

    let idle_end = Timestamp::new(used_again.as_offset_date_time() + IDLE);
    let (outcome, _) = rotate(&subject, &third, idle_end, GRACE).await;
    assert_eq!(outcome, Rotation::Rejected);
    assert!(active(&subject, alice, idle_end).await.is_empty());

    // Neither rejection revoked the session nor moved its last use.
    let just_before = Timestamp::new(idle_end.as_offset_date_time() - Duration::milliseconds(1));
    assert_eq!(
        active(&subject, alice, just_before).await,
        vec![session.clone()]
    );
    // A retired token past the idle end is rejected too, not taken as reuse.
    let (outcome, _) = rotate(&subject, &first, idle_end, GRACE).await;
    assert_eq!(outcome, Rotation::Rejected);
    assert_eq!(active(&subject, alice, just_before).await, vec![session]);
}

/// A session past its absolute lifetime is over, however recently it was used.
pub async fn absolute_lifetime_ends_a_session(subject: Subject) {
    let alice = user(&subject).await;
    let lifetime = Duration::minutes(90);
    let (session, first) = start_for(&subject, alice, at(Duration::ZERO), lifetime, None).await;

    let used = at(Duration::minutes(50));
    let (_, second) = rotate(&subject, &first, used, GRACE).await;
    let last_use = at(lifetime - Duration::milliseconds(1));
    let (outcome, third) = rotate(&subject, &second, last_use, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, last_use)));
    let session = used_at(&session, last_use);

    let end = at(lifetime);
    let (outcome, _) = rotate(&subject, &third, end, GRACE).await;
    assert_eq!(outcome, Rotation::Rejected);
    let (outcome, _) = rotate(&subject, &first, end, GRACE).await;
    assert_eq!(outcome, Rotation::Rejected, "past its end, reuse is moot");
    assert!(active(&subject, alice, end).await.is_empty());
    assert_eq!(active(&subject, alice, last_use).await, vec![session]);
}

// ---------------------------------------------------------------------------------------
// Listing and revocation
// ---------------------------------------------------------------------------------------

/// Only the user's own live sessions are listed, most recently used first, ties by id
/// (descending); revoked, idle-expired, absolutely expired and other users' sessions are
/// not.
pub async fn active_lists_the_users_live_sessions_most_recent_first(subject: Subject) {
    let alice = user(&subject).await;
    let bob = user(&subject).await;
    let now = at(Duration::minutes(30));

    let (firefox, _) = start(&subject, alice, at(Duration::ZERO), Some("Firefox/130")).await;
    let (twin, _) = start(&subject, alice, at(Duration::ZERO), Some("curl/8.5")).await;
    let (plain, _) = start(&subject, alice, at(Duration::minutes(1)), None).await;
    let (rotated, token) = start(&subject, alice, at(Duration::ZERO), None).await;
    let used = at(Duration::minutes(5));
    rotate(&subject, &token, used, GRACE).await;
    let rotated = used_at(&rotated, used);
    let (revoked, _) = start(&subject, alice, at(Duration::minutes(2)), None).await;
    assert!(revoke(&subject, alice, &revoked.id).await);
    // Idle since well over an hour before `now`.
    start(&subject, alice, at(-Duration::hours(2)), None).await;
    // Used recently but past its absolute end.
    start_for(
        &subject,
        alice,
        at(Duration::minutes(10)),
        Duration::minutes(15),
        None,
    )
    .await;
    let (bobs, _) = start(&subject, bob, at(Duration::minutes(3)), None).await;

    let (first_twin, second_twin) = if firefox.id > twin.id {
        (firefox, twin)
    } else {
        (twin, firefox)
    };
    assert_eq!(
        active(&subject, alice, now).await,
        vec![rotated, plain, first_twin, second_twin]
    );
    assert_eq!(active(&subject, bob, now).await, vec![bobs]);
    let nobody = user(&subject).await;
    assert!(active(&subject, nobody, now).await.is_empty());
}

/// Revoking one's own session ends it: its tokens are rejected, it is not listed, and a
/// second revocation finds nothing. Other sessions are untouched.
pub async fn revoking_own_session_ends_it(subject: Subject) {
    let alice = user(&subject).await;
    let (ended, ended_token) = start(&subject, alice, at(Duration::ZERO), None).await;
    let (kept, kept_token) = start(&subject, alice, at(Duration::ZERO), None).await;

    assert!(revoke(&subject, alice, &ended.id).await);
    assert!(!revoke(&subject, alice, &ended.id).await, "second time");

    let now = at(Duration::minutes(1));
    let (outcome, _) = rotate(&subject, &ended_token, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rejected);
    let (outcome, _) = rotate(&subject, &kept_token, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&kept, now)));
    assert_eq!(
        active(&subject, alice, now).await,
        vec![used_at(&kept, now)]
    );
}

/// What an access-token check reads: `status` of the session as started, after a
/// rotation (refreshed and used then), after a `touch` (used, not refreshed), and `None`
/// once revoked or for an unknown id. Touching a revoked or unknown session changes
/// nothing and brings nothing back.
pub async fn status_follows_sign_in_refresh_touch_and_revocation(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let status = |last_used, refreshed| SessionStatus {
        user_id: alice,
        last_used_at: last_used,
        refreshed_at: refreshed,
        expires_at: session.expires_at,
    };
    let get = |id: SessionId| {
        let sessions = subject.sessions.clone();
        async move { sessions.status(&id).await.expect("status answered") }
    };
    let signed_in = at(Duration::ZERO);
    assert_eq!(
        get(session.id.clone()).await,
        Some(status(signed_in, signed_in))
    );

    let refreshed = at(Duration::minutes(1));
    let (outcome, _) = rotate(&subject, &first, refreshed, GRACE).await;
    assert!(matches!(outcome, Rotation::Rotated(_)), "{outcome:?}");
    assert_eq!(
        get(session.id.clone()).await,
        Some(status(refreshed, refreshed))
    );

    let used = at(Duration::minutes(50));
    subject
        .sessions
        .touch(&session.id, used)
        .await
        .expect("touched");
    assert_eq!(get(session.id.clone()).await, Some(status(used, refreshed)));
    // The use counts for the idle lifetime: listed past an hour after the refresh.
    let later = at(Duration::minutes(100));
    assert_eq!(
        active(&subject, alice, later)
            .await
            .iter()
            .map(|s| s.last_used_at)
            .collect::<Vec<_>>(),
        vec![used]
    );

    assert!(revoke(&subject, alice, &session.id).await);
    assert_eq!(get(session.id.clone()).await, None);
    subject
        .sessions
        .touch(&session.id, later)
        .await
        .expect("touch of a revoked session answered");
    assert_eq!(get(session.id.clone()).await, None);

    let unknown = SessionId("no-such-session".into());
    subject
        .sessions
        .touch(&unknown, later)
        .await
        .expect("touch of nothing answered");
    assert_eq!(get(unknown).await, None);
}

/// A grace reissue is a refresh too.
pub async fn a_grace_reissue_refreshes_the_session(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let retired = at(Duration::minutes(1));
    rotate(&subject, &first, retired, GRACE).await;
    let again = at(Duration::minutes(1) + Duration::seconds(5));
    let (outcome, _) = rotate(&subject, &first, again, GRACE).await;
    assert!(matches!(outcome, Rotation::GraceReissue(_)), "{outcome:?}");
    let status = subject.sessions.status(&session.id).await.expect("status");
    assert_eq!(
        status.map(|s| (s.last_used_at, s.refreshed_at)),
        Some((again, again))
    );
}

/// Another user's session, or an unknown one, is "not found" and stays valid.
pub async fn revoking_another_users_session_finds_nothing(subject: Subject) {
    let alice = user(&subject).await;
    let mallory = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;

    assert!(!revoke(&subject, mallory, &session.id).await);
    assert!(!revoke(&subject, alice, &SessionId("no-such-session".into())).await);
    assert_eq!(revoke_all(&subject, mallory, None).await, 0);

    let now = at(Duration::minutes(1));
    let (outcome, _) = rotate(&subject, &first, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&session, now)));
}

/// `revoke_all` with a session to keep ends every other session of the user, counts
/// only those it ended, and leaves other users alone.
pub async fn revoke_all_keeps_exactly_the_kept_session(subject: Subject) {
    let alice = user(&subject).await;
    let bob = user(&subject).await;
    let (one, one_token) = start(&subject, alice, at(Duration::ZERO), None).await;
    let (kept, kept_token) = start(&subject, alice, at(Duration::ZERO), None).await;
    let (three, three_token) = start(&subject, alice, at(Duration::ZERO), None).await;
    let (already, _) = start(&subject, alice, at(Duration::ZERO), None).await;
    assert!(revoke(&subject, alice, &already.id).await);
    let (bobs, bobs_token) = start(&subject, bob, at(Duration::ZERO), None).await;

    assert_eq!(revoke_all(&subject, alice, Some(&kept.id)).await, 2);

    let now = at(Duration::minutes(1));
    assert_eq!(active(&subject, alice, now).await, vec![kept.clone()]);
    for token in [&one_token, &three_token] {
        let (outcome, _) = rotate(&subject, token, now, GRACE).await;
        assert_eq!(outcome, Rotation::Rejected);
    }
    let (outcome, _) = rotate(&subject, &kept_token, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&kept, now)));
    let (outcome, _) = rotate(&subject, &bobs_token, now, GRACE).await;
    assert_eq!(outcome, Rotation::Rotated(used_at(&bobs, now)));
    assert!(!revoke(&subject, alice, &one.id).await);
    assert!(!revoke(&subject, alice, &three.id).await);

    assert_eq!(revoke_all(&subject, alice, None).await, 1, "the kept one");
    assert_eq!(revoke_all(&subject, alice, None).await, 0);
    assert!(active(&subject, alice, now).await.is_empty());
    assert_eq!(active(&subject, bob, now).await, vec![used_at(&bobs, now)]);
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

/// Without a grace window, of many simultaneous presentations of one current token
/// exactly one rotates it; the others are reuse (ending the session) or find the session
/// ended. None fails.
pub async fn concurrent_rotations_without_grace_have_one_winner(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let now = at(Duration::minutes(1));

    let outcomes = race(&subject, &first, now, Duration::ZERO).await;
    let rotated: Vec<_> = outcomes
        .iter()
        .filter(|(o, _)| matches!(o, Rotation::Rotated(_)))
        .collect();
    assert_eq!(rotated.len(), 1, "{outcomes:?}");
    assert_eq!(rotated[0].0, Rotation::Rotated(used_at(&session, now)));
    let reused = outcomes
        .iter()
        .filter(|(o, _)| matches!(o, Rotation::Reused(_)))
        .count();
    let rejected = outcomes
        .iter()
        .filter(|(o, _)| *o == Rotation::Rejected)
        .count();
    // Some loser saw the token retired and ended the session; whoever came after found
    // it ended.
    assert!(reused >= 1, "{outcomes:?}");
    assert_eq!(reused + rejected, RACERS - 1, "{outcomes:?}");

    // The reuse ended the session, the winner's successor with it.
    let (outcome, _) = rotate(&subject, &rotated[0].1, now.next_after(), Duration::ZERO).await;
    assert_eq!(outcome, Rotation::Rejected);
    assert!(active(&subject, alice, now).await.is_empty());
}

/// With a grace window, every simultaneous presentation succeeds: one rotation, the rest
/// reissues, and every successor is a valid token afterwards.
pub async fn concurrent_rotations_within_grace_all_succeed(subject: Subject) {
    let alice = user(&subject).await;
    let (session, first) = start(&subject, alice, at(Duration::ZERO), None).await;
    let now = at(Duration::minutes(1));

    let outcomes = race(&subject, &first, now, GRACE).await;
    let rotated = outcomes
        .iter()
        .filter(|(o, _)| *o == Rotation::Rotated(used_at(&session, now)))
        .count();
    let reissued = outcomes
        .iter()
        .filter(|(o, _)| *o == Rotation::GraceReissue(used_at(&session, now)))
        .count();
    assert_eq!((rotated, reissued), (1, RACERS - 1), "{outcomes:?}");

    let successors: HashSet<_> = outcomes.iter().map(|(_, next)| next.0.clone()).collect();
    assert_eq!(successors.len(), RACERS);
    let later = at(Duration::minutes(2));
    for (_, next) in &outcomes {
        let (outcome, _) = rotate(&subject, next, later, GRACE).await;
        assert_eq!(outcome, Rotation::Rotated(used_at(&session, later)));
    }
}
