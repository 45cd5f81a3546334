//! Links between provider identities and accounts in process memory: the embedded
//! default's [`IdentityLinks`] when the accounts live in memory too, and the reference
//! the SQL adapter is tested against.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use conduit_domain::{
    StoreError, UserId, identity::IdentityLink, ports::IdentityLinks, time::Timestamp,
};

/// The account of each `(provider, subject)`.
type Links = HashMap<(String, String), UserId>;

/// Every link, behind one lock.
#[derive(Debug, Default)]
pub struct MemoryIdentityLinks {
    links: Mutex<Links>,
}

impl MemoryIdentityLinks {
    /// No links.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Links>, StoreError> {
        self.links
            .lock()
            .map_err(|_| StoreError::Unexpected("identity links lock poisoned".into()))
    }
}

#[async_trait]
impl IdentityLinks for MemoryIdentityLinks {
    async fn user_for(&self, provider: &str, subject: &str) -> Result<Option<UserId>, StoreError> {
        let links = self.lock()?;
        Ok(links
            .get(&(provider.to_owned(), subject.to_owned()))
            .copied())
    }

    async fn link(&self, link: IdentityLink, _at: Timestamp) -> Result<UserId, StoreError> {
        let mut links = self.lock()?;
        // The first link of an identity wins; later ones learn whose it is.
        Ok(*links
            .entry((link.provider, link.subject))
            .or_insert(link.user_id))
    }
}
