//! API key tokens as Biscuits (biscuit-auth, Ed25519): signed by the server's root key,
//! verifiable with its public key, and attenuable offline by their holder (fewer scopes,
//! an earlier expiry) without asking the server.
//!
//! # What a token says
//!
//! The authority block, which only the root key can sign, carries:
//!
//! ```text
//! user(42);
//! api_key("ak_...");
//! right("comments:write");              // one per scope, named as `Scope::as_str`
//! check if time($t), $t < 2030-01-01T00:00:00Z;   // only when the key expires
//! ```
//!
//! Datalog dates count whole seconds, so the expiry is the stored one truncated to the
//! second, compared with `<`: a key stops working at its expiry (as sessions do), and a
//! sub-second expiry makes it stop up to a second early, never late.
//!
//! # How a token is verified
//!
//! The token is refused unread when longer than [`MAX_TOKEN_LEN`], then parsed with the
//! root public key (which checks every block's signature), then authorized by:
//!
//! ```text
//! time(<now, whole seconds>);
//! operation("<scope>");
//! allow if right($op), operation($op);
//! ```
//!
//! The policy, like every authorizer rule, sees only the authority block's and the
//! authorizer's facts: a `right` written in an attenuation block (or derived by one of
//! its rules) is invisible to it, so attenuation can remove rights but never add them.
//! Every check of every block must also pass. The owner and key id are then read from
//! the authority block with `data($u, $k) <- user($u), api_key($k)`, which must give
//! exactly one answer.
//!
//! # Invalid or insufficient scope
//!
//! A refusal is classified from what failed, not from the text of the failed checks:
//!
//! 1. Unparsable, too long, signed by another key, over the run limits, or any
//!    evaluation error: `Invalid`.
//! 2. Every check passed but no `right` matched the operation: `InsufficientScope`,
//!    naming the key (read with an `allow if true` policy), so that the caller can find
//!    a revoked key invalid before it looks at scopes.
//! 3. A check of the authority block failed: `Invalid`. The authority block's only
//!    check is the expiry, which does not depend on the operation.
//! 4. A check of an attenuation block failed: the token is authorized again with every
//!    *other* scope as the operation and an `allow if true` policy (rights ignored). If
//!    all its checks pass for some operation, what failed depends on the operation, so
//!    the key is alive but attenuated away from this one: `InsufficientScope`, naming the
//!    key as in step 2. If no
//!    operation passes, the failure does not depend on the operation (an earlier expiry
//!    added by the holder, `check if false`): `Invalid`.
//!
//! Step 4 runs only for attenuated tokens that were refused, at most five extra
//! authorizations, each under the same run limits. Whatever the classification, a
//! refused token is refused: it only chooses between 401 and 403.

use std::{fmt, sync::Arc, time::Duration};

use base64::Engine as _;
use biscuit_auth::{
    AuthorizerLimits, Biscuit, KeyPair, PrivateKey,
    builder::{Algorithm, Term},
    error::{FailedCheck, Logic, RunLimit, Token},
    macros::{authorizer, biscuit, biscuit_merge, rule},
};
use conduit_domain::{
    UserId,
    api_key::{ApiKey, ApiKeyFailure, ApiKeyId, Scope},
    error::BoxError,
    ports::{ApiKeyTokens, VerifiedKey},
    time::Timestamp,
};

/// Longest token accepted, in bytes of its base64 text. An issued token with every scope
/// is well under 1 KiB; the bound leaves room for a few attenuation blocks while
/// keeping signature checks and Datalog loading cheap for anything hostile.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Prefix of key ids, so that they are recognisable in logs and lists.
const KEY_ID_PREFIX: &str = "ak_";

/// Biscuit's default fact and iteration limits. The time limit is raised from its 1 ms
/// default to 5 ms because it is wall-clock time: on a busy two-core host a thread
/// descheduled mid-run would otherwise turn a valid key into a spurious 401. The fact
/// and iteration limits are what bound a hostile token's cost.
/// How many times an authorization that ran out of time is run in all.
const RUN_ATTEMPTS: u32 = 3;

