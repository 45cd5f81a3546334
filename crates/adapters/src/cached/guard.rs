//! The cache behind its guard: time limits on every operation, skipping a failing
//! cache for a while, retiring every entry after a lost invalidation, and counting
//! lookups.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use conduit_domain::{
    StoreError,
    cache::{CacheLookup, CacheTicket, EPOCH_TAG},
    ports::Cache,
};
use opentelemetry::{KeyValue, metrics::Counter};
use serde::{Serialize, de::DeserializeOwned};

use super::{CacheSettings, keys::FORMAT};

/// How often a cache that keeps failing is reported.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The name of the lookup counter.
pub const CACHE_LOOKUPS: &str = "conduit.cache.lookups";

/// The outcome of one lookup, as counted in [`CACHE_LOOKUPS`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Lookup {
    Hit,
    Miss,
    Error,
}

impl Lookup {
    fn name(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Error => "error",
        }
    }
}

/// The cache, with the bookkeeping that lets the API keep serving when it fails.
pub(super) struct Guard {
    cache: Arc<dyn Cache>,
    settings: CacheSettings,
    state: Mutex<GuardState>,
    lookups: Counter<u64>,
    flights: Flights,
}

/// The loads in flight in this process, by key (see [`Guard::lookup_coalesced`]).
type Flights = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The turn of the one request of this process that loads a key; concurrent misses of
/// the key wait until it is dropped (after the value is stored).
pub(super) struct Flight<'a> {
    flights: &'a Flights,
    key: String,
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if let Some(turn) = self.turn.take() {
            let flight = tokio::sync::OwnedMutexGuard::mutex(&turn).clone();
            drop(turn);
            release(self.flights, &self.key, flight);
        }
    }
}

/// Forgets the key's flight when nobody else holds it (the map and `flight` are the only
/// holders): the map keeps only keys being loaded or waited for.
fn release(flights: &Flights, key: &str, flight: Arc<tokio::sync::Mutex<()>>) {
    let mut flights = flights
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if flights
        .get(key)
        .is_some_and(|held| Arc::ptr_eq(held, &flight) && Arc::strong_count(held) == 2)
    {
        flights.remove(key);
    }
}

#[derive(Default)]
struct GuardState {
    /// While set and in the future, the cache is skipped.
    skip_until: Option<Instant>,
    /// An invalidation was lost: retire every entry before trusting the cache again.
    untrusted: bool,
    /// The last operation failed.
    failing: bool,
    /// When the failure was last logged.
    last_warned: Option<Instant>,
}

impl Guard {
    pub(super) fn new(cache: Arc<dyn Cache>, settings: CacheSettings) -> Self {
        Guard {
            cache,
            settings,
            state: Mutex::new(GuardState::default()),
            // From the meter provider installed at start-up (made after it, never before).
            lookups: opentelemetry::global::meter("conduit-adapters")
                .u64_counter(CACHE_LOOKUPS)
                .with_unit("{lookup}")
                .with_description("Read-through cache lookups, by result.")
                .build(),
            flights: Mutex::default(),
        }
    }

