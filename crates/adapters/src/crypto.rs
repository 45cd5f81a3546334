//! Password hashing (Argon2id) and access tokens (JWT, HS256).

use std::sync::{Arc, Mutex};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{
        self,
        phc::{self, Output, ParamsString, Salt},
    },
};
use async_trait::async_trait;
use conduit_domain::{
    UserId,
    error::{AuthFailure, BoxError},
    ports::{AccessClaims, PasswordHasher, TokenService},
    session::SessionId,
    time::Timestamp,
    user::{Password, PasswordHash},
};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
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
/// docs/performance.md). With the pool it is bounded by `permits × memory_kib`.
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
/// can run at once need.
struct MemoryPool {
    blocks: usize,
    capacity: usize,
    free: Mutex<Vec<Box<[Block]>>>,
}

impl MemoryPool {
    fn take(&self, blocks: usize) -> Box<[Block]> {
        if blocks == self.blocks
            && let Some(buffer) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()
        {
            return buffer;
        }
        vec![Block::default(); blocks].into_boxed_slice()
    }

    /// Keeps `buffer` for the next hash if it has the configured size and the pool is not
    /// full; otherwise frees it (a stored hash with other parameters, being verified).
    fn give_back(&self, buffer: Box<[Block]>) {
        if buffer.len() != self.blocks {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.capacity {
            free.push(buffer);
        }
    }

    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Output length of new hashes (the PHC default of the Argon2 crate).
const HASH_LEN: usize = 32;
/// Salt length of new hashes (the length the PHC string format recommends).
const SALT_LEN: usize = 16;

impl Argon2Hasher {
    /// A hasher with `cost`, running at most `concurrency` hashes at once.
    pub fn new(cost: Argon2Cost, concurrency: usize) -> Result<Self, BoxError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
        let concurrency = concurrency.max(1);
        let memory = Arc::new(MemoryPool {
            blocks: params.block_count(),
            capacity: concurrency,
            free: Mutex::new(Vec::new()),
        });
        let dummy_secret: [u8; 16] = rand::random();
        let dummy = hash_new(&params, &memory, &dummy_secret)?;
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
        Ok(tokio::task::spawn_blocking(move || work(&params, &memory)).await?)
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

/// Settings of issued access tokens.
#[derive(Clone)]
pub struct JwtSettings {
    /// Verification keys by key id (`kid`); each at least 32 bytes. Tokens signed with
    /// any of them verify, so the signing key can rotate without logging anyone out.
    pub keys: Vec<(String, Vec<u8>)>,
    /// The key id new tokens are signed with; must be one of `keys`.
    pub signing_kid: String,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// How long a token stays usable once a refresh of its session has superseded it, in
    /// seconds (its freshness window). A token nobody superseded lives as long as its
    /// session (ADR 0009).
    pub ttl_seconds: u64,
}

impl JwtSettings {
    /// One key, id `primary`: the common single-key set-up.
    pub fn single_key(secret: Vec<u8>, issuer: &str, audience: &str, ttl_seconds: u64) -> Self {
        Self {
            keys: vec![("primary".into(), secret)],
            signing_kid: "primary".into(),
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_seconds,
        }
    }
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("JwtSettings")
            .field("keys", &kids)
            .field("signing_kid", &self.signing_kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    jti: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: String,
}

/// HS256-signed JWT access tokens with a `kid` header. Only HS256 is accepted on
/// verification, so a token claiming `alg: none` or an asymmetric algorithm is rejected,
/// and a token without a known `kid` is rejected before any signature check.
#[derive(Clone)]
pub struct JwtTokens {
    signing: (String, EncodingKey),
    verifying: Arc<std::collections::HashMap<String, DecodingKey>>,
    validation: Validation,
    settings: Arc<JwtSettings>,
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokens")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl JwtTokens {
    /// Shortest accepted HMAC key, in bytes (the HS256 output size).
    pub const MIN_SECRET_LEN: usize = 32;

    /// Tokens signed with the `signing_kid` key. Fails on a key shorter than 32 bytes,
    /// a duplicate key id, or a signing key id that is not among the keys.
    pub fn new(settings: JwtSettings) -> Result<Self, BoxError> {
        let mut verifying = std::collections::HashMap::new();
        for (kid, secret) in &settings.keys {
            if secret.len() < Self::MIN_SECRET_LEN {
                return Err(format!(
                    "the token key {kid:?} must be at least {} bytes",
                    Self::MIN_SECRET_LEN
                )
                .into());
            }
            if verifying
                .insert(kid.clone(), DecodingKey::from_secret(secret))
                .is_some()
            {
                return Err(format!("the token key id {kid:?} is used twice").into());
            }
        }
        let signing_secret = settings
            .keys
            .iter()
            .find(|(kid, _)| *kid == settings.signing_kid)
            .map(|(_, secret)| EncodingKey::from_secret(secret))
            .ok_or_else(|| {
                format!(
                    "the signing key id {:?} is not among the keys",
                    settings.signing_kid
                )
            })?;
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = 30;
        Ok(Self {
            signing: (settings.signing_kid.clone(), signing_secret),
            verifying: Arc::new(verifying),
            validation,
            settings: Arc::new(settings),
        })
    }
}

impl TokenService for JwtTokens {
    fn issue(
        &self,
        user: UserId,
        session: &SessionId,
        session_ends: Timestamp,
    ) -> Result<String, BoxError> {
        let now = jsonwebtoken::get_current_timestamp();
        let jti: [u8; 16] = rand::random();
        let claims = Claims {
            sub: user.0.to_string(),
            sid: session.0.clone(),
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
            iat: now,
            // Bound to the session: it lives as long as the session may (ADR 0009).
            exp: u64::try_from(session_ends.as_offset_date_time().unix_timestamp()).unwrap_or(0),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        };
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(self.signing.0.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.signing.1)?)
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::TokenInvalid)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(AuthFailure::TokenInvalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|_| AuthFailure::TokenInvalid)?;
        let user = data
            .claims
            .sub
            .parse::<i64>()
            .map(UserId)
            .map_err(|_| AuthFailure::TokenInvalid)?;
        Ok(AccessClaims {
            user,
            session: SessionId(data.claims.sid),
            issued_at: at_second(data.claims.iat)?,
            fresh_until: at_second(data.claims.iat.saturating_add(self.settings.ttl_seconds))?,
            session_ends: at_second(data.claims.exp)?,
        })
    }
}

/// The instant `seconds` after the epoch; a claim too large for a date is no token of ours.
fn at_second(seconds: u64) -> Result<Timestamp, AuthFailure> {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .map(Timestamp::new)
        .ok_or(AuthFailure::TokenInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &[u8], ttl_seconds: u64) -> JwtTokens {
        JwtTokens::new(JwtSettings::single_key(
            secret.to_vec(),
            "conduit",
            "conduit-api",
            ttl_seconds,
        ))
        .expect("valid settings")
    }

    fn sid() -> SessionId {
        SessionId("s1".into())
    }

    /// A session end an hour from now.
    fn ends() -> Timestamp {
        Timestamp::new(time::OffsetDateTime::now_utc() + time::Duration::hours(1))
    }

    #[test]
    fn issued_tokens_verify_to_their_user_and_session() {
        let t = tokens(&[7; 32], 60);
        let session_ends = ends();
        let token = t.issue(UserId(42), &sid(), session_ends).expect("issued");
        let claims = t.verify(&token).expect("verified");
        assert_eq!((claims.user, claims.session), (UserId(42), sid()));
        // `exp` is the session's end (whole seconds); the freshness window follows `iat`.
        let second = |at: Timestamp| at.as_offset_date_time().unix_timestamp();
        assert_eq!(second(claims.session_ends), second(session_ends));
        assert_eq!(second(claims.fresh_until) - second(claims.issued_at), 60);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!((now - second(claims.issued_at)).abs() <= 2);
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some("primary"));
    }

    #[test]
    fn rejects_tampered_foreign_expired_and_unsigned_tokens() {
        let t = tokens(&[7; 32], 60);
        let token = t.issue(UserId(1), &sid(), ends()).expect("issued");
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(t.verify(&tampered), Err(AuthFailure::TokenInvalid));
        assert_eq!(
            tokens(&[8; 32], 60).verify(&token),
            Err(AuthFailure::TokenInvalid)
        );
        assert_eq!(t.verify("not.a.jwt"), Err(AuthFailure::TokenInvalid));

        // alg "none" with the same claims and no signature.
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoicHJpbWFyeSJ9"; // {"alg":"none","typ":"JWT","kid":"primary"}
        assert_eq!(
            t.verify(&format!("{none_header}.{}.", parts[1])),
            Err(AuthFailure::TokenInvalid)
        );

        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("primary".into());
        let old = jsonwebtoken::encode(
            &header,
            &Claims {
                sub: "1".into(),
                sid: "s1".into(),
                jti: "j".into(),
                iat: 1,
                exp: 2,
                iss: "conduit".into(),
                aud: "conduit-api".into(),
            },
            &t.signing.1,
        )
        .expect("encoded");
        assert_eq!(t.verify(&old), Err(AuthFailure::TokenInvalid));
    }

    #[test]
    fn keys_rotate_by_kid() {
        let old = JwtTokens::new(JwtSettings::single_key(vec![1; 32], "i", "a", 60)).expect("old");
        let token = old.issue(UserId(5), &sid(), ends()).expect("issued");
        // The new configuration signs with "next" but still verifies "primary".
        let rotated = JwtTokens::new(JwtSettings {
            keys: vec![
                ("primary".into(), vec![1; 32]),
                ("next".into(), vec![2; 32]),
            ],
            signing_kid: "next".into(),
            issuer: "i".into(),
            audience: "a".into(),
            ttl_seconds: 60,
        })
        .expect("rotated");
        assert_eq!(rotated.verify(&token).map(|c| c.user), Ok(UserId(5)));
        let fresh = rotated.issue(UserId(6), &sid(), ends()).expect("issued");
        assert_eq!(
            jsonwebtoken::decode_header(&fresh)
                .expect("header")
                .kid
                .as_deref(),
            Some("next")
        );
        // Once "primary" is retired, its tokens stop verifying.
        let retired = JwtTokens::new(JwtSettings {
            keys: vec![("next".into(), vec![2; 32])],
            signing_kid: "next".into(),
            issuer: "i".into(),
            audience: "a".into(),
            ttl_seconds: 60,
        })
        .expect("retired");
        assert_eq!(retired.verify(&token), Err(AuthFailure::TokenInvalid));
        assert!(retired.verify(&fresh).is_ok());
    }

    /// A token signed with our key but naming another issuer or audience (issued by
    /// another service sharing the key by mistake, say) is refused.
    #[test]
    fn tokens_for_another_issuer_or_audience_are_refused() {
        let t = tokens(&[7; 32], 60);
        let now =
            u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).expect("after 1970");
        let signed = |iss: &str, aud: &str| {
            let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = Some("primary".into());
            jsonwebtoken::encode(
                &header,
                &Claims {
                    sub: "1".into(),
                    sid: "s1".into(),
                    jti: "j".into(),
                    iat: now,
                    exp: now + 60,
                    iss: iss.into(),
                    aud: aud.into(),
                },
                &t.signing.1,
            )
            .expect("encoded")
        };
        assert!(
            t.verify(&signed("conduit", "conduit-api")).is_ok(),
            "the control"
        );
        assert_eq!(
            t.verify(&signed("other", "conduit-api")),
            Err(AuthFailure::TokenInvalid)
        );
        assert_eq!(
            t.verify(&signed("conduit", "other-api")),
            Err(AuthFailure::TokenInvalid)
        );
    }

