//! Users, their credentials and their public profiles.

use std::fmt;

use crate::{
    Invalid, UserId,
    patch::Patch,
    text::{at_most, is_blank, string_value},
    time::Timestamp,
};

string_value!(
    /// An email address. Unique among users without regard to case; kept as entered.
    Email
);
string_value!(
    /// A username: 1 to 64 of ASCII letters, digits, `_`, `-` and `.`. Unique among
    /// users without regard to case. It appears in URLs (`/profiles/{username}`).
    Username
);
string_value!(
    /// A short self-description shown on the profile.
    Bio
);
string_value!(
    /// The address of a profile picture: an absolute `http` or `https` URL.
    ImageUrl
);

/// Characters no email address or URL may hold: white space and control characters.
fn is_space_or_control(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

impl Email {
    /// Longest accepted address (RFC 5321 path limit).
    pub const MAX: usize = 254;
    /// The rule as a JSON Schema pattern: `local@domain.tld`, one `@`, the domain has a
    /// dot and neither starts nor ends with one, no white space or control characters.
    pub const PATTERN: &str = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@\s\u0000-\u001F\u007F-\u009F.][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@\s\u0000-\u001F\u007F-\u009F.]$";

    /// Checks `raw` looks like `local@domain.tld`. Not trimmed: white space anywhere is
    /// refused.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if is_blank(raw) {
            return Err(Invalid::Blank);
        }
        at_most(raw, Self::MAX)?;
        let expected = Invalid::Format {
            expected: "an email address such as name@example.com",
        };
        let Some((local, domain)) = raw.split_once('@') else {
            return Err(expected);
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty() || !domain_ok || raw.chars().any(is_space_or_control) {
            return Err(expected);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl Username {
    /// Longest accepted username.
    pub const MAX: usize = 64;
    /// The rule as a JSON Schema pattern.
    pub const PATTERN: &str = r"^(?!\.+$)[A-Za-z0-9_.-]+$";

    /// Checks length and characters. Not trimmed: a space is not allowed anywhere.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if is_blank(raw) {
            return Err(Invalid::Blank);
        }
        at_most(raw, Self::MAX)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if !raw.chars().all(allowed) || raw.chars().all(|c| c == '.') {
            return Err(Invalid::Format {
                expected: "letters, digits, '_', '-' and '.' only",
            });
        }
        Ok(Self(raw.to_owned()))
    }
}

impl Bio {
    /// Longest accepted bio, counted as sent.
    pub const MAX: usize = 2000;

    /// Blank (white space and control characters only) means "no bio"; otherwise the
    /// text, trimmed.
    pub fn parse(raw: &str) -> Result<Option<Self>, Invalid> {
        at_most(raw, Self::MAX)?;
        crate::text::no_nul(raw)?;
        if is_blank(raw) {
            return Ok(None);
        }
        Ok(Some(Self(raw.trim().to_owned())))
    }
}

impl ImageUrl {
    /// Longest accepted URL.
    pub const MAX: usize = 2048;
    /// The rule as a JSON Schema pattern (the empty string clears the image).
    pub const PATTERN: &str = r"^(https?://[^\s\u0000-\u001F\u007F-\u009F]+)?$";

    /// `""` means "no image"; otherwise `http://` or `https://` followed by at least one
    /// character, with no white space or control characters. The scheme rule is what
    /// keeps `javascript:` and `data:` URLs out of the pages that show the image.
    pub fn parse(raw: &str) -> Result<Option<Self>, Invalid> {
        if raw.is_empty() {
            return Ok(None);
        }
        at_most(raw, Self::MAX)?;
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.chars().any(is_space_or_control) => {
                Ok(Some(Self(raw.to_owned())))
            }
            _ => Err(Invalid::Format {
                expected: "an absolute http or https URL",
            }),
        }
    }
}