    pub(super) fn count(&self, lookup: Lookup) {
        self.lookups
            .add(1, &[KeyValue::new("result", lookup.name())]);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GuardState> {
        // The state is a few flags, always left consistent: a panic elsewhere while the
        // lock was held cannot have broken it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn degraded(&self) -> bool {
        self.state().failing
    }

    /// Runs one cache operation under the time limit, recording its outcome.
    async fn run<T>(
        &self,
        what: &'static str,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Option<T> {
        let outcome = match tokio::time::timeout(self.settings.op_timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.settings.op_timeout)),
        };
        match outcome {
            Ok(value) => {
                self.succeeded();
                Some(value)
            }
            Err(reason) => {
                self.failed(what, &reason);
                None
            }
        }
    }

    fn succeeded(&self) {
        let mut state = self.state();
        if state.failing {
            state.failing = false;
            state.last_warned = None;
            tracing::info!(target: "cache", "the cache answers again; using it");
        }
    }

    fn failed(&self, what: &str, reason: &str) {
        let now = Instant::now();
        let mut state = self.state();
        state.failing = true;
        state.skip_until = Some(now + self.settings.retry_after);
        if state
            .last_warned
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY)
        {
            state.last_warned = Some(now);
            tracing::warn!(target: "cache", operation = what, error = reason,
                retry_in_seconds = self.settings.retry_after.as_secs(),
                "cache unavailable: reading from the database (logged once a minute while it lasts)");
        }
    }

    /// Whether the cache may be used now; retires every entry first if an invalidation
    /// was lost.
    async fn usable(&self) -> bool {
        let untrusted = {
            let state = self.state();
            if state.skip_until.is_some_and(|until| Instant::now() < until) {
                return false;
            }
            state.untrusted
        };
        if !untrusted {
            return true;
        }
        let epoch = [EPOCH_TAG.to_owned()];
        if self
            .run("invalidate", self.cache.invalidate(&epoch))
            .await
            .is_some()
        {
            self.state().untrusted = false;
            tracing::info!(target: "cache", "retired every cache entry after lost invalidations");
            true
        } else {
            false
        }
    }

    pub(super) async fn invalidate(&self, tags: &[String]) {
        let delivered = self.usable().await
            && self
                .run("invalidate", self.cache.invalidate(tags))
                .await
                .is_some();
        if !delivered {
            self.state().untrusted = true;
        }
    }

    /// Looks `key` up: the bytes on a hit; on a miss, the ticket to store a fresh value
    /// with (none when the cache is failing or skipped: then nothing is stored).
    pub(super) async fn lookup(&self, key: &str) -> Result<Vec<u8>, Option<CacheTicket>> {
        if !self.usable().await {
            self.count(Lookup::Error);
            return Err(None);
        }
        match self.run("get", self.cache.get(key)).await {
            Some(CacheLookup::Hit(bytes)) => Ok(bytes),
            Some(CacheLookup::Miss(ticket)) => {
                self.count(Lookup::Miss);
                Err(Some(ticket))
            }
            None => {
                self.count(Lookup::Error);
                Err(None)
            }
        }
    }

    /// [`Guard::lookup`], with concurrent misses of one key coalesced: the first miss
    /// gets the ticket and the key's [`Flight`], and loads; a miss of the same key while
    /// that load is in flight waits for it, then looks the key up again: a hit when the
    /// load was stored, else a miss with a ticket of its own (so an invalidation during
    /// the first load, which refuses its store, makes the waiters load again: exact, as
    /// without coalescing). When the cache is not usable nothing would be stored, and
    /// nothing is coalesced.
    ///
    /// A write retires a popular page and every request for it then misses at once;
    /// coalesced, one of them reads the database.
    pub(super) async fn lookup_coalesced(
        &self,
        key: &str,
    ) -> Result<Vec<u8>, (Option<CacheTicket>, Option<Flight<'_>>)> {
        let ticket = match self.lookup(key).await {
            Ok(bytes) => return Ok(bytes),
            Err(None) => return Err((None, None)),
            Err(Some(ticket)) => ticket,
        };
        let flight = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone();
        if let Ok(turn) = flight.clone().try_lock_owned() {
            return Err((
                Some(ticket),
                Some(Flight {
                    flights: &self.flights,
                    key: key.to_owned(),
                    turn: Some(turn),
                }),
            ));
        }
        drop(flight.clone().lock_owned().await);
        release(&self.flights, key, flight);
        self.lookup(key).await.map_err(|ticket| (ticket, None))
    }

    /// Offers `bytes` to the cache under the ticket of the miss that preceded its load.
    pub(super) async fn store(
        &self,
        key: &str,
        tags: &[String],
        bytes: &[u8],
        ticket: &CacheTicket,
    ) {
        let ttl = self.settings.ttl;
        self.run("put", self.cache.put(key, tags, bytes, ticket, ttl))
            .await;
    }

    /// The value under `key` from the cache, or from `load`, then stored under the tags
    /// `depends` names for it (nothing is stored when it names none: `None`).
    pub(super) async fn read_through<T, F, Fut>(
        &self,
        key: String,
        depends: impl FnOnce(&T) -> Option<Vec<String>>,
        load: F,
    ) -> Result<T, StoreError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let key = format!("{FORMAT}:{key}");
        // `_flight` is held until the value is stored: concurrent misses wait for it.
        let (ticket, _flight) = match self.lookup_coalesced(&key).await {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(value) => {
                    self.count(Lookup::Hit);
                    return Ok(value);
                }
                Err(err) => {
                    tracing::debug!(target: "cache", %key, error = %err, "unreadable entry, reloading");
                    self.count(Lookup::Error);
                    (None, None)
                }
            },
            Err(miss) => miss,
        };
        let value = load().await?;
        if let Some(ticket) = ticket
            && let Some(tags) = depends(&value)
            && let Ok(bytes) = serde_json::to_vec(&value)
        {
            self.store(&key, &tags, &bytes, &ticket).await;
        }
        Ok(value)
    }
}
