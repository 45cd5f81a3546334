//! Idempotency records in process memory: the [`IdempotencyStore`] of a single instance,
//! and the reference the other adapters are tested against.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use conduit_domain::{
    StoreError,
    idempotency::{Begin, IdempotencyClaim, IdempotencyKey, StoredResponse},
    ports::IdempotencyStore,
    time::Timestamp,
};

/// One record: the claim's token and fingerprint, when it can be reclaimed (the lease's
/// end while in flight, the retention's end once completed), and the answer once done.
#[derive(Debug, Clone)]
struct Record {
    token: String,
    fingerprint: String,
    expires_at: Timestamp,
    response: Option<StoredResponse>,
}

/// Records by scope and key.
type Records = HashMap<(String, String), Record>;

/// Records by scope and key, behind one lock: a claim looks and writes under it, so of
/// two racing claims only one finds the key free.
#[derive(Debug, Default)]
pub struct MemoryIdempotency {
    records: Mutex<Records>,
}

impl MemoryIdempotency {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> Result<std::sync::MutexGuard<'_, Records>, StoreError> {
        self.records
            .lock()
            .map_err(|_| StoreError::Unexpected("idempotency store lock poisoned".into()))
    }
}

fn id(scope: &str, key: &IdempotencyKey) -> (String, String) {
    (scope.to_owned(), key.as_str().to_owned())
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotency {
    async fn begin(&self, claim: &IdempotencyClaim) -> Result<Begin, StoreError> {
        let mut records = self.records()?;
        // The store has no clock of its own: each claim sweeps out what has expired by
        // its `now`, so forgotten keys do not pile up.
        records.retain(|_, record| claim.now < record.expires_at);
        let id = id(&claim.scope, &claim.key);
        if let Some(record) = records.get(&id) {
            return Ok(match &record.response {
                Some(response) => Begin::Completed {
                    fingerprint: record.fingerprint.clone(),
                    response: response.clone(),
                },
                None => Begin::InFlight {
                    fingerprint: record.fingerprint.clone(),
                    until: record.expires_at,
                },
            });
        }
        records.insert(
            id,
            Record {
                token: claim.token.clone(),
                fingerprint: claim.fingerprint.clone(),
                expires_at: claim.lease_until,
                response: None,
            },
        );
        Ok(Begin::Claimed)
    }

    async fn complete(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
        response: StoredResponse,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut records = self.records()?;
        match records.get_mut(&id(scope, key)) {
            Some(record) if record.token == token && record.response.is_none() => {
                record.response = Some(response);
                record.expires_at = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        token: &str,
    ) -> Result<bool, StoreError> {
        let mut records = self.records()?;
        let id = id(scope, key);
        let held = records
            .get(&id)
            .is_some_and(|record| record.token == token && record.response.is_none());
        if held {
            records.remove(&id);
        }
        Ok(held)
    }
}
