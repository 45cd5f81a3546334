//! Sessions and a failover of the Redis that holds them, behind Sentinel (ADR 0030, ADR
//! 0031): a session started and refreshed on the primary, once its replica has the
//! writes, is live on the replica after Sentinel promotes it; the adapter follows the
//! promotion by itself (fred asks the Sentinel for the new primary when its connection
//! is closed) and its current refresh token rotates there, a write the new primary takes.
//!
//! The test starts its own primary, replica and Sentinel on free loopback ports with
//! `tools/redis-cluster/sentinel.sh`, and stops them afterwards. Without `redis-server`
//! it is skipped with a notice, except under CI.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use conduit_adapters::redis::RedisSessions;
use conduit_domain::ports::SessionStore;

/// The script that starts and stops the servers.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/redis-cluster/sentinel.sh")
}

/// A primary, its replica and a Sentinel; stopped when dropped.
struct Group {
    dir: PathBuf,
    base: u16,
}

impl Group {
    fn start() -> Group {
        let dir = std::env::temp_dir().join(format!("conduit-sentinel-{}", uuid::Uuid::new_v4()));
        // Three consecutive ports from a range the other tests and CI's servers do not
        // use; a clash is retried on another block.
        for attempt in 0..20u32 {
            let block = (std::process::id() + attempt * 7) % 1_900;
            let base = 54_000 + u16::try_from(block * 3).expect("below 5,700");
            let free = (base..base + 3)
                .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
            if !free {
                continue;
            }
            let out = Command::new(script())
                .arg(base.to_string())
                .arg(&dir)
                .output()
                .expect("sentinel.sh runs");
            assert!(
                out.status.success(),
                "sentinel.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return Group { dir, base };
        }
        panic!("no three free ports for the Sentinel group");
    }

    fn url(&self) -> String {
        format!(
            "redis-sentinel://127.0.0.1:{}?sentinelServiceName=conduit",
            self.base + 2
        )
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A field of `INFO replication` on `port`.
    fn replication(&self, port: u16, field: &str) -> Option<u64> {
        self.cli(port, &["info", "replication"])
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .and_then(|value| value.trim().parse().ok())
    }

    /// Waits until the replica has every write the primary took so far.
    fn wait_for_replica(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let written = self
            .replication(self.base, "master_repl_offset")
            .expect("the primary's offset");
        while self
            .replication(self.base + 1, "slave_repl_offset")
            .is_none_or(|applied| applied < written)
        {
            assert!(Instant::now() < deadline, "the replica never caught up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port of the primary the Sentinel names now.
    fn primary(&self) -> Option<u16> {
        self.cli(
            self.base + 2,
            &["sentinel", "get-master-addr-by-name", "conduit"],
        )
        .lines()
        .nth(1)
        .and_then(|port| port.trim().parse().ok())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("--stop").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_replicated_session_survives_a_sentinel_failover() {
    if !super::restart::redis_server_available() {
        return;
    }
    let group = Group::start();
    let sessions = RedisSessions::connect(&group.url(), "failover:")
        .await
        .expect("connected through the Sentinel");
    let session = super::restart::Refreshed::start(&sessions, "failover test").await;

    group.wait_for_replica();
    assert_eq!(group.primary(), Some(group.base));
    let reply = group.cli(group.base + 2, &["sentinel", "failover", "conduit"]);
    assert!(reply.trim() == "OK", "SENTINEL FAILOVER: {reply}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while group.primary() != Some(group.base + 1) {
        assert!(Instant::now() < deadline, "the replica was never promoted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The current token rotates: a write, which only the new primary takes.
    session.continues(&sessions).await;
    let status = sessions.status(&session.id).await.expect("read");
    assert!(status.is_none(), "the reuse ended the session: {status:?}");
}
