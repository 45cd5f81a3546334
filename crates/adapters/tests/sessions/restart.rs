//! Sessions and a restart of the Redis that holds them (ADR 0030): with the persistence
//! the deployment files give that Redis (an append-only file, `appendfsync always` here
//! so that a kill loses nothing), a session started and refreshed before the restart is
//! still live after it, its current refresh token still rotates, and the adapter
//! reconnects and reloads its scripts by itself. The same run without persistence is the
//! control: the session is gone, which is what signed everybody out before.
//!
//! Each case starts a `redis-server` of its own on a free loopback port, in a temporary
//! directory, and kills it with SIGKILL (a crash, not a clean shutdown). Without
//! `redis-server` on the PATH the test is skipped with a notice, except under CI.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use conduit_adapters::{crypto::RandomRefreshTokens, redis::RedisSessions};
use conduit_domain::{
    UserId,
    ports::{RefreshTokens, SessionStore},
    session::{NewSession, RefreshTokenHash, Rotation, RotationRules, SessionId},
    time::Timestamp,
};
use time::OffsetDateTime;

/// A `redis-server` process; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Starts `redis-server` on `port` with its files in `dir`, persisting to an
    /// append-only file when `persist`; returns once it answers.
    fn start(port: u16, dir: &Path, persist: bool) -> Server {
        let appendonly = if persist { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &dir.display().to_string(), "--save", ""])
            .args(["--appendonly", appendonly, "--appendfsync", "always"])
            .args(["--maxmemory-policy", "noeviction"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// SIGKILL, as a crash or an OOM kill would.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `redis-server` can run here; under CI it must.
pub fn redis_server_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "under CI, redis-server must be on the PATH for the restart and failover tests"
        );
        eprintln!("skipped: no redis-server on the PATH");
    }
    found
}

/// A session started and refreshed once before an outage of its Redis.
pub struct Refreshed {
    pub id: SessionId,
    /// The first token, retired by the refresh.
    retired: RefreshTokenHash,
    /// The token the refresh gave, current.
    current: RefreshTokenHash,
    /// When it started.
    pub now: OffsetDateTime,
}

impl Refreshed {
    /// Starts a session of user 7 that lives a day, and refreshes it once.
    pub async fn start(sessions: &RedisSessions, user_agent: &str) -> Refreshed {
        let now = OffsetDateTime::now_utc();
        let (_, first) = RandomRefreshTokens.generate();
        let id = RandomRefreshTokens.new_session_id();
        sessions
            .start(NewSession {
                id: id.clone(),
                user_id: UserId(7),
                user_agent: Some(user_agent.into()),
                created_at: Timestamp::new(now),
                expires_at: Timestamp::new(now + time::Duration::days(1)),
                first_token: first.clone(),
            })
            .await
            .expect("started");
        let session = Refreshed {
            id,
            retired: first,
            current: RandomRefreshTokens.generate().1,
            now,
        };
        let rotated = sessions
            .rotate(&session.retired, session.current.clone(), session.rules(1))
            .await
            .expect("rotated");
        assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");
        session
    }

    /// The rules `seconds` after the start: no grace window, an hour of idle lifetime.
    fn rules(&self, seconds: i64) -> RotationRules {
        RotationRules {
            now: Timestamp::new(self.now + time::Duration::seconds(seconds)),
            grace: time::Duration::ZERO,
            idle: time::Duration::hours(1),
        }
    }

    /// After the outage: the current token rotates (a write, retried for up to 20 s
    /// while the client finds its server again), and the retired one is still known as
    /// retired, so presenting it again is a reuse, which ends the session.
    pub async fn continues(&self, sessions: &RedisSessions) {
        let (_, next) = RandomRefreshTokens.generate();
        let deadline = Instant::now() + Duration::from_secs(20);
        let again = loop {
            match sessions
                .rotate(&self.current, next.clone(), self.rules(2))
                .await
            {
                Ok(outcome) => break outcome,
                Err(err) => {
                    assert!(Instant::now() < deadline, "never reached the server: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        assert!(matches!(again, Rotation::Rotated(_)), "{again:?}");
        let (_, other) = RandomRefreshTokens.generate();
        let reused = sessions
            .rotate(&self.retired, other, self.rules(3))
            .await
            .expect("answered");
        assert!(matches!(reused, Rotation::Reused(_)), "{reused:?}");
    }
}

/// Starts a session, refreshes it once, restarts Redis (with or without persistence)
/// and returns whether the session is live afterwards; when it is, also checks that its
/// current token still rotates (the scripts are loaded again after the restart).
async fn session_after_restart(persist: bool) -> bool {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("conduit-redis-restart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let server = Server::start(port, &dir, persist);
    let sessions = RedisSessions::connect(&format!("redis://127.0.0.1:{port}"), "restart:")
        .await
        .expect("connected");
    let session = Refreshed::start(&sessions, "restart test").await;

    server.kill();
    let _restarted = Server::start(port, &dir, persist);
    // The client reconnects by itself (exponential back-off up to 5 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        match sessions.status(&session.id).await {
            Ok(status) => break status,
            Err(err) => {
                assert!(Instant::now() < deadline, "never reconnected: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let live = status.is_some_and(|s| {
        s.user_id == UserId(7)
            && s.expires_at == Timestamp::new(session.now + time::Duration::days(1))
    });
    if live {
        session.continues(&sessions).await;
    }
    drop(_restarted);
    let _ = std::fs::remove_dir_all(&dir);
    live
}

#[tokio::test]
async fn a_session_survives_a_crash_of_a_persistent_redis() {
    if !redis_server_available() {
        return;
    }
    assert!(session_after_restart(true).await, "the session was lost");
}

#[tokio::test]
async fn without_persistence_a_crash_loses_the_session() {
    if !redis_server_available() {
        return;
    }
    assert!(
        !session_after_restart(false).await,
        "the session survived without persistence: the other case proves nothing"
    );
}