fn run_limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(5),
    }
}

/// API key tokens signed with one Ed25519 root key. Cheap to clone (the key pair is
/// shared).
#[derive(Clone)]
pub struct BiscuitApiKeys {
    root: Arc<KeyPair>,
}

impl fmt::Debug for BiscuitApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The public key only: the private key must never reach a log.
        f.debug_struct("BiscuitApiKeys")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl BiscuitApiKeys {
    /// Tokens signed with the Ed25519 private key `hex` (64 hex digits, as
    /// [`BiscuitApiKeys::private_key_hex`] writes it; surrounding whitespace ignored).
    /// The error never repeats the input, which is a secret.
    pub fn from_private_key_hex(hex: &str) -> Result<Self, BoxError> {
        let private = PrivateKey::from_bytes_hex(hex.trim(), Algorithm::Ed25519).map_err(
            |_| "the API key root key must be an Ed25519 private key written as 64 hex digits",
        )?;
        Ok(Self {
            root: Arc::new(KeyPair::from(&private)),
        })
    }

    /// Tokens signed with a fresh random key, for development: they stop verifying when
    /// the process restarts.
    pub fn generate() -> Self {
        Self {
            root: Arc::new(KeyPair::new()),
        }
    }

    /// The root public key, in hex: what verifies tokens and what a holder attenuating a
    /// token offline needs.
    pub fn public_key_hex(&self) -> String {
        self.root.public().to_bytes_hex()
    }

    /// The root private key, in hex, for an operator generating a key to configure.
    ///
    /// This is a secret: whoever holds it can mint tokens for any user with any scope.
    /// Keep it out of logs, and store it as other signing secrets are stored.
    pub fn private_key_hex(&self) -> String {
        self.root.private().to_bytes_hex()
    }

    /// The authorization of `token` for `operation` at `now` (see the module docs).
    fn authorize_for(token: &Biscuit, now: &Term, operation: &str) -> Result<(i64, String), Token> {
        // The time limit is wall-clock time: a thread descheduled mid-run can hit it with
        // a valid key, which would be a spurious 401 (seen with a fresh key while the
        // test suite loaded both cores). A timeout is retried, up to `RUN_ATTEMPTS` runs
        // in all; a hostile token's cost stays bounded by the fact and iteration limits.
        let mut attempts = 1;
        loop {
            let outcome = Self::authorize_once(token, now, operation);
            if attempts < RUN_ATTEMPTS && matches!(outcome, Err(Token::RunLimit(RunLimit::Timeout)))
            {
                attempts += 1;
                continue;
            }
            return outcome;
        }
    }

    fn authorize_once(
        token: &Biscuit,
        now: &Term,
        operation: &str,
    ) -> Result<(i64, String), Token> {
        let mut authorizer = authorizer!(
            r#"
            time({now});
            operation({operation});
            allow if right($op), operation($op);
            "#,
            now = now.clone(),
            operation = operation,
        )
        .set_limits(run_limits())
        .build(token)?;
        authorizer.authorize()?;
        authorizer.query_exactly_one(rule!("data($u, $k) <- user($u), api_key($k)"))
    }

    /// The owner and key id of `token` if every check of every block passes with
    /// `operation` at `now`, whatever the rights: the probe of steps 2 and 4 in the module
    /// docs.
    fn identify(token: &Biscuit, now: &Term, operation: &str) -> Option<VerifiedKey> {
        let mut authorizer = authorizer!(
            r#"
            time({now});
            operation({operation});
            allow if true;
            "#,
            now = now.clone(),
            operation = operation,
        )
        .set_limits(run_limits())
        .build(token)
        .ok()?;
        authorizer.authorize().ok()?;
        let (user, key): (i64, String) = authorizer
            .query_exactly_one(rule!("data($u, $k) <- user($u), api_key($k)"))
            .ok()?;
        Some(VerifiedKey {
            key: ApiKeyId(key),
            user: UserId(user),
        })
    }

    /// Why `token` was refused for `scope`, from the error of its authorization.
    fn classify(token: &Biscuit, now: &Term, scope: Scope, err: &Token) -> ApiKeyFailure {
        let checks = match err {
            Token::FailedLogic(
                Logic::NoMatchingPolicy { checks } | Logic::Unauthorized { checks, .. },
            ) => checks,
            _ => return ApiKeyFailure::Invalid,
        };
        let found = if checks.is_empty() {
            Self::identify(token, now, scope.as_str())
        } else if checks
            .iter()
            .any(|c| matches!(c, FailedCheck::Block(b) if b.block_id == 0))
        {
            None
        } else {
            Scope::ALL
                .into_iter()
                .filter(|other| *other != scope)
                .find_map(|other| Self::identify(token, now, other.as_str()))
        };
        found.map_or(ApiKeyFailure::Invalid, ApiKeyFailure::InsufficientScope)
    }
}

