//! Password hashing: Argon2id with a pool of working memory (ADR 0017).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{
        self,
        phc::{self, Output, ParamsString, Salt},
    },
};
use async_trait::async_trait;
use conduit_domain::{
    error::BoxError,
    ports::PasswordHasher,
    user::{Password, PasswordHash},
};
use tokio::sync::Semaphore;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Argon2Cost {
    /// OWASP's first recommended Argon2id configuration: 19 MiB, 2 passes, 1 lane.
    pub const RECOMMENDED: Argon2Cost = Argon2Cost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest cost Argon2 accepts. For tests only: it protects nothing.
    pub const INSECURE_FAST: Argon2Cost = Argon2Cost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

/// Argon2id hashing on tokio's blocking pool, at most `permits` hashes at a time so a
/// burst of logins costs bounded memory and leaves the async workers free for other
/// requests.
///
/// Each hash needs `memory_kib` of working memory (19 MiB by default). The hasher keeps
/// one such buffer per permit and reuses it: allocating it per hash let the allocator
/// keep a freed 19 MiB block in each blocking thread's arena, so resident memory grew
/// with the number of threads that had ever hashed (244 MiB seen after a few sign-ups;
/// docs/performance.md). With the pool it is bounded by `permits × memory_kib`, and a
/// buffer no hash has used for [`Argon2Hasher::IDLE_RELEASE`] is given back to the
/// system (see [`MemoryPool`]).
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    memory: Arc<MemoryPool>,
    /// A hash of a random password, verified when there is no account so that an unknown
    /// email costs as much as a wrong password.
    dummy: Arc<String>,
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .field("permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// Argon2 working memory of the configured size, reused across hashes. Holds at most as
/// many buffers as the hasher has permits, so it never holds more than the hashes that
/// can run at once need; a buffer left unused for `idle` is freed.
///
/// Freeing it must give the memory back to the system, which glibc does only for a block
/// it got from `mmap`, and it stops doing so for a size once it has freed one such block:
/// it then raises its mmap threshold to that size (up to 32 MiB) and keeps later blocks
/// in its heap (mallopt(3), "M_MMAP_THRESHOLD"; the reason the pool exists at all). So a
/// pooled buffer reserves [`MemoryPool::RESERVED_BYTES`], above that limit, and uses only
/// the start of it: the pages never touched cost no memory, the block always comes from
/// `mmap`, and freeing it unmaps it.
struct MemoryPool {
    blocks: usize,
    capacity: usize,
    /// Buffers with the moment each was given back.
    free: Mutex<Vec<(Vec<Block>, Instant)>>,
    idle: Duration,
    /// Whether a task is waiting to free idle buffers.
    releasing: AtomicBool,
}

impl MemoryPool {
    /// What a pooled buffer reserves: above glibc's largest dynamic mmap threshold.
    const RESERVED_BYTES: usize = 33 * 1024 * 1024;

    fn take(&self, blocks: usize) -> Vec<Block> {
        if blocks == self.blocks {
            if let Some((buffer, _)) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                return buffer;
            }
            let reserved = (Self::RESERVED_BYTES / size_of::<Block>()).max(blocks);
            let mut buffer = Vec::with_capacity(reserved);
            buffer.resize(blocks, Block::default());
            return buffer;
        }
        vec![Block::default(); blocks]
    }

    /// Keeps `buffer` for the next hash if it has the configured size and the pool is not
    /// full; otherwise frees it (a stored hash with other parameters, being verified).
    fn give_back(&self, buffer: Vec<Block>) {
        if buffer.len() != self.blocks {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.capacity {
            free.push((buffer, Instant::now()));
        }
    }

    /// Frees the buffers unused for `idle`; how long until the next one kept is idle
    /// (`None`: none is left).
    fn release_idle(&self) -> Option<Duration> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.retain(|(_, since)| since.elapsed() < self.idle);
        free.iter()
            .map(|(_, since)| self.idle.saturating_sub(since.elapsed()))
            .min()
    }

    /// After a hash: makes sure a task will free the pool's buffers once they are idle.
    /// Outside a runtime (a hasher made before one runs) the buffer waits for the next
    /// hash.
    fn schedule_release(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.releasing.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = Arc::clone(self);
        runtime.spawn(async move {
            let mut wait = pool.idle;
            loop {
                tokio::time::sleep(wait).await;
                if let Some(next) = pool.release_idle() {
                    wait = next;
                    continue;
                }
                pool.releasing.store(false, Ordering::Release);
                // A buffer given back meanwhile saw the flag still set and left its
                // release to this task.
                if pool.pooled() == 0 || pool.releasing.swap(true, Ordering::AcqRel) {
                    return;
                }
                wait = pool.idle;
            }
        });
    }

    fn pooled(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Output length of new hashes (the PHC default of the Argon2 crate).
const HASH_LEN: usize = 32;
/// Salt length of new hashes (the length the PHC string format recommends).
const SALT_LEN: usize = 16;

impl Argon2Hasher {
    /// How long a working-memory buffer is kept with no hash using it. Logins further
    /// apart than this each map and touch their 19 MiB again (measured: a login 3 s
    /// after the last took ~29 ms instead of ~21 ms); closer ones reuse the buffer
    /// (ADR 0017).
    pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

    /// A hasher with `cost`, running at most `concurrency` hashes at once.
    pub fn new(cost: Argon2Cost, concurrency: usize) -> Result<Self, BoxError> {
        Self::with_idle_release(cost, concurrency, Self::IDLE_RELEASE)
    }

    /// A hasher whose idle working memory is freed after `idle`.
    fn with_idle_release(
        cost: Argon2Cost,
        concurrency: usize,
        idle: Duration,
    ) -> Result<Self, BoxError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
        let concurrency = concurrency.max(1);
        let memory = Arc::new(MemoryPool {
            blocks: params.block_count(),
            capacity: concurrency,
            free: Mutex::new(Vec::new()),
            idle,
            releasing: AtomicBool::new(false),
        });
        let dummy_secret: [u8; 16] = rand::random();
        let dummy = hash_new(&params, &memory, &dummy_secret)?;
        memory.schedule_release();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            memory,
            dummy: Arc::new(dummy),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Params, &MemoryPool) -> T + Send + 'static,
    ) -> Result<T, BoxError> {
        let _permit = self.permits.acquire().await?;
        let params = self.params.clone();
        let memory = Arc::clone(&self.memory);
        let done = tokio::task::spawn_blocking(move || work(&params, &memory)).await?;
        self.memory.schedule_release();
        Ok(done)
    }
}

/// Computes the raw Argon2 output of `password` under `salt` into `out`, with working
/// memory from `pool`.
fn compute(
    argon: &Argon2<'_>,
    pool: &MemoryPool,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), BoxError> {
    let mut memory = pool.take(argon.params().block_count());
    let result = argon.hash_password_into_with_memory(password, salt, out, &mut memory[..]);
    pool.give_back(memory);
    result.map_err(|e| format!("argon2: {e}").into())
}

/// A new PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) for `password` with a random
/// salt.
fn hash_new(params: &Params, pool: &MemoryPool, password: &[u8]) -> Result<String, BoxError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt_bytes: [u8; SALT_LEN] = rand::random();
    let mut out = [0u8; HASH_LEN];
    compute(&argon, pool, password, &salt_bytes, &mut out)?;
    let phc_error = |e: phc::Error| format!("argon2: {e}");
    let hash = argon2::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| format!("argon2: {e}"))?,
        salt: Some(Salt::new(&salt_bytes).map_err(phc_error)?),
        hash: Some(Output::new(&out).map_err(phc_error)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, whose own parameters are used (a
/// hash stored under an older cost still verifies). The comparison is constant-time.
fn verify_stored(pool: &MemoryPool, password: &[u8], stored: &str) -> Result<bool, BoxError> {
    let parsed = argon2::PasswordHash::new(stored).map_err(|e| format!("argon2: {e}"))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err("argon2: the stored hash has no salt or output".into());
    };
    let bad = |e: password_hash::Error| format!("argon2: {e}");
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(bad)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| format!("argon2: {e}"))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(bad)?;
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    compute(&argon, pool, password, salt, &mut out)?;
    let computed = Output::new(&out).map_err(|e| format!("argon2: {e}"))?;
    // `Output`'s equality is constant-time.
    Ok(computed == *expected)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, BoxError> {
        let clear = password.expose().to_owned();
        let phc = self
            .blocking(move |params, pool| hash_new(params, pool, clear.as_bytes()))
            .await??;
        Ok(PasswordHash::new(phc))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, BoxError> {
        let clear = password.expose().to_owned();
        let known = hash.is_some();
        let phc = hash.map_or_else(|| self.dummy.as_str().to_owned(), |h| h.as_str().to_owned());
        let matched = self
            .blocking(move |_, pool| verify_stored(pool, clear.as_bytes(), &phc))
            .await??;
        Ok(matched && known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2_hashes_verify_and_unknown_accounts_never_match() {
        let hasher = Argon2Hasher::new(Argon2Cost::INSECURE_FAST, 2).expect("hasher");
        let password = Password::new_secret("correct horse").expect("valid");
        let hash = hasher.hash(&password).await.expect("hashed");
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(
            hasher
                .verify(&password, Some(&hash))
                .await
                .expect("verified")
        );
        let wrong = Password::presented("wrong horse").expect("valid");
        assert!(!hasher.verify(&wrong, Some(&hash)).await.expect("verified"));
        assert!(!hasher.verify(&password, None).await.expect("verified"));
    }

    /// The pooled computation must give exactly what the Argon2 crate's own PHC hashing
    /// and verification give, whatever a previous hash left in the reused memory.
    #[tokio::test]
    async fn pooled_memory_agrees_with_the_reference_implementation() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let cost = Argon2Cost {
            memory_kib: 64,
            iterations: 2,
            parallelism: 1,
        };
        let hasher = Argon2Hasher::new(cost, 1).expect("hasher");
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 2, 1, None).expect("params"),
        );
        for round in 0..3 {
            let clear = format!("password number {round}");
            let password = Password::new_secret(&clear).expect("valid");
            // Ours, verified by the reference.
            let ours = hasher.hash(&password).await.expect("hashed");
            let parsed = argon2::PasswordHash::new(ours.as_str()).expect("PHC string");
            assert!(reference.verify_password(clear.as_bytes(), &parsed).is_ok());
            assert!(reference.verify_password(b"other", &parsed).is_err());
            // The reference's, verified by ours (with dirty pooled memory).
            let theirs = reference.hash_password(clear.as_bytes()).expect("hashed");
            let theirs = PasswordHash::new(theirs.to_string());
            assert!(hasher.verify(&password, Some(&theirs)).await.expect("ok"));
            let wrong = Password::presented("other").expect("valid");
            assert!(!hasher.verify(&wrong, Some(&theirs)).await.expect("ok"));
        }
        assert_eq!(hasher.memory.pooled(), 1, "one buffer per permit, reused");
    }

    /// Working memory no hash has used for the idle time is freed; memory in use, or used
    /// within it, is kept; hashing after a release works with a new buffer.
    #[tokio::test]
    async fn idle_working_memory_is_freed() {
        let cost = Argon2Cost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let idle = Duration::from_millis(300);
        let hasher = Argon2Hasher::with_idle_release(cost, 1, idle).expect("hasher");
        let password = Password::new_secret("correct horse").expect("valid");
        let stored = hasher.hash(&password).await.expect("hashed");
        // Kept while hashes keep coming within the idle time.
        for _ in 0..4 {
            tokio::time::sleep(idle / 3).await;
            assert!(hasher.verify(&password, Some(&stored)).await.expect("ok"));
            assert_eq!(hasher.memory.pooled(), 1, "freed while in use");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while hasher.memory.pooled() > 0 {
            assert!(Instant::now() < deadline, "idle memory was never freed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!hasher.memory.releasing.load(Ordering::Acquire));
        // A hash after the release gets a new buffer, and that one is freed in turn.
        assert!(hasher.verify(&password, Some(&stored)).await.expect("ok"));
        assert_eq!(hasher.memory.pooled(), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while hasher.memory.pooled() > 0 {
            assert!(
                Instant::now() < deadline,
                "the second buffer was never freed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A pooled buffer reserves more than glibc's largest dynamic mmap threshold, so
    /// freeing it unmaps it; a buffer for another cost is exactly its size.
    #[test]
    fn pooled_buffers_reserve_past_the_mmap_threshold() {
        let pool = MemoryPool {
            blocks: 64,
            capacity: 1,
            free: Mutex::new(Vec::new()),
            idle: Duration::from_secs(1),
            releasing: AtomicBool::new(false),
        };
        let pooled = pool.take(64);
        assert_eq!(pooled.len(), 64);
        assert!(pooled.capacity() * size_of::<Block>() > 32 * 1024 * 1024);
        assert_eq!(pool.take(8).capacity(), 8);
    }

    /// A hash stored under another cost verifies with that cost, and its memory is not
    /// kept (the pool only keeps buffers of the configured size).
    #[tokio::test]
    async fn hashes_under_another_cost_still_verify() {
        let old = Argon2Hasher::new(Argon2Cost::INSECURE_FAST, 1).expect("hasher");
        let password = Password::new_secret("correct horse").expect("valid");
        let stored = old.hash(&password).await.expect("hashed");
        let current = Argon2Hasher::new(
            Argon2Cost {
                memory_kib: 64,
                iterations: 2,
                parallelism: 1,
            },
            2,
        )
        .expect("hasher");
        assert!(current.verify(&password, Some(&stored)).await.expect("ok"));
        assert_eq!(
            current.memory.pooled(),
            1,
            "only the configured size is pooled"
        );
        let garbage = PasswordHash::new("$argon2id$not-a-hash".to_owned());
        assert!(current.verify(&password, Some(&garbage)).await.is_err());
    }
}
