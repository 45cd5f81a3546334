//! API key metadata in process memory: the store of the embedded default without a
//! database, and the reference the SQL store is tested against.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{Mutex, MutexGuard},
};

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId,
    api_key::{ApiKey, ApiKeyId},
    ports::ApiKeyStore,
    time::Timestamp,
};

/// Every key's metadata, by id, behind one lock.
#[derive(Debug, Default)]
pub struct MemoryApiKeys {
    keys: Mutex<HashMap<ApiKeyId, ApiKey>>,
}

impl MemoryApiKeys {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, HashMap<ApiKeyId, ApiKey>>, StoreError> {
        self.keys
            .lock()
            .map_err(|_| StoreError::Unexpected("API key store lock poisoned".into()))
    }
}

/// Newest first; ties by id, descending, so the order is total and the same in every
/// store.
pub(crate) fn newest_first(keys: &mut [ApiKey]) {
    keys.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
}

#[async_trait]
impl ApiKeyStore for MemoryApiKeys {
    async fn create(&self, key: ApiKey) -> Result<(), StoreError> {
        match self.lock()?.entry(key.id.clone()) {
            // Ids are random and never reused; a clash is a bug, reported as the SQL
            // store's primary key violation is.
            Entry::Occupied(_) => Err(StoreError::Unexpected(
                format!("API key id {} already exists", key.id).into(),
            )),
            Entry::Vacant(slot) => {
                slot.insert(key);
                Ok(())
            }
        }
    }

    async fn get(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.lock()?.get(id).cloned())
    }

    async fn list(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .lock()?
            .values()
            .filter(|k| k.user_id == user)
            .cloned()
            .collect();
        newest_first(&mut keys);
        Ok(keys)
    }

    async fn revoke(&self, user: UserId, id: &ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
        match self.lock()?.get_mut(id) {
            Some(key) if key.user_id == user && key.revoked_at.is_none() => {
                key.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