/// `at` as a Datalog date: whole seconds since the epoch, the fraction dropped (so an
/// expiry never moves later); times before 1970 become the epoch.
fn date(at: Timestamp) -> Term {
    let seconds = at.as_offset_date_time().unix_timestamp();
    Term::Date(u64::try_from(seconds).unwrap_or(0))
}

impl ApiKeyTokens for BiscuitApiKeys {
    fn new_key_id(&self) -> ApiKeyId {
        // 128 random bits from the thread's CSPRNG; URL-safe so the id can sit in a path.
        let bytes: [u8; 16] = rand::random();
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        ApiKeyId(format!("{KEY_ID_PREFIX}{encoded}"))
    }

    fn issue(&self, key: &ApiKey) -> Result<String, BoxError> {
        let mut builder = biscuit!(
            r#"
            user({user_id});
            api_key({key_id});
            "#,
            user_id = key.user_id.0,
            key_id = key.id.0.as_str(),
        );
        for scope in &key.scopes {
            builder = biscuit_merge!(builder, r#"right({name});"#, name = scope.as_str());
        }
        if let Some(expires_at) = key.expires_at {
            builder = biscuit_merge!(
                builder,
                r#"check if time($t), $t < {expires_at};"#,
                expires_at = date(expires_at),
            );
        }
        let token = builder.build(&self.root)?;
        Ok(token.to_base64()?)
    }

    fn verify(
        &self,
        token: &str,
        scope: Scope,
        now: Timestamp,
    ) -> Result<VerifiedKey, ApiKeyFailure> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(ApiKeyFailure::Invalid);
        }
        let token =
            Biscuit::from_base64(token, self.root.public()).map_err(|_| ApiKeyFailure::Invalid)?;
        let now = date(now);
        match Self::authorize_for(&token, &now, scope.as_str()) {
            Ok((user, key)) => Ok(VerifiedKey {
                key: ApiKeyId(key),
                user: UserId(user),
            }),
            Err(err) => Err(Self::classify(&token, &now, scope, &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use biscuit_auth::{PublicKey, macros::block};
    use time::{Duration as TimeDuration, macros::datetime};

    use super::*;

    /// Noon, with milliseconds, so truncation to seconds is exercised.
    fn t0() -> Timestamp {
        Timestamp::new(datetime!(2030-06-01 12:00:00.250 UTC))
    }

    fn at(offset: TimeDuration) -> Timestamp {
        Timestamp::new(t0().as_offset_date_time() + offset)
    }

    fn key(tokens: &BiscuitApiKeys, scopes: &[Scope], expires_at: Option<Timestamp>) -> ApiKey {
        ApiKey {
            id: tokens.new_key_id(),
            user_id: UserId(42),
            name: "ci".into(),
            scopes: scopes.to_vec(),
            created_at: t0(),
            expires_at,
            revoked_at: None,
        }
    }

    fn public(tokens: &BiscuitApiKeys) -> PublicKey {
        PublicKey::from_bytes_hex(&tokens.public_key_hex(), Algorithm::Ed25519)
            .expect("a public key")
    }

    /// `token` with one more block, appended by its holder with biscuit-auth alone.
    fn attenuate(
        tokens: &BiscuitApiKeys,
        token: &str,
        block: biscuit_auth::BlockBuilder,
    ) -> String {
        Biscuit::from_base64(token, public(tokens))
            .expect("parses")
            .append(block)
            .expect("appended")
            .to_base64()
            .expect("serialized")
    }

    fn verified(key: &ApiKey) -> VerifiedKey {
        VerifiedKey {
            key: key.id.clone(),
            user: key.user_id,
        }
    }

    #[test]
    fn key_ids_are_random_url_safe_and_long_enough() {
        let tokens = BiscuitApiKeys::generate();
        let a = tokens.new_key_id();
        let b = tokens.new_key_id();
        assert_ne!(a, b);
        let body = a.0.strip_prefix(KEY_ID_PREFIX).expect("prefixed");
        // 16 bytes of base64 without padding.
        assert_eq!(body.len(), 22);
        assert!(
            body.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
    }

    #[test]
    fn issued_token_verifies_for_each_granted_scope() {
        let tokens = BiscuitApiKeys::generate();
        let granted = [Scope::CommentsWrite, Scope::UserRead, Scope::ArticlesWrite];
        let key = key(&tokens, &granted, Some(at(TimeDuration::days(30))));
        let token = tokens.issue(&key).expect("issued");
        for scope in granted {
            assert_eq!(
                tokens.verify(&token, scope, t0()),
                Ok(verified(&key)),
                "{scope}"
            );
        }
    }

    #[test]
    fn every_scope_name_is_a_right() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &Scope::ALL, None);
        let token = tokens.issue(&key).expect("issued");
        for scope in Scope::ALL {
            assert_eq!(
                tokens.verify(&token, scope, t0()),
                Ok(verified(&key)),
                "{scope}"
            );
        }
        let source = Biscuit::from_base64(&token, public(&tokens))
            .expect("parses")
            .print_block_source(0)
            .expect("authority source");
        for scope in Scope::ALL {
            assert!(source.contains(&format!("right(\"{scope}\")")), "{source}");
        }
        assert!(source.contains("user(42)"), "{source}");
        assert!(
            source.contains(&format!("api_key(\"{}\")", key.id)),
            "{source}"
        );
        assert!(
            !source.contains("check if"),
            "no expiry, no check: {source}"
        );
    }

    #[test]
    fn a_scope_not_granted_is_insufficient() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &[Scope::CommentsWrite], None);
        let token = tokens.issue(&key).expect("issued");
        for scope in Scope::ALL
            .into_iter()
            .filter(|s| *s != Scope::CommentsWrite)
        {
            assert_eq!(
                tokens.verify(&token, scope, t0()),
                Err(ApiKeyFailure::InsufficientScope(verified(&key))),
                "{scope}"
            );
        }
    }