    #[test]
    fn bad_key_sets_are_refused() {
        assert!(JwtTokens::new(JwtSettings::single_key(vec![1; 31], "i", "a", 1)).is_err());
        let unknown_signer = JwtSettings {
            signing_kid: "missing".into(),
            ..JwtSettings::single_key(vec![1; 32], "i", "a", 1)
        };
        assert!(JwtTokens::new(unknown_signer).is_err());
    }

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

/// Refresh tokens and session ids from the operating system's random source; tokens are
/// stored as SHA-256 hashes (a fast hash is right here: the input has 256 bits of entropy,
/// so there is nothing to brute-force).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomRefreshTokens;

impl RandomRefreshTokens {
    fn random_text<const N: usize>() -> String {
        use base64::Engine;
        let bytes: [u8; N] = rand::random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

impl conduit_domain::ports::RefreshTokens for RandomRefreshTokens {
    fn new_session_id(&self) -> conduit_domain::session::SessionId {
        conduit_domain::session::SessionId(Self::random_text::<16>())
    }

    fn generate(
        &self,
    ) -> (
        conduit_domain::session::RefreshToken,
        conduit_domain::session::RefreshTokenHash,
    ) {
        let token = format!("rt_{}", Self::random_text::<32>());
        let hash = self.hash(&token);
        (conduit_domain::session::RefreshToken(token), hash)
    }

    fn hash(&self, token: &str) -> conduit_domain::session::RefreshTokenHash {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(token.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        conduit_domain::session::RefreshTokenHash(hex)
    }
}
