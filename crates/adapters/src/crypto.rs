//! Password hashing (Argon2id) and access tokens (JWT, HS256).

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use conduit_domain::{
    UserId,
    error::{AuthFailure, BoxError},
    ports::{AccessClaims, PasswordHasher, TokenService},
    session::SessionId,
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
/// burst of logins costs bounded memory (each hash holds `memory_kib`) and leaves the
/// async workers free for other requests.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    permits: Arc<Semaphore>,
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

impl Argon2Hasher {
    /// A hasher with `cost`, running at most `concurrency` hashes at once.
    pub fn new(cost: Argon2Cost, concurrency: usize) -> Result<Self, BoxError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
        let dummy_secret: [u8; 16] = rand::random();
        let dummy = argon(&params)
            .hash_password(&dummy_secret)
            .map_err(|e| format!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, BoxError> {
        let _permit = self.permits.acquire().await?;
        let hasher = argon(&self.params);
        Ok(tokio::task::spawn_blocking(move || work(hasher)).await?)
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, BoxError> {
        let clear = password.expose().to_owned();
        let phc = self
            .blocking(move |argon| argon.hash_password(clear.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(|e| format!("argon2: {e}"))?;
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
            .blocking(move |argon| argon.verify_password(clear.as_bytes(), phc.as_str()))
            .await?;
        match matched {
            Ok(()) => Ok(known),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(other) => Err(format!("argon2: {other}").into()),
        }
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
    /// Lifetime of a token, in seconds.
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
    fn issue(&self, user: UserId, session: &SessionId) -> Result<String, BoxError> {
        let now = jsonwebtoken::get_current_timestamp();
        let jti: [u8; 16] = rand::random();
        let claims = Claims {
            sub: user.0.to_string(),
            sid: session.0.clone(),
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
            iat: now,
            exp: now + self.settings.ttl_seconds,
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
        })
    }
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

    #[test]
    fn issued_tokens_verify_to_their_user_and_session() {
        let t = tokens(&[7; 32], 60);
        let token = t.issue(UserId(42), &sid()).expect("issued");
        assert_eq!(
            t.verify(&token),
            Ok(AccessClaims {
                user: UserId(42),
                session: sid()
            })
        );
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some("primary"));
    }

    #[test]
    fn rejects_tampered_foreign_expired_and_unsigned_tokens() {
        let t = tokens(&[7; 32], 60);
        let token = t.issue(UserId(1), &sid()).expect("issued");
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
        let token = old.issue(UserId(5), &sid()).expect("issued");
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
        let fresh = rotated.issue(UserId(6), &sid()).expect("issued");
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