    #[test]
    fn a_token_without_expiry_works_far_in_the_future() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &[Scope::UserRead], None);
        let token = tokens.issue(&key).expect("issued");
        let later = at(TimeDuration::days(365 * 50));
        assert_eq!(
            tokens.verify(&token, Scope::UserRead, later),
            Ok(verified(&key))
        );
    }

    #[test]
    fn an_expired_token_is_invalid_whatever_the_scope() {
        let tokens = BiscuitApiKeys::generate();
        // A whole-second expiry: works until the second before, not at or after it.
        let expires_at = Timestamp::new(datetime!(2030-06-02 00:00:00 UTC));
        let key = key(&tokens, &[Scope::CommentsWrite], Some(expires_at));
        let token = tokens.issue(&key).expect("issued");
        let just_before = Timestamp::new(datetime!(2030-06-01 23:59:59.999 UTC));
        assert_eq!(
            tokens.verify(&token, Scope::CommentsWrite, just_before),
            Ok(verified(&key))
        );
        for now in [
            expires_at,
            expires_at.next_after(),
            at(TimeDuration::days(400)),
        ] {
            for scope in [Scope::CommentsWrite, Scope::ArticlesWrite] {
                assert_eq!(
                    tokens.verify(&token, scope, now),
                    Err(ApiKeyFailure::Invalid),
                    "{scope} at {now}"
                );
            }
        }
    }

    #[test]
    fn a_sub_second_expiry_ends_at_its_whole_second() {
        let tokens = BiscuitApiKeys::generate();
        let expires_at = at(TimeDuration::hours(1)); // 13:00:00.250
        let key = key(&tokens, &[Scope::UserRead], Some(expires_at));
        let token = tokens.issue(&key).expect("issued");
        let early = Timestamp::new(datetime!(2030-06-01 12:59:59.999 UTC));
        assert!(tokens.verify(&token, Scope::UserRead, early).is_ok());
        let truncated = Timestamp::new(datetime!(2030-06-01 13:00:00 UTC));
        assert_eq!(
            tokens.verify(&token, Scope::UserRead, truncated),
            Err(ApiKeyFailure::Invalid)
        );
    }

    #[test]
    fn a_token_signed_by_another_root_key_is_invalid() {
        let ours = BiscuitApiKeys::generate();
        let theirs = BiscuitApiKeys::generate();
        let key = key(&theirs, &Scope::ALL, None);
        let token = theirs.issue(&key).expect("issued");
        assert_eq!(
            ours.verify(&token, Scope::UserRead, t0()),
            Err(ApiKeyFailure::Invalid)
        );
    }

    #[test]
    fn garbage_truncated_and_oversized_tokens_are_invalid() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &Scope::ALL, None);
        let token = tokens.issue(&key).expect("issued");
        let oversized = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
        let mut flipped = token.clone().into_bytes();
        let middle = flipped.len() / 2;
        flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        for bad in [
            "",
            "not a token",
            "!!!!",
            "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
            &token[..token.len() / 2],
            &token[..token.len() - 4],
            &flipped,
            &oversized,
        ] {
            assert_eq!(
                tokens.verify(bad, Scope::UserRead, t0()),
                Err(ApiKeyFailure::Invalid),
                "{bad:.40}"
            );
        }
    }

    #[test]
    fn offline_attenuation_narrows_scopes_and_expiry() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(
            &tokens,
            &[Scope::ArticlesWrite, Scope::CommentsWrite, Scope::UserRead],
            Some(at(TimeDuration::days(30))),
        );
        let parent = tokens.issue(&key).expect("issued");
        let earlier = date(at(TimeDuration::days(1)));
        let child = attenuate(
            &tokens,
            &parent,
            block!(
                r#"
                check if operation($op), ["comments:write"].contains($op);
                check if time($t), $t <= {earlier};
                "#,
                earlier = earlier,
            ),
        );

        // Within the attenuation, the child works as the key.
        assert_eq!(
            tokens.verify(&child, Scope::CommentsWrite, t0()),
            Ok(verified(&key))
        );
        // Scopes outside it: insufficient, though the key itself has them.
        for scope in [Scope::ArticlesWrite, Scope::UserRead, Scope::FollowsWrite] {
            assert_eq!(
                tokens.verify(&child, scope, t0()),
                Err(ApiKeyFailure::InsufficientScope(verified(&key))),
                "{scope}"
            );
        }
        // After the earlier expiry: invalid, for any scope.
        let between = at(TimeDuration::days(2));
        for scope in [Scope::CommentsWrite, Scope::ArticlesWrite] {
            assert_eq!(
                tokens.verify(&child, scope, between),
                Err(ApiKeyFailure::Invalid),
                "{scope}"
            );
        }
        // The parent is untouched by its child's restrictions.
        for scope in [Scope::ArticlesWrite, Scope::CommentsWrite, Scope::UserRead] {
            assert_eq!(
                tokens.verify(&parent, scope, between),
                Ok(verified(&key)),
                "{scope}"
            );
        }
    }

    #[test]
    fn attenuation_with_a_reject_rule_is_insufficient_scope() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &[Scope::ArticlesWrite, Scope::CommentsWrite], None);
        let parent = tokens.issue(&key).expect("issued");
        let child = attenuate(
            &tokens,
            &parent,
            block!(r#"reject if operation("articles:write");"#),
        );
        assert!(tokens.verify(&child, Scope::CommentsWrite, t0()).is_ok());
        assert_eq!(
            tokens.verify(&child, Scope::ArticlesWrite, t0()),
            Err(ApiKeyFailure::InsufficientScope(verified(&key)))
        );
    }

    #[test]
    fn an_attenuation_that_allows_nothing_is_invalid() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &Scope::ALL, None);
        let parent = tokens.issue(&key).expect("issued");
        let child = attenuate(&tokens, &parent, block!(r#"check if false;"#));
        assert_eq!(
            tokens.verify(&child, Scope::UserRead, t0()),
            Err(ApiKeyFailure::Invalid)
        );
    }

    #[test]
    fn attenuation_cannot_add_rights() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &[Scope::CommentsWrite], None);
        let parent = tokens.issue(&key).expect("issued");
        let child = attenuate(
            &tokens,
            &parent,
            block!(
                r#"
                right("articles:write");
                right($op) <- operation($op);
                "#
            ),
        );
        assert_eq!(
            tokens.verify(&child, Scope::ArticlesWrite, t0()),
            Err(ApiKeyFailure::InsufficientScope(verified(&key)))
        );
        assert!(tokens.verify(&child, Scope::CommentsWrite, t0()).is_ok());
    }

    #[test]
    fn attenuation_cannot_change_the_owner_or_key() {
        let tokens = BiscuitApiKeys::generate();
        let key = key(&tokens, &[Scope::UserRead], None);
        let parent = tokens.issue(&key).expect("issued");
        let child = attenuate(
            &tokens,
            &parent,
            block!(r#"user(1); api_key("ak_someone_else");"#),
        );
        assert_eq!(
            tokens.verify(&child, Scope::UserRead, t0()),
            Ok(verified(&key))
        );
    }

    #[test]
    fn a_key_round_trips_through_its_private_key_hex() {
        let original = BiscuitApiKeys::generate();
        let hex = original.private_key_hex();
        assert_eq!(hex.len(), 64);
        let restored =
            BiscuitApiKeys::from_private_key_hex(&format!(" {hex}\n")).expect("a valid key");
        assert_eq!(restored.public_key_hex(), original.public_key_hex());
        let key = key(&original, &[Scope::UserRead], None);
        let token = original.issue(&key).expect("issued");
        assert_eq!(
            restored.verify(&token, Scope::UserRead, t0()),
            Ok(verified(&key))
        );
    }

    #[test]
    fn malformed_private_keys_are_refused_without_echoing_them() {
        for bad in ["", "zz", "0123", &"ab".repeat(31), &"g".repeat(64)] {
            let err = BiscuitApiKeys::from_private_key_hex(bad).expect_err("refused");
            let message = err.to_string();
            assert!(message.contains("64 hex digits"), "{message}");
            if !bad.is_empty() {
                assert!(!message.contains(bad), "{message}");
            }
        }
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let tokens = BiscuitApiKeys::generate();
        let shown = format!("{tokens:?} {tokens:#?}");
        assert!(!shown.contains(&tokens.private_key_hex()), "{shown}");
        assert!(shown.contains(&tokens.public_key_hex()), "{shown}");
    }
}
