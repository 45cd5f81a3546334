//! Knowing, without asking Redis about each entry, that a local copy of a cache entry is
//! still current: Redis server-assisted client-side caching (RESP3 `CLIENT TRACKING` in
//! broadcast mode).
//!
//! A dedicated connection asks Redis to report every change of a key under the cache's
//! tag-version prefix (`P ct:`). Each report moves this instance's *generation* on and
//! records it for the key. A local copy remembers the generation at which it was last
//! known current (sampled before the lookup or store that proved it was sent); it is
//! still current while none of its tags has been reported changed since.
//!
//! # Why a barrier, and why it is cheap
//!
//! A report travels on its own connection. A write acknowledged by another instance has
//! had its report queued by Redis before that acknowledgement, but this instance may not
//! have read it yet when a request arrives. Before a copy is served, [`Tracker::confirm`]
//! sends `CLIENT ID` on the tracking connection and waits for the answer: Redis answers
//! after every report it queued on that connection before, and fred hands reports over
//! in the order they arrive, so once the answer is back every change acknowledged before
//! the request arrived has been recorded. So a copy is served exactly as fresh as a
//! lookup in Redis would be (ADR 0013), without the lookup: one `CLIENT ID` in flight at
//! a time serves every request that arrived before it was sent, however many.
//!
//! # When the connection drops
//!
//! Reports sent while the connection is down are lost. The barrier also compares the
//! connection's id with the one tracking was turned on for: a new connection (fred
//! reconnects on its own) turns tracking on again and moves a *floor* up, below which no
//! copy is trusted, so every copy is proved again by a lookup in Redis. While the
//! connection is down, the barrier fails and every lookup goes to Redis (where it fails
//! too if Redis is down: the cache's callers then read the database). The same floor is
//! moved when reports were dropped (fred's channel overflowed) or the record of reported
//! keys grew past its bound.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use conduit_domain::StoreError;
use fred::{
    interfaces::{ClientInterface, TrackingInterface},
    prelude::Client,
    types::client::Invalidation,
};
use tokio::sync::{Notify, broadcast::error::TryRecvError, watch};

/// The most keys whose last report is remembered; beyond it the record is cleared and
/// the floor moved (every copy is then proved again once).
const REPORTED_KEYS: usize = 100_000;

/// Invalidation reports for the keys under one prefix, and the barrier that makes them
/// complete.
pub(super) struct Tracker {
    client: Client,
    prefix: String,
    state: Mutex<State>,
    /// How many barriers were started; a request waits for one started after it came.
    started: AtomicU64,
    wake: Notify,
    /// The last barrier done: its number and whether it proved the reports complete.
    done: watch::Sender<(u64, bool)>,
    /// How long a barrier may take before the copy is not served.
    timeout: Duration,
}

#[derive(Default)]
struct State {
    generation: u64,
    /// Copies last proved current at a generation below this are not trusted.
    floor: u64,
    /// The generation of each key's latest report.
    reported: HashMap<Vec<u8>, u64>,
    /// The id of the connection tracking is on for.
    tracked_connection: Option<i64>,
}

impl State {
    fn move_floor(&mut self) {
        self.generation += 1;
        self.floor = self.generation;
        self.reported.clear();
    }

    fn apply(&mut self, invalidation: Invalidation) {
        self.generation += 1;
        if self.reported.len() >= REPORTED_KEYS {
            self.move_floor();
        }
        for key in invalidation.keys {
            self.reported
                .insert(key.as_bytes().to_vec(), self.generation);
        }
    }
}

