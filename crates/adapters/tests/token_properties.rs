//! Property tests of token parsing: whatever string arrives as an access token or an API
//! key, verification answers (never panics) and refuses it unless it is exactly a token
//! the server issued; changing any one character of an issued token makes it invalid.

use conduit_adapters::{
    biscuit::BiscuitApiKeys,
    crypto::{JwtSettings, JwtTokens},
};
use conduit_domain::{
    UserId,
    api_key::{ApiKey, Scope},
    ports::{ApiKeyTokens, TokenService},
    session::SessionId,
    time::Timestamp,
};
use proptest::prelude::*;

fn now() -> Timestamp {
    Timestamp::new(time::OffsetDateTime::now_utc())
}

/// A session end an hour from now.
fn later() -> Timestamp {
    Timestamp::new(time::OffsetDateTime::now_utc() + time::Duration::hours(1))
}

fn jwt() -> JwtTokens {
    JwtTokens::new(JwtSettings::single_key(
        vec![7; 32],
        "conduit",
        "conduit",
        900,
    ))
    .expect("valid settings")
}

fn api_key(tokens: &BiscuitApiKeys) -> ApiKey {
    ApiKey {
        id: tokens.new_key_id(),
        user_id: UserId(42),
        name: "props".into(),
        scopes: vec![Scope::ArticlesWrite],
        created_at: now(),
        expires_at: None,
        revoked_at: None,
    }
}

/// `token` with the character at `at` (modulo its length) replaced by another one of
/// the token alphabets (base64url and the JWT dots).
fn with_one_change(token: &str, at: usize, pick: u8) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    let mut bytes = token.as_bytes().to_vec();
    let at = at % bytes.len();
    let mut replacement = ALPHABET[usize::from(pick) % ALPHABET.len()];
    if replacement == bytes[at] {
        replacement = if bytes[at] == b'A' { b'B' } else { b'A' };
    }
    bytes[at] = replacement;
    String::from_utf8(bytes).expect("ASCII")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_string_is_refused_as_an_access_token(raw in ".{0,300}") {
        prop_assert!(jwt().verify(&raw).is_err());
    }

    #[test]
    fn any_dotted_base64_is_refused_as_an_access_token(
        parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 1..5)
    ) {
        prop_assert!(jwt().verify(&parts.join(".")).is_err());
    }

    #[test]
    fn an_access_token_with_one_character_changed_is_refused(at in any::<usize>(), pick in any::<u8>()) {
        let tokens = jwt();
        let token = tokens.issue(UserId(1), &SessionId("s".into()), later()).expect("issued");
        prop_assert!(tokens.verify(&token).is_ok());
        let changed = with_one_change(&token, at, pick);
        // A change in the signature's last character can leave its decoded bytes the
        // same (unused low bits of base64); anything else must fail.
        if let Ok(claims) = tokens.verify(&changed) {
            prop_assert_eq!(at % token.len(), token.len() - 1, "{} accepted", changed);
            prop_assert_eq!(claims.user, UserId(1));
        }
    }

    #[test]
    fn any_string_is_refused_as_an_api_key(raw in ".{0,300}") {
        let tokens = BiscuitApiKeys::generate();
        prop_assert!(tokens.verify(&raw, Scope::ArticlesWrite, now()).is_err());
    }

    #[test]
    fn an_api_key_with_one_character_changed_is_refused(at in any::<usize>(), pick in any::<u8>()) {
        let tokens = BiscuitApiKeys::generate();
        let token = tokens.issue(&api_key(&tokens)).expect("issued");
        prop_assert!(tokens.verify(&token, Scope::ArticlesWrite, now()).is_ok());
        let changed = with_one_change(&token, at, pick);
        let verdict = tokens.verify(&changed, Scope::ArticlesWrite, now());
        if verdict.is_ok() {
            prop_assert_eq!(at % token.len(), token.len() - 1, "{} accepted", changed);
        }
    }
}
