//! Password hashing (Argon2id) and access tokens (JWT, HS256).

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use conduit_domain::{
    UserId,
    error::{AuthFailure, BoxError},
    ports::{PasswordHasher, TokenService},
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
    /// HMAC key; at least 32 bytes.
    pub secret: Vec<u8>,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Lifetime of a token, in seconds.
    pub ttl_seconds: u64,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: String,
}

/// HS256-signed JWT access tokens. Only HS256 is accepted on verification, so a token
/// claiming `alg: none` or an asymmetric algorithm is rejected.
#[derive(Clone)]
pub struct JwtTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
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

    /// Tokens signed with `settings.secret`. Fails on a key shorter than 32 bytes.
    pub fn new(settings: JwtSettings) -> Result<Self, BoxError> {
        if settings.secret.len() < Self::MIN_SECRET_LEN {
            return Err(format!(
                "the token signing key must be at least {} bytes",
                Self::MIN_SECRET_LEN
            )
            .into());
        }
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = 30;
        Ok(Self {
            encoding: EncodingKey::from_secret(&settings.secret),
            decoding: DecodingKey::from_secret(&settings.secret),
            validation,
            settings: Arc::new(settings),
        })
    }
}

impl TokenService for JwtTokens {
    fn issue(&self, user: UserId) -> Result<String, BoxError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.0.to_string(),
            iat: now,
            exp: now + self.settings.ttl_seconds,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    fn verify(&self, token: &str) -> Result<UserId, AuthFailure> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthFailure::TokenInvalid)?;
        data.claims
            .sub
            .parse::<i64>()
            .map(UserId)
            .map_err(|_| AuthFailure::TokenInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &[u8], ttl_seconds: u64) -> JwtTokens {
        JwtTokens::new(JwtSettings {
            secret: secret.to_vec(),
            issuer: "conduit".into(),
            audience: "conduit-api".into(),
            ttl_seconds,
        })
        .expect("valid settings")
    }

    #[test]
    fn issued_tokens_verify_to_their_user() {
        let t = tokens(&[7; 32], 60);
        let token = t.issue(UserId(42)).expect("issued");
        assert_eq!(t.verify(&token), Ok(UserId(42)));
    }

    #[test]
    fn rejects_tampered_foreign_expired_and_unsigned_tokens() {
        let t = tokens(&[7; 32], 60);
        let token = t.issue(UserId(1)).expect("issued");
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
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        assert_eq!(
            t.verify(&format!("{none_header}.{}.", parts[1])),
            Err(AuthFailure::TokenInvalid)
        );

        let old = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &Claims {
                sub: "1".into(),
                iat: 1,
                exp: 2,
                iss: "conduit".into(),
                aud: "conduit-api".into(),
            },
            &t.encoding,
        )
        .expect("encoded");
        assert_eq!(t.verify(&old), Err(AuthFailure::TokenInvalid));
    }

    #[test]
    fn short_keys_are_refused() {
        let settings = JwtSettings {
            secret: vec![1; 31],
            issuer: "i".into(),
            audience: "a".into(),
            ttl_seconds: 1,
        };
        assert!(JwtTokens::new(settings).is_err());
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