/// A password in clear text, as received. Never printed: its `Debug` is redacted and it
/// has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest password accepted for a new account or a password change (NIST SP 800-63B).
    pub const MIN: usize = 8;
    /// Longest password accepted; bounds the hashing cost of one request.
    pub const MAX: usize = 128;

    /// A new password: 8 to 128 characters, no composition rules, not trimmed.
    pub fn new_secret(raw: &str) -> Result<Self, Invalid> {
        if is_blank(raw) {
            return Err(Invalid::Blank);
        }
        let length = raw.chars().count();
        if length < Self::MIN {
            return Err(Invalid::TooShort { min: Self::MIN });
        }
        if length > Self::MAX {
            return Err(Invalid::TooLong { max: Self::MAX });
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password presented at login: only non-blank and bounded, since accounts made
    /// under older rules must still be able to sign in.
    pub fn presented(raw: &str) -> Result<Self, Invalid> {
        if is_blank(raw) {
            return Err(Invalid::Blank);
        }
        if raw.chars().count() > Self::MAX {
            return Err(Invalid::TooLong { max: Self::MAX });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The clear text, for a hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in PHC string format (`$argon2id$v=19$...`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a hasher or read from storage.
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A stored user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Storage id.
    pub id: UserId,
    /// Unique username, as entered.
    pub username: String,
    /// Unique email, as entered.
    pub email: String,
    /// Argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// Optional self-description.
    pub bio: Option<String>,
    /// Optional picture URL.
    pub image: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed.
    pub updated_at: Timestamp,
}

/// What registration stores.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Chosen username.
    pub username: Username,
    /// Email address.
    pub email: Email,
    /// Hash of the chosen password.
    pub password_hash: PasswordHash,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A change to an account: `None` (or [`Patch::Keep`]) leaves a field as it is; `bio`
/// and `image` can also be cleared.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New email.
    pub email: Option<Email>,
    /// New username.
    pub username: Option<Username>,
    /// Hash of the new password.
    pub password_hash: Option<PasswordHash>,
    /// The bio: kept, cleared or new.
    pub bio: Patch<Bio>,
    /// The image: kept, cleared or new.
    pub image: Patch<ImageUrl>,
}

impl UserChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.username.is_none()
            && self.password_hash.is_none()
            && self.bio.is_keep()
            && self.image.is_keep()
    }
}

/// A user's public face, as seen by a viewer (who may or may not follow them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The profile owner's id (never shown to clients).
    pub user_id: UserId,
    /// Username.
    pub username: String,
    /// Bio, if any.
    pub bio: Option<String>,
    /// Image URL, if any.
    pub image: Option<String>,
    /// Whether the viewer follows this user; `false` for anonymous viewers.
    pub following: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_common_addresses_and_trims() {
        assert_eq!(
            Email::parse("jake@jake.jake").map(Email::into_inner),
            Ok("jake@jake.jake".into())
        );
        assert!(matches!(
            Email::parse(" jake@jake.jake"),
            Err(Invalid::Format { .. })
        ));
        assert!(matches!(
            Email::parse("jake@ja\u{1}ke.io"),
            Err(Invalid::Format { .. })
        ));
        assert_eq!(
            Email::parse("a.b+c@sub.example.org").map(|e| e.as_str().len()),
            Ok(21)
        );
    }

    #[test]
    fn email_rejects_blank_and_malformed() {
        assert_eq!(Email::parse("  "), Err(Invalid::Blank));
        for bad in [
            "jake",
            "@x.io",
            "jake@",
            "jake@localhost",
            "a b@c.d",
            "a@b@c.d",
            "a@.io",
            "a@io.",
        ] {
            assert!(
                matches!(Email::parse(bad), Err(Invalid::Format { .. })),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(Invalid::TooLong { max: 254 }));
    }

    #[test]
    fn username_rules() {
        assert!(Username::parse("auth_1732612345123_upd").is_ok());
        assert!(Username::parse("Jacob.B-1").is_ok());
        assert_eq!(Username::parse(""), Err(Invalid::Blank));
        assert!(matches!(
            Username::parse("has space"),
            Err(Invalid::Format { .. })
        ));
        assert!(matches!(
            Username::parse("a/b"),
            Err(Invalid::Format { .. })
        ));
        assert!(matches!(Username::parse(".."), Err(Invalid::Format { .. })));
        assert_eq!(
            Username::parse(&"x".repeat(65)),
            Err(Invalid::TooLong { max: 64 })
        );
        assert!(Username::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn password_follows_nist_lengths_without_composition_rules() {
        assert_eq!(Password::new_secret(""), Err(Invalid::Blank));
        assert_eq!(
            Password::new_secret("short7c"),
            Err(Invalid::TooShort { min: 8 })
        );
        assert!(Password::new_secret("bonjour1").is_ok());
        assert!(Password::new_secret(&"a".repeat(64)).is_ok());
        assert_eq!(
            Password::new_secret(&"a".repeat(129)),
            Err(Invalid::TooLong { max: 128 })
        );
        // Counted in characters, not bytes: eight two-byte letters are enough.
        assert!(Password::new_secret("éééééééé").is_ok());
        assert_eq!(Password::presented("x").map(|p| p.expose().len()), Ok(1));
    }

    #[test]
    fn password_never_prints() {
        let secret = Password::new_secret("correct horse").map(|p| format!("{p:?}"));
        assert_eq!(secret, Ok("Password(<redacted>)".into()));
        assert!(!format!("{:?}", PasswordHash::new("$argon2id$abc".into())).contains("argon"));
    }

    #[test]
    fn bio_and_image_normalise_blank_to_none() {
        assert_eq!(Bio::parse(""), Ok(None));
        assert!(Bio::parse("\0 nul").is_err());
        assert_eq!(
            Bio::parse(" hi ").map(|b| b.map(Bio::into_inner)),
            Ok(Some("hi".into()))
        );
        assert_eq!(ImageUrl::parse(""), Ok(None));
        assert!(ImageUrl::parse(" ").is_err());
        assert!(ImageUrl::parse("https://example.com/photo.jpg").is_ok_and(|i| i.is_some()));
        assert!(matches!(
            ImageUrl::parse("javascript:alert(1)"),
            Err(Invalid::Format { .. })
        ));
        assert!(matches!(
            ImageUrl::parse("not a url"),
            Err(Invalid::Format { .. })
        ));
    }
}
