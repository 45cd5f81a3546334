//! Refresh tokens and session ids (ADR 0009).

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
        conduit_domain::session::RefreshTokenHash(hex::encode(digest))
    }
}