impl Tracker {
    /// Turns tracking on over `client` (a RESP3 connection of its own) for the keys that
    /// start with `prefix`, and starts the task that records reports and runs barriers.
    pub(super) async fn start(
        client: Client,
        prefix: String,
        timeout: Duration,
    ) -> Result<Arc<Tracker>, StoreError> {
        let tracker = Arc::new(Tracker {
            client,
            prefix,
            state: Mutex::default(),
            started: AtomicU64::new(0),
            wake: Notify::new(),
            done: watch::channel((0, false)).0,
            timeout,
        });
        let reports = tracker.client.invalidation_rx();
        tracker.track().await?;
        tokio::spawn(run(Arc::downgrade(&tracker), reports));
        Ok(tracker)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A few numbers and a map, each step leaving them consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The generation now: what a copy proved current by a lookup or store sent after
    /// this call may record.
    pub(super) fn generation(&self) -> u64 {
        self.state().generation
    }

    /// Whether a copy proved current at generation `proved` and depending on the tag
    /// keys `keys` is current now: after a barrier, no report for any of them since, and
    /// the connection unchanged since.
    pub(super) async fn confirm(&self, keys: &[Vec<u8>], proved: u64) -> bool {
        if !self.barrier().await {
            return false;
        }
        let state = self.state();
        state.tracked_connection.is_some()
            && proved >= state.floor
            && keys
                .iter()
                .all(|key| state.reported.get(key).is_none_or(|&at| at <= proved))
    }

    /// Waits for a barrier started after this call; whether it proved every report sent
    /// before it was received.
    async fn barrier(&self) -> bool {
        let after = self.started.load(Ordering::SeqCst);
        let mut done = self.done.subscribe();
        self.wake.notify_one();
        let finished =
            tokio::time::timeout(self.timeout, done.wait_for(|&(number, _)| number > after)).await;
        matches!(finished, Ok(Ok(reached)) if reached.1)
    }

    /// Turns tracking on for the current connection and records which one it is; the
    /// floor moves, so copies proved before are proved again.
    async fn track(&self) -> Result<(), StoreError> {
        let before: i64 = self.client.client_id().await.map_err(super::redis_error)?;
        self.client
            .start_tracking(self.prefix.as_str(), true, false, false, false)
            .await
            .map_err(super::redis_error)?;
        let after: i64 = self.client.client_id().await.map_err(super::redis_error)?;
        let mut state = self.state();
        state.move_floor();
        // A reconnection in between would leave tracking off on `after`.
        state.tracked_connection = (before == after).then_some(after);
        Ok(())
    }

    /// One barrier: the connection's id, then every report that arrived before it.
    async fn run_barrier(
        &self,
        reports: &mut tokio::sync::broadcast::Receiver<Invalidation>,
    ) -> bool {
        let id = tokio::time::timeout(self.timeout, self.client.client_id::<i64>()).await;
        self.drain(reports);
        let tracked = self.state().tracked_connection;
        let current = matches!(id, Ok(Ok(id)) if Some(id) == tracked);
        if !current {
            // Down, or a new connection whose reports of the gap are lost: trust no copy
            // until tracking is on again for the connection there is now.
            {
                let mut state = self.state();
                state.move_floor();
                state.tracked_connection = None;
            }
            // Connected again (the id answered): turn tracking on for this connection.
            if matches!(id, Ok(Ok(_)))
                && let Err(err) = self.track().await
            {
                tracing::debug!(target: "cache", error = %err, "client tracking not restored yet");
            }
        }
        current
    }

    /// Records every report received so far.
    fn drain(&self, reports: &mut tokio::sync::broadcast::Receiver<Invalidation>) {
        loop {
            match reports.try_recv() {
                Ok(report) => self.state().apply(report),
                Err(TryRecvError::Lagged(_)) => self.state().move_floor(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// The id of the tracking connection (tests kill it to check what a drop does).
    #[cfg(test)]
    pub(super) fn connection(&self) -> Option<i64> {
        self.state().tracked_connection
    }
}

/// Records reports as they come and runs barriers when asked, until the tracker is
/// dropped.
async fn run(
    tracker: std::sync::Weak<Tracker>,
    mut reports: tokio::sync::broadcast::Receiver<Invalidation>,
) {
    // Lets go of the tracker now and then, so that dropping it ends this task.
    let mut release = tokio::time::interval(Duration::from_secs(1));
    release.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Some(strong) = tracker.upgrade() else {
            return;
        };
        tokio::select! {
            biased;
            () = strong.wake.notified() => {
                let number = strong.started.fetch_add(1, Ordering::SeqCst) + 1;
                let proved = strong.run_barrier(&mut reports).await;
                strong.done.send_replace((number, proved));
            }
            report = reports.recv() => match report {
                Ok(report) => strong.state().apply(report),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    strong.state().move_floor();
                }
                // The client was dropped: nothing more will come.
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = release.tick() => {}
        }
    }
}
