//! Single-use values in process memory: the [`OneTimeStore`] of a single instance
//! without Redis, and the reference the other adapters are tested against.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use conduit_domain::{StoreError, ports::OneTimeStore, time::Timestamp};

/// Values by key with their expiry, behind one lock: a `take` removes under the lock, so
/// of two racing takes only one finds the value.
#[derive(Debug, Default)]
pub struct MemoryOneTime {
    values: Mutex<HashMap<String, (String, Timestamp)>>,
}

impl MemoryOneTime {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl OneTimeStore for MemoryOneTime {
    async fn put(&self, key: &str, value: String, expires_at: Timestamp) -> Result<(), StoreError> {
        let mut values = self
            .values
            .lock()
            .map_err(|_| StoreError::Unexpected("one-time store lock poisoned".into()))?;
        values.insert(key.to_owned(), (value, expires_at));
        Ok(())
    }

    async fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let mut values = self
            .values
            .lock()
            .map_err(|_| StoreError::Unexpected("one-time store lock poisoned".into()))?;
        // Values nobody came back for would otherwise stay forever; the store has no
        // clock of its own, so each take sweeps out what has expired by its `now`.
        // Pending logins are few and short-lived, so the sweep stays cheap.
        let taken = values.remove(key);
        values.retain(|_, (_, expires_at)| now < *expires_at);
        Ok(taken.and_then(|(value, expires_at)| (now < expires_at).then_some(value)))
    }
}
