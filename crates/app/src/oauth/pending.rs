//! What the OAuth flow keeps in the one-time store between two requests, and how it is
//! written there.
//!
//! A stored value is a *record*: a tag naming its kind and format version, a space, then
//! each field as `<length in bytes>:<bytes>`, e.g. `oauth-link/1 2:426:github3:a\nb`. Any
//! text fits in a field, line breaks and colons included. A value of another kind or
//! version (a pending login stored by an older release, say), cut short, with bytes left
//! over or with a malformed length reads as nothing: the flow refuses it like an expired
//! one.

use std::fmt::Write as _;

use conduit_domain::UserId;

use super::ReturnTo;

/// The tag of a [`PendingLogin`] record.
const LOGIN_TAG: &str = "oauth-login/1";
/// The tag of a [`PendingLink`] record.
const LINK_TAG: &str = "oauth-link/1";

/// A record being written: its tag, then each field length-prefixed.
struct Record(String);

impl Record {
    fn new(tag: &str) -> Self {
        Self(format!("{tag} "))
    }

    fn field(mut self, value: &str) -> Self {
        // Writing to a `String` cannot fail.
        let _ = write!(self.0, "{}:{value}", value.len());
        self
    }

    fn finish(self) -> String {
        self.0
    }
}

/// The fields of a stored record, read in order.
struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    /// The fields of `stored`, when it is a record tagged `tag`.
    fn read(tag: &str, stored: &'a str) -> Option<Self> {
        let rest = stored.strip_prefix(tag)?.strip_prefix(' ')?;
        Some(Self { rest })
    }

    /// The next field: its length in bytes (see [`canonical_number`]), `:`, then that
    /// many bytes, ending on a character boundary.
    fn next(&mut self) -> Option<&'a str> {
        let (length, rest) = self.rest.split_once(':')?;
        let length = canonical_number(length)?;
        let value = rest.get(..length)?;
        self.rest = rest.get(length..)?;
        Some(value)
    }

    /// Checks nothing is left after the last field.
    fn end(self) -> Option<()> {
        self.rest.is_empty().then_some(())
    }
}

/// `digits` as a number, when it is written the one way [`Record`] writes numbers: ASCII
/// digits, no sign, no leading zero.
fn canonical_number<N: std::str::FromStr + ToString>(digits: &str) -> Option<N> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: N = digits.parse().ok()?;
    (number.to_string() == digits).then_some(number)
}

/// Who a pending login is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// A sign-in: the identity's account gets a session.
    SignIn,
    /// A link: the identity waits for this signed-in user to confirm it.
    Link(UserId),
}

/// What waits under a `state` for the provider to send the browser back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingLogin {
    /// The provider's id.
    pub provider: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The OpenID Connect nonce (empty for plain OAuth 2.0).
    pub nonce: String,
    /// A sign-in or a link.
    pub flow: Flow,
    /// Where the browser goes back to.
    pub return_to: ReturnTo,
}

impl PendingLogin {
    /// The stored form: fields `provider`, `verifier`, `nonce`, `return_to`, then
    /// `sign-in`, or `link` and the user's id.
    pub fn encode(&self) -> String {
        let record = Record::new(LOGIN_TAG)
            .field(&self.provider)
            .field(&self.verifier)
            .field(&self.nonce)
            .field(self.return_to.as_str());
        match self.flow {
            Flow::SignIn => record.field("sign-in"),
            Flow::Link(user) => record.field("link").field(&user.0.to_string()),
        }
        .finish()
    }

    /// The pending login `stored` holds; `None` unless it is one, whole, in this format.
    pub fn decode(stored: &str) -> Option<Self> {
        let mut fields = Fields::read(LOGIN_TAG, stored)?;
        let provider = fields.next()?.to_owned();
        let verifier = fields.next()?.to_owned();
        let nonce = fields.next()?.to_owned();
        // Checked when it was stored.
        let return_to = ReturnTo(fields.next()?.to_owned());
        let flow = match fields.next()? {
            "sign-in" => Flow::SignIn,
            "link" => Flow::Link(UserId(canonical_number(fields.next()?)?)),
            _ => return None,
        };
        fields.end()?;
        Some(Self {
            provider,
            verifier,
            nonce,
            flow,
            return_to,
        })
    }
}

/// An identity waiting, under a link code, for the user who started the link to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingLink {
    /// The user who started the link.
    pub user: UserId,
    /// The provider's id.
    pub provider: String,
    /// The provider's subject, whatever its characters.
    pub subject: String,
}

