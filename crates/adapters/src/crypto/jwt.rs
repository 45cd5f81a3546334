//! Access tokens: JWT, HS256, with key rotation by `kid` (ADR 0009).

use std::sync::Arc;

use conduit_domain::{
    UserId,
    error::{AuthFailure, BoxError},
    ports::{AccessClaims, TokenService},
    session::SessionId,
    time::Timestamp,
};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
            jti: hex::encode(jti),
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
}