impl PendingLink {
    /// The stored form: fields `user`, `provider`, `subject`.
    pub fn encode(&self) -> String {
        Record::new(LINK_TAG)
            .field(&self.user.0.to_string())
            .field(&self.provider)
            .field(&self.subject)
            .finish()
    }

    /// The pending link `stored` holds; `None` unless it is one, whole, in this format.
    pub fn decode(stored: &str) -> Option<Self> {
        let mut fields = Fields::read(LINK_TAG, stored)?;
        let user = UserId(canonical_number(fields.next()?)?);
        let provider = fields.next()?.to_owned();
        let subject = fields.next()?.to_owned();
        fields.end()?;
        Some(Self {
            user,
            provider,
            subject,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(flow: Flow) -> PendingLogin {
        PendingLogin {
            provider: "github".into(),
            verifier: "verifier:12".into(),
            nonce: String::new(),
            flow,
            return_to: ReturnTo("https://app.example/oauth?next=/settings 4:évé".into()),
        }
    }

    fn link() -> PendingLink {
        PendingLink {
            user: UserId(7),
            provider: "github".into(),
            subject: "odd\nsubject 3:é".into(),
        }
    }

    /// Every value `stored` becomes when cut short: none of them is a whole record.
    fn cut_short(stored: &str) -> impl Iterator<Item = &str> {
        (0..stored.len()).filter_map(|end| stored.get(..end))
    }

    #[test]
    fn a_pending_login_or_link_reads_back_as_stored() {
        for pending in [login(Flow::SignIn), login(Flow::Link(UserId(42)))] {
            assert_eq!(PendingLogin::decode(&pending.encode()), Some(pending));
        }
        assert_eq!(PendingLink::decode(&link().encode()), Some(link()));
    }

    #[test]
    fn the_stored_form_is_tagged_and_length_prefixed() {
        assert_eq!(
            link().encode(),
            "oauth-link/1 1:76:github16:odd\nsubject 3:é"
        );
        let pending = PendingLogin {
            provider: "p".into(),
            verifier: "v".into(),
            nonce: String::new(),
            flow: Flow::Link(UserId(5)),
            return_to: ReturnTo("r".into()),
        };
        assert_eq!(pending.encode(), "oauth-login/1 1:p1:v0:1:r4:link1:5");
    }

    #[test]
    fn a_cut_short_or_padded_value_is_not_read() {
        for pending in [login(Flow::SignIn), login(Flow::Link(UserId(42)))] {
            let stored = pending.encode();
            for short in cut_short(&stored) {
                assert_eq!(PendingLogin::decode(short), None, "{short:?}");
            }
            assert_eq!(PendingLogin::decode(&format!("{stored}0:")), None);
            assert_eq!(PendingLogin::decode(&format!("{stored} ")), None);
        }
        let stored = link().encode();
        for short in cut_short(&stored) {
            assert_eq!(PendingLink::decode(short), None, "{short:?}");
        }
        assert_eq!(PendingLink::decode(&format!("{stored}x")), None);
    }

    #[test]
    fn a_foreign_or_mangled_value_is_not_read() {
        let foreign = [
            "",
            "garbage",
            // The format before records: one line per field.
            "github\nverifier\nnonce\n\nhttps://app.example/",
            // Another kind or version of record.
            "oauth-link/1 1:76:github1:s",
            "oauth-login/2 1:p1:v1:n1:r7:sign-in",
            "oauth-login/1x1:p1:v1:n1:r7:sign-in",
            // Lengths that are not canonical, too long, or end inside a character.
            "oauth-login/1 +1:p1:v1:n1:r7:sign-in",
            "oauth-login/1 01:p1:v1:n1:r7:sign-in",
            "oauth-login/1 :p1:v1:n1:r7:sign-in",
            "oauth-login/1 99999999999999999999999:p",
            "oauth-login/1 1:é1:v1:n1:r7:sign-in",
            // An unknown flow, or a link without a user id.
            "oauth-login/1 1:p1:v1:n1:r4:sign",
            "oauth-login/1 1:p1:v1:n1:r4:link",
            "oauth-login/1 1:p1:v1:n1:r4:link2:+5",
            "oauth-login/1 1:p1:v1:n1:r4:link1:x",
        ];
        for stored in foreign {
            assert_eq!(PendingLogin::decode(stored), None, "{stored:?}");
        }
        let foreign = [
            "7\ngithub\nsubject",
            "oauth-login/1 1:p1:v1:n1:r7:sign-in",
            "oauth-link/1 1:x6:github1:s",
            // A negative id: never issued.
            "oauth-link/1 2:-76:github1:s",
        ];
        for stored in foreign {
            assert_eq!(PendingLink::decode(stored), None, "{stored:?}");
        }
    }
}
